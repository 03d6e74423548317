"""S3 access for the post-annotation function, in either payload-access mode.

``ASSUME_EXECUTION_ROLE``: assume the job's execution role (``roleArn`` of the
event) and read/write with its credentials, as the original blog post does.
``DIRECT_READ``: the function's own role reads the output prefix.

Injection point (the labeling runtime): inside ``with route_s3_to(target):``
every ``S3Access`` of the current thread reads and writes through ``target``
(``read(uri) -> bytes`` and ``write(uri, data, content_type)``, the runtime's
``Blobs``) instead of boto3, whatever the mode. It is a context variable, so it
reaches only the code running inside the ``with`` (one invocation), never other
threads; in Lambda it is never set and nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import boto3

ASSUME_EXECUTION_ROLE = "ASSUME_EXECUTION_ROLE"
DIRECT_READ = "DIRECT_READ"

#: Assumed-role clients by role ARN, reused while the credentials last (warm starts).
_CLIENTS: dict[str, tuple[float, Any]] = {}
_DEFAULT_CLIENT: Any = None
#: Where S3 reads and writes go instead of boto3 (``route_s3_to``); ``None``: boto3.
_ROUTE: ContextVar[Any] = ContextVar("gt_annotation_s3_route", default=None)


@contextmanager
def route_s3_to(target: Any) -> Iterator[None]:
    """Inside the ``with``, ``S3Access`` uses ``target.read(uri)`` / ``target.write(uri,
    data, content_type)`` instead of S3 (the labeling runtime's blob store)."""
    token = _ROUTE.set(target)
    try:
        yield
    finally:
        _ROUTE.reset(token)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key); a clear error otherwise."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {str(uri)[:100]!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or not key:
        raise ValueError(f"an s3:// URI needs a bucket and a key: {uri[:100]!r}")
    return bucket, unquote(key)


def _own_client() -> Any:
    global _DEFAULT_CLIENT
    if _DEFAULT_CLIENT is None:
        _DEFAULT_CLIENT = boto3.client("s3")
    return _DEFAULT_CLIENT


def _assumed_client(role_arn: str) -> Any:
    cached = _CLIENTS.get(role_arn)
    if cached and cached[0] > time.time() + 300:
        return cached[1]
    credentials = boto3.client("sts").assume_role(
        RoleArn=role_arn, RoleSessionName="gt-constructs-consolidation"
    )["Credentials"]
    client = boto3.client(
        "s3",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    expiry = credentials["Expiration"]
    _CLIENTS[role_arn] = (expiry.timestamp() if hasattr(expiry, "timestamp") else 0.0, client)
    return client


@dataclass
class S3Access:
    """Reads payloads and answers, writes consolidated masks."""

    mode: str
    role_arn: str | None

    def __post_init__(self) -> None:
        if self.mode not in (ASSUME_EXECUTION_ROLE, DIRECT_READ):
            raise ValueError(
                f"payload access {self.mode!r} is unknown; allowed: "
                f"{ASSUME_EXECUTION_ROLE}, {DIRECT_READ}"
            )

    @property
    def client(self) -> Any:
        if self.mode == ASSUME_EXECUTION_ROLE:
            if not self.role_arn:
                raise ValueError("payload access ASSUME_EXECUTION_ROLE needs roleArn in the event")
            return _assumed_client(self.role_arn)
        return _own_client()

    def read_text(self, uri: str) -> str:
        bucket, key = split_s3_uri(uri)
        route = _ROUTE.get()
        if route is not None:
            return str(route.read(uri).decode("utf-8"))
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return str(body.decode("utf-8"))

    def write_bytes(self, uri: str, data: bytes, content_type: str) -> None:
        bucket, key = split_s3_uri(uri)
        route = _ROUTE.get()
        if route is not None:
            route.write(uri, data, content_type)
            return
        self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


def mask_uri(output_uri: str, job_name: str, dataset_object_id: str) -> str:
    """Where the consolidated mask of one object goes (under the job's output prefix).

    The object id is reduced to ``[A-Za-z0-9._-]`` so no id can climb out of
    the prefix or name another object's key (Ground Truth's ids are digits).
    """
    safe = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in dataset_object_id
    )
    if not safe.strip("."):
        safe = safe.replace(".", "_") or "_"
    return f"{output_uri.rstrip('/')}/{job_name}/consolidated-masks/{safe}.png"


@dataclass
class S3PngWriter:
    """A ``model.PngWriter``: puts a consolidated mask under the job's output prefix.

    It writes with the same credentials as the payload is read: with
    ``ASSUME_EXECUTION_ROLE`` the execution role writes to its own output
    prefix; with ``DIRECT_READ`` the function's role (granted put on it).
    """

    access: S3Access
    output_uri: str
    job_name: str

    def __post_init__(self) -> None:
        split_s3_uri(self.output_uri.rstrip("/") + "/x")  # a clear error for a bad GT_OUTPUT_URI

    def __call__(self, dataset_object_id: str, data: bytes) -> str:
        uri = mask_uri(self.output_uri, self.job_name, dataset_object_id)
        self.access.write_bytes(uri, data, "image/png")
        return uri


def reset_clients() -> None:
    """Forget cached clients (tests switch between mocked accounts)."""
    global _DEFAULT_CLIENT
    _DEFAULT_CLIENT = None
    _CLIENTS.clear()
