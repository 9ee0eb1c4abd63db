"""A folder of definition files as one document: every file's items merged, each labelled with
its file, and every problem of every file named with file, line and column, all at once.

Each file is an `almanac/v1` document of its own (any split: one group with its tasks per file
is natural). The same item in two files is a problem naming both.

A file that does not parse refuses the folder at once (400: nothing of it can be known). Items
that do not fit the document are kept as problems with the bundle, not raised: the planner
checks the state of what could be read as well and names both kinds of problem together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from app.definitions.files import LoadedFile, Path, SourceFile, load_file
from app.io.parse import MAX_DEPTH, MAX_DOCUMENT_BYTES, FileContent, nesting_depth
from app.io.problems import ImportRefused, from_validation, item_label, problem
from app.io.snapshot import KINDS, Key, Snapshot
from app.models.io_schemas import FORMAT, ExportDocument, ImportProblem, Kind


@dataclass
class Bundle:
    """The merged items (as the importer's FileContent) and where each came from."""

    content: FileContent
    files: dict[str, LoadedFile] = field(default_factory=dict)
    # item label -> (file, section, index): how a problem about the item finds its line
    origins: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    # (kind, key) -> the file that holds the item
    holders: dict[tuple[Kind, Key], str] = field(default_factory=dict)
    # Problems of the files themselves (fields, duplicates), located: the plan is refused.
    problems: list[ImportProblem] = field(default_factory=list)
    # Calendars, groups and tasks a file names but that could not be read: the state check
    # does not call them unknown (the item's own problem is already named).
    unread: set[tuple[Kind, Key]] = field(default_factory=set)

    def locate(self, problems: Sequence[ImportProblem]) -> list[ImportProblem]:
        """The problems with file, line and column filled in where the item came from a file."""
        return [self._located(p) for p in problems]

    def _located(self, found: ImportProblem) -> ImportProblem:
        origin = self.origins.get(found.item)
        if found.file is not None or origin is None:
            return found
        path_name, section, index = origin
        steps: list[str | int] = [int(s) if s.isdigit() else s for s in found.field.split(".")]
        return _at(found, self.files[path_name], (section, index, *steps))


def _at(found: ImportProblem, loaded: LoadedFile, path: Path) -> ImportProblem:
    place = loaded.where(path)
    line, column = place if place else (None, None)
    return found.model_copy(update={"file": loaded.path, "line": line, "column": column})


def read_bundle(sources: Sequence[SourceFile]) -> Bundle:
    """Parse and check every file: ImportRefused (400) for text that does not parse; items
    that do not fit the document are in `problems` (the planner refuses them, 422)."""
    _check_sizes(sources)
    loaded: list[LoadedFile] = []
    unreadable: list[ImportProblem] = []
    for source in sorted(sources, key=lambda s: s.path):
        try:
            loaded.append(load_file(source))
        except ImportRefused as refused:
            unreadable += refused.problems
    if unreadable:
        raise ImportRefused(400, unreadable)
    bundle = Bundle(FileContent(Snapshot()), {f.path: f for f in loaded})
    for file in loaded:
        entries = _document(file, bundle.problems)
        bundle.unread |= _unread(file.data, entries)
        _merge(bundle, file, entries, bundle.problems)
    return bundle


def _check_sizes(sources: Sequence[SourceFile]) -> None:
    if not sources:
        raise ImportRefused(422, [problem("files", "files", "no definition files were given")])
    if sum(len(s.content) for s in sources) > MAX_DOCUMENT_BYTES:
        raise ImportRefused(
            413, [problem("files", "files", f"larger than {MAX_DOCUMENT_BYTES} bytes in all")]
        )
    seen: set[str] = set()
    for source in sources:
        if source.path in seen:
            raise ImportRefused(422, [problem(source.path, "path", "the same file twice")])
        seen.add(source.path)


def _whole(file: LoadedFile, text: str, status_field: str = "document") -> ImportProblem:
    return _at(problem(file.path, status_field, text), file, ())


Entries = list[tuple[int, int, BaseModel]]  # (rank of the kind, index in its list, item)


def _document(file: LoadedFile, problems: list[ImportProblem]) -> Entries:
    """The file's items that fit the document; the problems of those that do not."""
    data = file.data
    if nesting_depth(data) > MAX_DEPTH:
        raise ImportRefused(400, [_whole(file, f"nested deeper than {MAX_DEPTH} levels")])
    if not isinstance(data, dict):
        problems.append(_whole(file, f"must be a mapping with format: {FORMAT}"))
        return []
    version = data.get("format")
    if version != FORMAT:
        text = "missing" if version is None else f"unknown format version {version!r}"
        problems.append(
            _at(
                problem(file.path, "format", f"{text}; this server reads {FORMAT!r}"),
                file,
                ("format",),
            )
        )
        return []
    try:
        document = ExportDocument.model_validate(data)
    except ValidationError as exc:
        for error, found in zip(exc.errors(), from_validation(exc, data), strict=True):
            located = _at(found, file, tuple(error.get("loc", ())))
            problems.append(located.model_copy(update={"item": f"{file.path}: {found.item}"}))
        return _fitting_items(data)
    return [
        (rank, index, model)
        for rank, info in enumerate(KINDS)
        for index, model in enumerate(getattr(document, info.section))
    ]


def _fitting_items(data: dict[str, Any]) -> Entries:
    """Items that fit on their own, from a file with problems: their own problems (a
    duplicate, a cycle) are found too, so one pass names them all."""
    found: Entries = []
    for rank, info in enumerate(KINDS):
        items = data.get(info.section)
        for index, raw in enumerate(items if isinstance(items, list) else []):
            try:
                found.append((rank, index, info.model.model_validate(raw)))
            except ValidationError:
                continue
    return found


def _unread(data: Any, entries: Entries) -> set[tuple[Kind, Key]]:
    """The calendars, groups and tasks `data` names that are not among the `entries` read."""
    if not isinstance(data, dict):
        return set()
    read = {(rank, index) for rank, index, _model in entries}
    found: set[tuple[Kind, Key]] = set()
    for rank, info in enumerate(KINDS):
        items = data.get(info.section)
        if info.kind not in ("calendar", "group", "task") or not isinstance(items, list):
            continue
        for index, raw in enumerate(items):
            key = _named_key(info.kind, raw)
            if key is not None and (rank, index) not in read:
                found.add((info.kind, key))
    return found


def _named_key(kind: Kind, raw: Any) -> Key | None:
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(name, str):
        return None
    if kind == "calendar":
        return (name,)
    instance = raw.get("instance", "default")
    return (instance, name) if isinstance(instance, str) else None


def _merge(
    bundle: Bundle, file: LoadedFile, entries: Entries, problems: list[ImportProblem]
) -> None:
    content = bundle.content
    for rank, index, model in entries:
        info = KINDS[rank]
        item = info.canonical(model)
        key = info.key(item)
        raw = file.data[info.section][index]
        label = f"{file.path}: {item_label(info.section, index, raw)}"
        bundle.origins[label] = (file.path, info.section, index)
        earlier = content.label(info.kind, key)
        if earlier is not None:
            name_field = "name" if info.kind in ("calendar", "group", "task") else "item"
            problems.append(
                _at(
                    problem(label, name_field, f"duplicate of {earlier}"),
                    file,
                    (info.section, index, name_field),
                )
            )
            continue
        content.snapshot.add(info.kind, item)
        content.labels[(info.kind, key)] = label
        bundle.holders[(info.kind, key)] = file.path
