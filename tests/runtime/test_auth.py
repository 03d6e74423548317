"""Local accounts: one-time links, passwords (argon2), sessions that expire, CSRF, the
requester's token file."""

from __future__ import annotations

import os
import stat

import pytest

from gt_constructs.runtime.auth import (
    Accounts,
    AuthError,
    check_csrf,
    requester_token,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path, clock) -> Accounts:
    return Accounts(tmp_path / "auth.sqlite3", clock=clock, session_seconds=3600, link_seconds=600)


def test_a_one_time_link_signs_in_once(accounts: Accounts) -> None:
    accounts.add_worker("Ana@Example.com", ["team-a"])
    token = accounts.new_link_token("ana@example.com")
    session = accounts.redeem_link(token)
    assert session.account.email == "ana@example.com"
    assert session.account.teams == ("team-a",)
    assert accounts.session(session.id) == session
    with pytest.raises(AuthError, match="used already"):
        accounts.redeem_link(token)


def test_a_link_expires(accounts: Accounts, clock: Clock) -> None:
    accounts.add_worker("bo@example.com", ["t"])
    token = accounts.new_link_token("bo@example.com")
    clock.now += 601
    assert accounts.link_account(token) is None
    with pytest.raises(AuthError):
        accounts.redeem_link(token)


def test_sessions_expire_and_end_at_sign_out(accounts: Accounts, clock: Clock) -> None:
    accounts.add_worker("c@example.com", ["t"])
    first = accounts.redeem_link(accounts.new_link_token("c@example.com"))
    second = accounts.redeem_link(accounts.new_link_token("c@example.com"))
    accounts.sign_out(first.id)
    assert accounts.session(first.id) is None
    assert accounts.session(second.id) is not None
    clock.now += 3601
    assert accounts.session(second.id) is None


def test_passwords_are_argon2_hashes_and_checked(accounts: Accounts, tmp_path) -> None:
    accounts.add_worker("d@example.com", ["t"])
    accounts.set_password("d@example.com", "correct horse battery")
    row = accounts._db.execute("SELECT password_hash FROM accounts").fetchone()
    assert row[0].startswith("$argon2id$") and "correct horse" not in row[0]
    assert accounts.sign_in_password("D@example.com", "correct horse battery").account.email
    with pytest.raises(AuthError, match="wrong e-mail or password"):
        accounts.sign_in_password("d@example.com", "wrong horse battery")
    with pytest.raises(AuthError, match="wrong e-mail or password"):
        accounts.sign_in_password("nobody@example.com", "correct horse battery")
    with pytest.raises(AuthError, match="at least 10"):
        accounts.set_password("d@example.com", "short")


def test_secrets_are_stored_as_hashes_only(accounts: Accounts) -> None:
    accounts.add_worker("e@example.com", ["t"])
    token = accounts.new_link_token("e@example.com")
    session = accounts.redeem_link(accounts.new_link_token("e@example.com"))
    dump = "\n".join(accounts._db.iterdump())
    assert token not in dump and session.id not in dump


def test_csrf_token_is_per_session(accounts: Accounts) -> None:
    accounts.add_worker("f@example.com", ["t"])
    one = accounts.redeem_link(accounts.new_link_token("f@example.com"))
    two = accounts.redeem_link(accounts.new_link_token("f@example.com"))
    assert check_csrf(one, one.csrf)
    assert not check_csrf(one, two.csrf)
    assert not check_csrf(one, None)
    assert not check_csrf(one, "")


def test_bad_input_is_one_clear_error(accounts: Accounts) -> None:
    with pytest.raises(AuthError, match="not an e-mail address"):
        accounts.add_worker("not-an-address", ["t"])
    with pytest.raises(AuthError, match="at least one team"):
        accounts.add_worker("g@example.com", [])
    with pytest.raises(AuthError, match="add the worker first"):
        accounts.new_link_token("nobody@example.com")
    assert accounts.workers() == []


def test_the_requester_token_file_is_private_and_survives_a_restart(tmp_path, clock) -> None:
    accounts = Accounts(tmp_path / "auth.sqlite3", clock=clock)
    token = requester_token(accounts, tmp_path)
    path = tmp_path / "requester-token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().strip() == token
    assert accounts.bearer(token).is_requester
    accounts.close()
    again = Accounts(tmp_path / "auth.sqlite3", clock=clock)
    assert requester_token(again, tmp_path) == token
    assert again.bearer("forged") is None


def test_a_worker_cannot_become_the_requester(accounts: Accounts) -> None:
    accounts.ensure_requester()
    with pytest.raises(AuthError, match="already the requester"):
        accounts.add_worker("requester@localhost", ["t"])
