"""Security rules without I/O: password hashing (argon2) and strength, opaque tokens stored
only as SHA-256 digests, login throttling, and who may manage whom."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.roles import Role, role_at_least
from app.domain.states import RunStatus
from app.errors import InvalidInput

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1000


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _char_class(char: str) -> str:
    if char.islower():
        return "lower"
    if char.isupper():
        return "upper"
    if char.isdigit():
        return "digit"
    return "other"


def password_problem(password: str, username: str) -> str | None:
    """Why `password` is too weak for `username`, or None when it will do."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters long"
    if len({_char_class(c) for c in password}) < 2:
        return "must mix at least two kinds of characters (lower case, upper case, digits, symbols)"
    if password.casefold() == username.casefold():
        return "must not be the username"
    return None


def check_password_strength(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput("password", problem)


def new_token(prefix: str) -> str:
    """A random bearer token; the prefix says what kind it is when it shows up in a log."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast digest is enough (no need for a slow KDF).
    return hashlib.sha256(token.encode()).hexdigest()


def random_password() -> str:
    return secrets.token_urlsafe(15)


@dataclass(frozen=True)
class LoginThrottle:
    """Failed logins in a row slow an account down, then lock it.

    After `slow_after` failures each further try must wait 1 s, 2 s, 4 s, ...; after
    `lock_after` failures the account is locked for `lock_seconds`, and every failure after
    that locks it again, until a good password (or an admin's reset) clears the count.
    """

    slow_after: int = 3
    lock_after: int = 5
    lock_seconds: float = 15 * 60

    def wait_after(self, failures: int) -> float:
        if failures >= self.lock_after:
            return self.lock_seconds
        if failures >= self.slow_after:
            return float(2 ** (failures - self.slow_after))
        return 0.0

    def locked(self, failures: int) -> bool:
        return failures >= self.lock_after


def retry_after_seconds(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def lock_until(throttle: LoginThrottle, failures: int, now: datetime) -> datetime | None:
    wait = throttle.wait_after(failures)
    return now + timedelta(seconds=wait) if wait else None


def may_manage(actor_role: str, target_role: str) -> bool:
    """A superadmin manages everyone; an admin manages operators, users and viewers."""
    if role_at_least(actor_role, Role.SUPERADMIN):
        return True
    return role_at_least(actor_role, Role.ADMIN) and not role_at_least(target_role, Role.ADMIN)


def may_grant(actor_instances: Iterable[str], requested: Iterable[str]) -> bool:
    """Nobody grants an instance they do not hold themselves (`*` only from `*`)."""
    held = set(actor_instances)
    return "*" in held or set(requested) <= held


def submission_status(role: str) -> RunStatus:
    """A run submitted by a `user` (or weaker) waits for an operator's approval."""
    return RunStatus.ACTIVE if role_at_least(role, Role.OPERATOR) else RunStatus.PENDING_APPROVAL
