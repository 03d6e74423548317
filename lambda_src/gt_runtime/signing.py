"""Signed, expiring tokens (HMAC-SHA256) for task pages, submits and data URLs.

A token is ``<base64url JSON payload>.<base64url MAC>``; the MAC covers a purpose
(``task``, ``data``) and the payload, so a token made for one use is refused for
another. Payloads carry ``exp`` (epoch seconds). Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class SignatureError(ValueError):
    """A token that is malformed, forged, for another purpose, or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Makes and checks tokens with one secret key (32 random bytes, kept by the host)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the signing key needs at least 32 bytes")
        self._key = key

    def _mac(self, purpose: str, body: str) -> str:
        message = f"{purpose}.{body}".encode("ascii")
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, Any], *, expires: float) -> str:
        """A token for ``purpose`` holding ``payload``, valid until ``expires``."""
        body = _b64(json.dumps({**payload, "exp": int(expires)}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str, *, now: float) -> dict[str, Any]:
        """The payload of a valid, unexpired token for ``purpose``; ``SignatureError`` else."""
        body, _, mac = token.partition(".")
        if not body or not mac or not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise SignatureError("the link is not valid (its signature does not match)")
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            raise SignatureError("the link is not valid (unreadable)") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            raise SignatureError("the link is not valid (no expiry)")
        if payload["exp"] <= now:
            raise SignatureError("the link has expired")
        return payload
