"""Security rules without I/O: password hashing (argon2) and strength, opaque tokens stored
only as SHA-256 digests, login throttling, and who may manage whom."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.roles import Role, role_at_least
from app.domain.states import RunStatus
from app.errors import InvalidInput

_hasher = PasswordHasher()

# The web session's cookie: pages and the API's own docs page accept it.
SESSION_COOKIE = "almanac_session"
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
    return common_password_problem(password, username)


def common_password_problem(password: str, username: str) -> str | None:
    """Guessers try the most common passwords first, and the username with them."""
    folded, name = password.casefold(), username.casefold()
    common = common_passwords()
    if folded in common:
        return "is one of the most common passwords: choose another"
    if len(name) >= _MIN_NAME_IN_PASSWORD and name in folded:
        rest = "".join(c for c in folded.replace(name, "") if c not in _SEPARATORS)
        if len(rest) < _MIN_REST or rest in common or rest.isdigit():
            return "is the username with a common word or number: choose another"
    return None


_MIN_NAME_IN_PASSWORD = 3
_MIN_REST = 4
_SEPARATORS = " -_.,;:!?@#$%&*+=~/\\|'\"()[]{}<>^`"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list (app/data/common_passwords.txt, lower case, one a line)."""
    text = resources.files("app").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


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
    """How failed logins are held back: the account is slowed, the source address locked.

    Failures in a row on an account make each further try wait: none for the first
    `slow_after`, then 1 s, 2 s, 4 s, ... up to `max_delay` (answered 429 with Retry-After).
    The account is never locked by failures (anyone may type its name: a lock would be a
    denial of service on its holder); a good password after the wait clears the count.
    One source address may fail `source_limit` times within `source_window` seconds; the
    failure that reaches the limit locks that address for `source_lock_seconds`, even for a
    right password.
    """

    slow_after: int = 3
    max_delay: float = 60.0
    source_limit: int = 10
    source_window: float = 15 * 60
    source_lock_seconds: float = 15 * 60

    def wait_after(self, failures: int) -> float:
        if failures < self.slow_after:
            return 0.0
        return min(self.max_delay, float(2 ** min(failures - self.slow_after, 62)))

    def delay_steps(self) -> list[tuple[int, float]]:
        """(failures, wait) from the first slowed failure until the cap; beyond: the cap."""
        steps: list[tuple[int, float]] = []
        failures = self.slow_after
        while not steps or steps[-1][1] < self.max_delay:
            steps.append((failures, self.wait_after(failures)))
            failures += 1
        return steps


def source_key(address: str | None) -> str:
    """What the source throttle counts on: the IPv4 address, or the IPv6 /64 (one host
    commonly holds a whole /64, so single v6 addresses would be free to rotate)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip)


def retry_after_seconds(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def slowed_until(throttle: LoginThrottle, failures: int, now: datetime) -> datetime | None:
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
