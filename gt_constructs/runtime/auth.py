"""Local accounts of the labeling runtime: the requester, workers, sign-in and sessions.

What the ``serve`` host needs to know who is calling (on AWS, Cognito does this):

- **Accounts**: one requester and the workers the requester adds (by e-mail, each in
  one or more teams; a team is the last segment of the job's ``WorkteamArn``).
- **Sign-in**: a one-time link (a random token, stored as its SHA-256, valid once and
  for ``link_seconds``) or a password (argon2id hashes, ``argon2-cffi``).
- **Sessions**: server-side rows in a SQLite file beside the job's store
  (``auth.sqlite3``); the cookie holds a random id, the table its SHA-256. A session
  ends ``session_seconds`` after sign-in, or at sign-out.
- **CSRF**: each session has its own random token; forms carry it in a hidden field
  and state-changing API calls in the ``X-CSRF-Token`` header (``check_csrf``).
- **Requester token**: a bearer token for scripts (``simulate --against``), written to
  ``<dir>/requester-token`` with mode 0600; only its SHA-256 is stored.

Everything random comes from ``secrets``; every comparison of a secret is by hash
lookup or ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

REQUESTER = "requester"
WORKER = "worker"
#: The requester's account name (it signs in with its token file or link, not by e-mail).
REQUESTER_EMAIL = "requester@localhost"
#: How long a session lasts after sign-in.
SESSION_SECONDS = 12 * 3600
#: How long a one-time sign-in link may wait to be used.
LINK_SECONDS = 7 * 24 * 3600
MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    email TEXT PRIMARY KEY,
    sub TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    teams TEXT NOT NULL,
    password_hash TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sign_in_links (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL REFERENCES accounts(email),
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL REFERENCES accounts(email),
    csrf TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bearer_tokens (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL REFERENCES accounts(email)
);
"""


class AuthError(Exception):
    """A sign-in that cannot succeed; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Account:
    """A requester or a worker."""

    email: str
    #: Stable, random identifier (the worker's ``sub`` in the output's identityData).
    sub: str
    role: str
    teams: tuple[str, ...]
    has_password: bool = False

    @property
    def is_requester(self) -> bool:
        return self.role == REQUESTER


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the cookie value (``id``), whose account, its CSRF token."""

    id: str
    account: Account
    csrf: str
    expires: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    """The e-mail as accounts are keyed (trimmed, lower case); ``AuthError`` (400) if not one."""
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise AuthError(f"{email!r} is not an e-mail address (name@domain)", status=400)
    return value


class Accounts:
    """Accounts, sign-in links, sessions and bearer tokens in one SQLite file.

    Safe to share between threads (one connection behind a lock; every operation is
    a short transaction). ``clock`` is injectable for tests of expiry.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        session_seconds: float = SESSION_SECONDS,
        link_seconds: float = LINK_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.session_seconds = session_seconds
        self.link_seconds = link_seconds
        self._hasher = PasswordHasher()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- accounts --------------------------------------------------------------------------
    def _row_account(self, row: tuple[str, str, str, str, str | None]) -> Account:
        email, sub, role, teams, password_hash = row
        return Account(email, sub, role, tuple(json.loads(teams)), password_hash is not None)

    def _get(self, email: str) -> Account | None:
        row = self._db.execute(
            "SELECT email, sub, role, teams, password_hash FROM accounts WHERE email = ?", (email,)
        ).fetchone()
        return self._row_account(row) if row else None

    def get(self, email: str) -> Account | None:
        """The account of ``email``, if there is one."""
        with self._lock:
            return self._get(normalize_email(email))

    def by_sub(self, sub: str) -> Account | None:
        with self._lock:
            row = self._db.execute(
                "SELECT email, sub, role, teams, password_hash FROM accounts WHERE sub = ?", (sub,)
            ).fetchone()
        return self._row_account(row) if row else None

    def _upsert(self, email: str, role: str, teams: Iterable[str]) -> Account:
        existing = self._get(email)
        if existing is not None and existing.role != role:
            raise AuthError(f"{email} is already the {existing.role}", status=409)
        merged = sorted({*(existing.teams if existing else ()), *teams})
        if existing is None:
            self._db.execute(
                "INSERT INTO accounts (email, sub, role, teams, created) VALUES (?, ?, ?, ?, ?)",
                (email, str(uuid.uuid4()), role, json.dumps(merged), self.clock()),
            )
        else:
            self._db.execute(
                "UPDATE accounts SET teams = ? WHERE email = ?", (json.dumps(merged), email)
            )
        account = self._get(email)
        assert account is not None
        return account

    def add_worker(self, email: str, teams: Sequence[str]) -> Account:
        """Add a worker to ``teams`` (created if new; teams are added, never removed)."""
        address = normalize_email(email)
        if not teams or not all(isinstance(t, str) and t for t in teams):
            raise AuthError("a worker needs at least one team name", status=400)
        with self._lock:
            return self._upsert(address, WORKER, teams)

    def ensure_requester(self) -> Account:
        """The requester's account (created on first use)."""
        with self._lock:
            return self._upsert(REQUESTER_EMAIL, REQUESTER, ())

    def workers(self) -> list[Account]:
        with self._lock:
            rows = self._db.execute(
                "SELECT email, sub, role, teams, password_hash FROM accounts "
                "WHERE role = ? ORDER BY email",
                (WORKER,),
            ).fetchall()
        return [self._row_account(row) for row in rows]

    # -- one-time links --------------------------------------------------------------------
    def new_link_token(self, email: str) -> str:
        """A one-time sign-in token for an existing account (the link is the host's)."""
        address = normalize_email(email)
        token = secrets.token_urlsafe(32)
        with self._lock:
            if self._get(address) is None:
                raise AuthError(f"no account {address}: add the worker first", status=404)
            self._db.execute(
                "INSERT INTO sign_in_links (token_hash, email, expires) VALUES (?, ?, ?)",
                (_digest(token), address, self.clock() + self.link_seconds),
            )
        return token

    def link_account(self, token: str) -> Account | None:
        """Whose link this is, without using it (``None``: unknown, used or expired)."""
        with self._lock:
            row = self._db.execute(
                "SELECT email, expires FROM sign_in_links WHERE token_hash = ?", (_digest(token),)
            ).fetchone()
            if row is None or row[1] <= self.clock():
                return None
            return self._get(row[0])

    def redeem_link(self, token: str) -> Session:
        """Use a one-time link: it is deleted, and a new session begins."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "DELETE FROM sign_in_links WHERE token_hash = ? RETURNING email, expires",
                    (_digest(token),),
                ).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if row is None or row[1] <= self.clock():
                raise AuthError(
                    "this sign-in link is not valid: it was used already, has expired, or was "
                    "mistyped; ask the requester for a new one"
                )
            return self._new_session(row[0])

    # -- passwords --------------------------------------------------------------------------
    def set_password(self, email: str, password: str) -> None:
        """Set (or change) an account's password; stored as an argon2id hash."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AuthError(
                f"a password needs at least {MIN_PASSWORD_LENGTH} characters", status=400
            )
        address = normalize_email(email)
        hashed = self._hasher.hash(password)
        with self._lock:
            if self._get(address) is None:
                raise AuthError(f"no account {address}", status=404)
            self._db.execute(
                "UPDATE accounts SET password_hash = ? WHERE email = ?", (hashed, address)
            )

    def sign_in_password(self, email: str, password: str) -> Session:
        """A new session when the password is right; one message for every failure."""
        failure = AuthError("wrong e-mail or password")
        try:
            address = normalize_email(email)
        except AuthError:
            raise failure from None
        with self._lock:
            row = self._db.execute(
                "SELECT password_hash FROM accounts WHERE email = ?", (address,)
            ).fetchone()
        if row is None or row[0] is None:
            # Same work as a real check, so timing does not tell which accounts exist.
            self._hasher.hash(password)
            raise failure
        try:
            self._hasher.verify(row[0], password)
        except (VerificationError, InvalidHashError):
            raise failure from None
        with self._lock:
            return self._new_session(address)

    # -- sessions -----------------------------------------------------------------------------
    def _new_session(self, email: str) -> Session:
        account = self._get(email)
        if account is None:
            raise AuthError("the account no longer exists")
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = self.clock() + self.session_seconds
        self._db.execute(
            "INSERT INTO sessions (id_hash, email, csrf, expires) VALUES (?, ?, ?, ?)",
            (_digest(session_id), email, csrf, expires),
        )
        return Session(session_id, account, csrf, expires)

    def session(self, session_id: str | None) -> Session | None:
        """The live session of a cookie value (``None``: unknown or expired; expired ones
        are deleted)."""
        if not session_id:
            return None
        key = _digest(session_id)
        with self._lock:
            row = self._db.execute(
                "SELECT email, csrf, expires FROM sessions WHERE id_hash = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            if row[2] <= self.clock():
                self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return None
            account = self._get(row[0])
        if account is None:
            return None
        return Session(session_id, account, row[1], row[2])

    def sign_out(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))

    def purge_expired(self) -> int:
        """Delete expired sessions and links; returns how many rows went."""
        now = self.clock()
        with self._lock:
            gone = self._db.execute("DELETE FROM sessions WHERE expires <= ?", (now,)).rowcount
            gone += self._db.execute(
                "DELETE FROM sign_in_links WHERE expires <= ?", (now,)
            ).rowcount
        return int(gone)

    # -- bearer tokens (scripts) -------------------------------------------------------------
    def new_bearer_token(self, email: str) -> str:
        """A token that authenticates API calls as ``email`` (``Authorization: Bearer``)."""
        address = normalize_email(email)
        token = secrets.token_urlsafe(32)
        with self._lock:
            if self._get(address) is None:
                raise AuthError(f"no account {address}", status=404)
            self._db.execute(
                "INSERT INTO bearer_tokens (token_hash, email) VALUES (?, ?)",
                (_digest(token), address),
            )
        return token

    def bearer(self, token: str | None) -> Account | None:
        if not token:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT email FROM bearer_tokens WHERE token_hash = ?", (_digest(token),)
            ).fetchone()
            return self._get(row[0]) if row else None


def check_csrf(session: Session, given: str | None) -> bool:
    """Whether ``given`` is the session's CSRF token."""
    return bool(given) and hmac.compare_digest(session.csrf, str(given))


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner may read (mode 0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, 0o600)


def requester_token(accounts: Accounts, directory: Path) -> str:
    """The requester's bearer token, kept in ``<directory>/requester-token`` (0600).

    Read back when the file holds a token the accounts know (a restart keeps it),
    else a new one is made and written.
    """
    accounts.ensure_requester()
    path = directory / "requester-token"
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        account = accounts.bearer(token)
        if account is not None and account.is_requester:
            return token
    token = accounts.new_bearer_token(REQUESTER_EMAIL)
    write_secret_file(path, token + "\n")
    return token
