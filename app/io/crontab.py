"""A crontab read as Almanac tasks: pure text in, tasks and refused lines out.

Reads a user crontab (`crontab -l`) or the system format (`/etc/crontab`, `/etc/cron.d/*`:
a user column after the time fields). Vixie cron's rules:

- `NAME=value` lines set the environment of the job lines below them (quotes around the
  value are removed). `CRON_TZ` sets the timezone the following schedules are read in;
  `SHELL` the shell that runs the command; `MAILTO` where cron mails the output (recorded:
  Almanac keeps output in the run's logs, so it is not translated); every other name
  (`PATH`, `HOME`, `TZ`, ...) goes into the task's `env`.
- The first unescaped `%` ends the command; the rest is its standard input, each further
  `%` a newline, and `\\%` is a literal `%`. The input is fed with `printf '%s' DATA |`, the
  command run by the shell as one quoted argument, so nothing is glued unquoted.
- `@reboot` and `H` cannot be translated (they have no fire times), nor can a line whose
  schedule does not parse; each such line is returned with its reason.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

from app.domain._cron import parse_cron
from app.domain._walltime import load_zone

Format = Literal["user", "system"]
DEFAULT_SHELL = "/bin/sh"
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
# Programs that only wrap the real one: a name is taken from what they run.
_WRAPPERS = frozenset(
    {"sh", "bash", "zsh", "dash", "env", "nice", "ionice", "timeout", "flock", "sudo",
     "nohup", "exec", "python", "python3", "perl", "ruby", "node", "php", "test"}
)  # fmt: skip
MAX_NAME = 80


@dataclass(frozen=True, kw_only=True)
class CrontabOptions:
    format: Format = "user"
    timezone: str = "UTC"  # until a CRON_TZ line says otherwise
    prefix: str = ""  # put before every derived task name
    taken: frozenset[str] = frozenset()  # names already used: never reused


@dataclass(frozen=True, kw_only=True)
class CrontabTask:
    """The task one job line becomes."""

    line: int
    source: str  # the line as written
    name: str
    command: str
    schedule: dict[str, Any]
    env: dict[str, str]
    run_as_user: str | None
    notes: tuple[str, ...] = ()  # what was not translated (MAILTO), said in the description

    @property
    def description(self) -> str:
        text = f"Imported from crontab line {self.line}: {self.source}"
        return "\n".join([text, *self.notes])


@dataclass(frozen=True, kw_only=True)
class RefusedLine:
    line: int
    text: str
    reason: str


@dataclass
class CrontabTranslation:
    tasks: list[CrontabTask] = field(default_factory=list)
    refused: list[RefusedLine] = field(default_factory=list)


@dataclass
class _Environment:
    values: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    timezone_problem: str | None = None
    shell: str = DEFAULT_SHELL
    mailto: str | None = None


def read_crontab(text: str, options: CrontabOptions | None = None) -> CrontabTranslation:
    """Every job line of `text` as a task, or as a refused line with its reason."""
    options = options or CrontabOptions()
    env = _Environment(timezone=options.timezone)
    result = CrontabTranslation()
    names = _Names(options.prefix, set(options.taken))
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = _ENV_LINE.match(line)
        if assignment is not None:
            _set(env, assignment.group(1), _unquote(assignment.group(2)))
            continue
        try:
            result.tasks.append(_job(number, line, env, options, names))
        except ValueError as exc:
            result.refused.append(RefusedLine(line=number, text=line, reason=str(exc)))
    return result


def _set(env: _Environment, name: str, value: str) -> None:
    if name == "CRON_TZ":
        env.timezone, env.timezone_problem = value, None
        try:
            load_zone(value)
        except ValueError as exc:
            env.timezone_problem = f"CRON_TZ: {exc}"
    elif name == "MAILTO":
        env.mailto = value
    else:
        if name == "SHELL":
            env.shell = value or DEFAULT_SHELL
        env.values[name] = value


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _job(
    number: int, line: str, env: _Environment, options: CrontabOptions, names: _Names
) -> CrontabTask:
    user_column = 1 if options.format == "system" else 0
    if line.startswith("@"):
        parts = line.split(None, 1 + user_column)
        spec, rest = parts[0], parts[1:]
    else:
        parts = line.split(None, 5 + user_column)
        spec, rest = " ".join(parts[:5]), parts[5:]
    if len(rest) < 1 + user_column:
        wanted = "a user and a command" if user_column else "a command"
        raise ValueError(f"expected the schedule, then {wanted}")
    try:
        parse_cron(spec)
    except ValueError as exc:
        raise ValueError(f"schedule {spec!r}: {exc}") from None
    if env.timezone_problem is not None:
        raise ValueError(env.timezone_problem)
    user = rest[0] if user_column else None
    command, stdin = split_percent(rest[-1])
    if not command.strip():
        raise ValueError("the command is empty")
    notes = []
    if env.mailto:  # MAILTO="" : cron mails nothing
        notes.append(
            f"MAILTO={env.mailto} not translated: cron mailed the output there; Almanac keeps "
            "it in the run's logs (an alert rule can tell someone)"
        )
    return CrontabTask(
        line=number,
        source=line,
        name=names.take(command),
        command=literal(shell_command(command, stdin, env.shell)),
        schedule={"kind": "cron", "cron": spec, "timezone": env.timezone},
        env={k: literal(v) for k, v in sorted(env.values.items())},
        run_as_user=user,
        notes=tuple(notes),
    )


def split_percent(text: str) -> tuple[str, str | None]:
    """The command and its standard input (None when the line has no unescaped `%`):
    `\\%` is a literal `%`, the first `%` ends the command, later ones are newlines."""
    command: list[str] = []
    stdin: list[str] | None = None
    target = command
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            following = next(chars, None)
            if following == "%":
                target.append("%")
            else:
                target.append("\\")
                if following is not None:
                    target.append(following)
            continue
        if ch == "%":
            if stdin is None:
                stdin = []
                target = stdin
            else:
                target.append("\n")
            continue
        target.append(ch)
    return "".join(command), None if stdin is None else "".join(stdin)


def shell_command(command: str, stdin: str | None, shell: str) -> str:
    """What Almanac runs (with /bin/sh -c) for a cron command: the command itself, or, when
    it needs another shell or standard input, that shell given the command as one quoted
    argument, fed by printf with the input quoted."""
    if stdin is None and shell == DEFAULT_SHELL:
        return command
    run = f"{shlex.quote(shell)} -c {shlex.quote(command)}"
    if stdin is None:
        return run
    return f"printf '%s' {shlex.quote(stdin)} | {run}"


def literal(text: str) -> str:
    """`text` with `${` written `$${`, so Almanac's placeholders leave the shell's own
    `${NAME}` as it is (DESIGN.md "Run context")."""
    return text.replace("${", "$${")


class _Names:
    """Task names derived from commands: readable, unique, with the prefix."""

    def __init__(self, prefix: str, taken: set[str]) -> None:
        self.prefix, self.taken = prefix, taken

    def take(self, command: str) -> str:
        base = (self.prefix + derive_name(command))[:MAX_NAME]
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base[: MAX_NAME - len(str(n)) - 1]}-{n}"
        self.taken.add(name)
        return name


def derive_name(command: str) -> str:
    """A short name from a command: its program's base name (and what a wrapper such as
    `python` or `nice` runs), e.g. `/usr/local/bin/backup.sh --full` -> `backup`."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    picked: list[str] = []
    skip_next = False
    for word in words:
        if skip_next or word == "cd":  # `cd DIR &&` says where, not what
            skip_next = not skip_next
            continue
        if "=" in word.split("/")[0] or word.startswith("-") or word.isdigit():
            continue  # VAR=value before the program, options and counts of a wrapper
        if word in ("&&", "||", ";", "|", "(", ")"):
            continue
        stem = word.rstrip("/").rsplit("/", 1)[-1].split(".")[0]
        if stem:
            picked.append(stem)
        if stem not in _WRAPPERS:
            picked = [stem]
            break
    slug = re.sub(r"[^a-z0-9_]+", "-", "-".join(picked[-2:]).lower()).strip("-")
    return slug[:MAX_NAME] or "cron-job"
