"""Reading definition files from a git repository with the real `git`, safely.

Each source has a private bare cache under the data directory; a pull fetches one branch
(shallow) into it and reads the files of one commit from there, without a work tree. git runs
with argument lists only, no hooks, no prompts, no system or user configuration, and only the
file, https, http, ssh and git transports (never `ext::`). Credentials travel in the
environment (`http.extraHeader`), never on a command line or in a stored URL.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from app.definitions.files import JSON_SUFFIXES, YAML_SUFFIXES, SourceFile
from app.errors import AlmanacError

GIT_TIMEOUT_SECONDS = 120
_REF = "refs/almanac/head"
_CREDENTIALS_IN_URL = re.compile(r"(?<=://)[^/@\s]+@")


class GitError(AlmanacError):
    """The repository cannot be read (not found, no such branch, refused credentials...)."""


def scrub(text: str, secret: str | None = None) -> str:
    """Text safe to store and show: no credentials, however git spelled them."""
    text = _CREDENTIALS_IN_URL.sub("***@", text)
    if secret:
        for part in {secret, *secret.split(":", 1)}:
            if len(part) >= 4:
                text = text.replace(part, "***")
    return text


def _environment(credentials: str | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ALLOW_PROTOCOL": "file:https:http:ssh:git",
        "LC_ALL": "C",
    }
    if credentials:
        token = base64.b64encode(credentials.encode()).decode("ascii")
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
        }
    return env


def _git(
    cache: Path,
    args: Sequence[str],
    *,
    credentials: str | None = None,
    stdin: bytes | None = None,
) -> bytes:
    command = [
        "git",
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "credential.helper=",
        "-c",
        "protocol.file.allow=always",
        "-C",
        str(cache),
        *args,
    ]
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            env=_environment(credentials),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS} s") from None
    except OSError as exc:
        raise GitError(f"git cannot run: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(scrub("; ".join(message[-3:]) or f"git {args[0]} failed", credentials))
    return done.stdout


def fetch(cache: Path, url: str, branch: str, credentials: str | None = None) -> str:
    """Fetch `branch` of `url` into the cache; the commit it points at."""
    if not (cache / "HEAD").exists():
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        _git(cache, ["init", "--quiet", "--bare"])
    if url.startswith("-") or branch.startswith("-"):
        raise GitError("a repository or branch may not start with '-'")
    _git(
        cache,
        ["fetch", "--quiet", "--no-tags", "--depth=1", url, f"+refs/heads/{branch}:{_REF}"],
        credentials=credentials,
    )
    return _git(cache, ["rev-parse", "--verify", f"{_REF}^{{commit}}"]).decode().strip()


def _wanted(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        name.lower().endswith(YAML_SUFFIXES + JSON_SUFFIXES)
        and not any(p.startswith(".") for p in parts)
        and "\n" not in name
    )


def read_commit(cache: Path, commit: str, folder: str) -> list[SourceFile]:
    """The YAML and JSON files under `folder` at `commit` (paths as in the repository)."""
    prefix = folder.strip("/")
    listing = _git(cache, ["ls-tree", "-r", "-z", "--name-only", commit, "--", prefix or "."])
    names = [n for n in listing.decode("utf-8", "replace").split("\0") if n and _wanted(n)]
    if not names:
        return []
    request = "".join(f"{commit}:{name}\n" for name in names).encode()
    output = _git(cache, ["cat-file", "--batch"], stdin=request)
    files: list[SourceFile] = []
    offset = 0
    for name in names:
        header_end = output.index(b"\n", offset)
        size = int(output[offset:header_end].split()[2])
        body = output[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        try:
            files.append(SourceFile(name, body.decode("utf-8")))
        except UnicodeDecodeError:
            raise GitError(f"{name}: not UTF-8 text") from None
    return files
