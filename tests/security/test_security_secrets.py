"""Secrets at rest (Fernet), password rules, login throttle arithmetic, who manages whom."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.domain.states import RunStatus
from app.errors import InvalidInput
from app.secrets import KEY_ENV, KEY_FILE, SecretError, decrypt_secret, encrypt_secret
from app.security import (
    LoginThrottle,
    check_password_strength,
    may_grant,
    may_manage,
    password_problem,
    slowed_until,
    submission_status,
)

NO_ENV: dict[str, str] = {}


def test_a_secret_round_trips_and_is_not_stored_in_clear(tmp_path: Path) -> None:
    token = encrypt_secret("hunter2-webhook", tmp_path, NO_ENV)
    assert "hunter2" not in token
    assert decrypt_secret(token, tmp_path, NO_ENV) == "hunter2-webhook"
    assert encrypt_secret("hunter2-webhook", tmp_path, NO_ENV) != token  # fresh IV each time


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    token = encrypt_secret("s", data_dir, NO_ENV)
    key = data_dir / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_bytes()
    assert decrypt_secret(token, data_dir, NO_ENV) == "s"
    assert key.read_bytes() == first
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE]


def test_concurrent_first_uses_agree_on_one_key(tmp_path: Path) -> None:
    tokens: list[str] = []
    threads = [
        threading.Thread(target=lambda: tokens.append(encrypt_secret("same", tmp_path, NO_ENV)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {decrypt_secret(t, tmp_path, NO_ENV) for t in tokens} == {"same"}


def test_a_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    encrypt_secret("s", tmp_path, NO_ENV)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        encrypt_secret("s", tmp_path, NO_ENV)


def test_the_environment_key_wins_and_rotates(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = encrypt_secret("s", tmp_path, {KEY_ENV: old})
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(SecretError):
        decrypt_secret(token, tmp_path, {KEY_ENV: new})
    assert decrypt_secret(token, tmp_path, {KEY_ENV: f"{new},{old}"}) == "s"
    with pytest.raises(SecretError, match="not a Fernet key"):
        encrypt_secret("s", tmp_path, {KEY_ENV: "too-short"})
    with pytest.raises(SecretError, match="cannot be decrypted"):
        decrypt_secret("garbage", tmp_path, {KEY_ENV: old})


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Aa1!Aa1!A", "at least 10"),
        ("abcdefghij", "two kinds"),
        ("ABCDEFGHIJ", "two kinds"),
        ("!!!!!!!!!!", "two kinds"),
        ("Alice-Smith", "username"),
        ("x" * 1001 + "1", "at most"),
    ],
)
def test_weak_passwords(password: str, problem: str) -> None:
    found = password_problem(password, "alice-smith")
    assert found is not None and problem in found
    with pytest.raises(InvalidInput) as refused:
        check_password_strength(password, "alice-smith")
    assert refused.value.field == "password"


@pytest.mark.parametrize("password", ["abcdefghi1", "correct horse battery", "Zürich-Gare"])
def test_good_enough_passwords(password: str) -> None:
    assert password_problem(password, "alice") is None


def test_the_throttle_slows_an_account_up_to_a_cap() -> None:
    throttle = LoginThrottle()
    waits = [throttle.wait_after(n) for n in range(13)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]  # never a long lock
    assert throttle.delay_steps() == [(n, waits[n]) for n in range(3, 10)]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert slowed_until(throttle, 2, now) is None
    assert slowed_until(throttle, 4, now) == now + timedelta(seconds=2)
    assert throttle.wait_after(10**6) == throttle.max_delay


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        ("superadmin", "superadmin", True),
        ("superadmin", "admin", True),
        ("admin", "superadmin", False),
        ("admin", "admin", False),
        ("admin", "operator", True),
        ("admin", "viewer", True),
        ("operator", "viewer", False),
        ("user", "viewer", False),
        ("nonsense", "viewer", False),
    ],
)
def test_who_manages_whom(actor: str, target: str, allowed: bool) -> None:
    assert may_manage(actor, target) is allowed


def test_grants_and_submissions() -> None:
    assert may_grant(["*"], ["*", "a"]) and may_grant(["a", "b"], ["a"])
    assert not may_grant(["a"], ["*"]) and not may_grant(["a"], ["a", "b"])
    assert submission_status("user") is RunStatus.PENDING_APPROVAL
    assert submission_status("viewer") is RunStatus.PENDING_APPROVAL
    assert submission_status("operator") is RunStatus.ACTIVE
