"""Definition files as users write them: YAML or JSON text, read with where each value stands.

Every value's place is kept by its path in the document (`("tasks", 3, "schedule", "cron")`)
as a line and a column (both from 1), so a problem found later names the file, line and
column. YAML comes through the loader's node marks; JSON through a small walk of the text
(the json module keeps no positions). YAML dates stay strings: the document's dates are text.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from app.io.problems import ImportRefused, problem

Path = tuple[str | int, ...]

try:  # libyaml when present: several times faster on large folders
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc]
    """Safe loading, but `2026-12-24` stays the string the document's fields expect."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)


@dataclass(frozen=True)
class SourceFile:
    """One file of a definitions folder: its path relative to the folder, and its text."""

    path: str
    content: str


@dataclass
class LoadedFile:
    path: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path) -> tuple[int, int] | None:
        """The line and column of `path`, or of the nearest enclosing value that has one."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return None


def malformed(path: str, line: int, column: int, text: str) -> ImportRefused:
    found = problem(path, "document", f"line {line}, column {column}: {text}")
    return ImportRefused(
        400, [found.model_copy(update={"file": path, "line": line, "column": column})]
    )


def is_yaml(path: str) -> bool:
    return path.lower().endswith(YAML_SUFFIXES)


def load_file(source: SourceFile) -> LoadedFile:
    """The file's data and positions; 400 naming file, line and column when it does not parse."""
    if is_yaml(source.path):
        return _load_yaml(source)
    return _load_json(source)


def _load_yaml(source: SourceFile) -> LoadedFile:
    loader = _Loader(source.content)
    positions: dict[Path, tuple[int, int]] = {}
    try:
        node = loader.get_single_node()
        if node is not None:  # walked first: aliases that expand without end are refused
            _yaml_positions(source.path, node, positions)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        text = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise malformed(source.path, line, column, f"invalid YAML: {text}") from None
    except yaml.YAMLError as exc:
        raise malformed(source.path, 1, 1, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return LoadedFile(source.path, data, positions)


# Far above what a definitions file holds (5,000 tasks are some 100,000 values); YAML aliases
# can make a short text expand to billions of values, which are refused here.
MAX_YAML_VALUES = 2_000_000


def _yaml_positions(name: str, node: yaml.Node, out: dict[Path, tuple[int, int]]) -> None:
    pending: list[tuple[yaml.Node, Path]] = [(node, ())]
    visited = 0
    while pending:
        current, at = pending.pop()
        visited += 1
        if visited > MAX_YAML_VALUES:
            mark = current.start_mark
            raise malformed(
                name,
                mark.line + 1,
                mark.column + 1,
                f"more than {MAX_YAML_VALUES} values once aliases are expanded",
            )
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    child = (*at, str(key.value))
                    out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                    pending.append((value, child))
        elif isinstance(current, yaml.SequenceNode):
            for index, value in enumerate(current.value):
                child = (*at, index)
                out[child] = (value.start_mark.line + 1, value.start_mark.column + 1)
                pending.append((value, child))


def _load_json(source: SourceFile) -> LoadedFile:
    try:
        data = json.loads(source.content)
    except RecursionError:
        raise malformed(source.path, 1, 1, "nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise malformed(source.path, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}") from None
    loaded = LoadedFile(source.path, data)
    try:
        loaded.positions = json_positions(source.content)
    except (ValueError, IndexError, RecursionError):  # positions are a help, never a refusal
        loaded.positions = {}
    return loaded


# json's own string scanner (not in its typed interface)
scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]
_SPACE = re.compile(r"[ \t\n\r]*")


def json_positions(text: str) -> dict[Path, tuple[int, int]]:
    """Line and column of every member key and list element of valid JSON `text`."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    offsets: dict[Path, int] = {}
    _walk_json(text, 0, (), offsets, json.JSONDecoder())

    def place(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    return {path: place(offset) for path, offset in offsets.items()}


def _skip(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    return match.end() if match else index


def _walk_json(
    text: str, index: int, path: Path, out: dict[Path, int], decoder: json.JSONDecoder
) -> int:
    """Walk one value starting at `index`; record its children; return where it ends."""
    index = _skip(text, index)
    char = text[index]
    if char == "{":
        index = _skip(text, index + 1)
        if text[index] == "}":
            return index + 1
        while True:
            index = _skip(text, index)
            key, after = scanstring(text, index + 1)
            out[(*path, key)] = index
            index = _skip(text, after) + 1  # past ':'
            index = _skip(text, _walk_json(text, index, (*path, key), out, decoder))
            if text[index] == "}":
                return index + 1
            index += 1  # past ','
    if char == "[":
        index = _skip(text, index + 1)
        if text[index] == "]":
            return index + 1
        position = 0
        while True:
            index = _skip(text, index)
            out[(*path, position)] = index
            index = _skip(text, _walk_json(text, index, (*path, position), out, decoder))
            position += 1
            if text[index] == "]":
                return index + 1
            index += 1
    if char == '"':
        closed: int = scanstring(text, index + 1)[1]
        return closed
    end: int = decoder.raw_decode(text, index)[1]
    return end
