"""Where each item and field of a JSON document starts (its line), so an import's problems can
say "line 12" beside "tasks[3] 'load' · schedule.cron". A small scanner over the text: the
document was already parsed by the import, this only finds positions (best effort: a text
that is not JSON has no lines)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

Path = tuple[str | int, ...]
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_ITEM = re.compile(r"^(\w+)\[(\d+)\]")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: dict[Path, int] = {}

    def _skip(self, at: int) -> int:
        match = _SPACE.match(self.text, at)
        return match.end() if match else at

    def _line(self, at: int) -> int:
        return self.text.count("\n", 0, at) + 1

    def value(self, at: int, path: Path) -> int:
        at = self._skip(at)
        self.lines[path] = self._line(at)
        opener = self.text[at : at + 1]
        if opener == "{":
            return self._members(at + 1, path)
        if opener == "[":
            return self._items(at + 1, path)
        _, end = _DECODER.raw_decode(self.text, at)
        return end

    def _members(self, at: int, path: Path) -> int:
        at = self._skip(at)
        if self.text[at : at + 1] == "}":
            return at + 1
        while True:
            at = self._skip(at)
            key, at = _DECODER.raw_decode(self.text, at)
            at = self._skip(at) + 1  # the colon
            at = self._skip(self.value(at, (*path, str(key))))
            if self.text[at : at + 1] == "}":
                return at + 1
            at += 1  # the comma

    def _items(self, at: int, path: Path) -> int:
        at = self._skip(at)
        if self.text[at : at + 1] == "]":
            return at + 1
        index = 0
        while True:
            at = self._skip(self.value(at, (*path, index)))
            if self.text[at : at + 1] == "]":
                return at + 1
            at += 1
            index += 1


def json_lines(text: str) -> dict[Path, int]:
    """{path: line} of every value of the document ({} when it is not JSON)."""
    scanner = _Scanner(text)
    try:
        scanner.value(0, ())
    except (ValueError, IndexError):
        return {}
    return scanner.lines


def problem_line(lines: dict[Path, int], item: str, field: str) -> int | None:
    """The line of an import problem: its field inside its item (`tasks[3] 'load'`,
    `schedule.cron`), else the nearest enclosing value that has one."""
    match = _ITEM.match(item)
    if match is None:
        return None
    path: list[str | int] = [match.group(1), int(match.group(2))]
    steps: Sequence[str] = [s for s in field.split(".") if s] if field != "item" else []
    best = lines.get(tuple(path))
    for step in steps:
        path.append(int(step) if step.isdigit() else step)
        found = lines.get(tuple(path))
        if found is None:
            break
        best = found
    return best
