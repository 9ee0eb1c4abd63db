"""Credentials at rest (integration passwords, webhook secrets): Fernet-encrypted strings.

The key comes from `ALMANAC_SECRET_KEY` (a Fernet key; several comma-separated keys rotate:
the first encrypts, any of them decrypts) or else from `<data_dir>/secret.key`, created on
first use with mode 0600. A secret is written encrypted and never handed back by the API:
only the code that uses it (an alert sender) decrypts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.errors import AlmanacError

KEY_ENV = "ALMANAC_SECRET_KEY"
KEY_FILE = "secret.key"


class SecretError(AlmanacError):
    """No usable key, or a secret that this key cannot decrypt."""


def _parse_keys(text: str, where: str) -> list[Fernet]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise SecretError(f"{where}: no key")
    try:
        return [Fernet(k.encode()) for k in keys]
    except ValueError as exc:
        raise SecretError(f"{where}: not a Fernet key (32 url-safe base64 bytes)") from exc


def _read_key_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"{path} is open to other users: chmod 600 it")
    return path.read_text().strip()


def _create_key_file(path: Path) -> None:
    """Write a fresh key atomically: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _key_text(data_dir: Path, environ: Mapping[str, str] | None) -> tuple[str, str]:
    """The configured keys and where they came from (the file is made on first use)."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV, "").strip():
        return env[KEY_ENV], KEY_ENV
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path), str(path)


def key_ring(data_dir: Path, environ: Mapping[str, str] | None = None) -> MultiFernet:
    return MultiFernet(_parse_keys(*_key_text(data_dir, environ)))


def derived_key(data_dir: Path, purpose: str, environ: Mapping[str, str] | None = None) -> bytes:
    """A key for one purpose (e.g. "csrf") made from the server's first secret key: every
    replica sharing the key derives the same one, and no purpose can stand in for another."""
    text, where = _key_text(data_dir, environ)
    _parse_keys(text, where)  # refuse a malformed key here as everywhere else
    first = next(k.strip() for k in text.split(",") if k.strip())
    return hmac.new(first.encode(), b"almanac:" + purpose.encode(), hashlib.sha256).digest()


def encrypt_secret(plain: str, data_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    return key_ring(data_dir, environ).encrypt(plain.encode()).decode("ascii")


def decrypt_secret(token: str, data_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    try:
        return key_ring(data_dir, environ).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise SecretError("secret cannot be decrypted with the configured key") from exc
