"""From request bytes to a validated document, with where each item stands in the file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from app.io.problems import ImportRefused, from_validation, item_label, problem
from app.io.snapshot import KINDS, Key, Snapshot
from app.models.io_schemas import FORMAT, ExportDocument, ImportProblem

# Anything bigger is not a definitions file.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
# Far above what a document needs (a schedule inside a task is 4 levels deep).
MAX_DEPTH = 64


@dataclass
class FileContent:
    """The file's items as a snapshot, and a label for each (`tasks[3] 'load'`)."""

    snapshot: Snapshot
    labels: dict[tuple[str, Key], str] = field(default_factory=dict)

    def label(self, kind: str, key: Key) -> str | None:
        return self.labels.get((kind, key))


def load_json(raw: bytes) -> Any:
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ImportRefused(
            413, [problem("document", "body", f"larger than {MAX_DOCUMENT_BYTES} bytes")]
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportRefused(400, [problem("document", "body", f"not UTF-8: {exc}")]) from None
    except RecursionError:  # the decoder gives up on very deep nesting
        raise ImportRefused(
            400, [problem("document", "body", f"nested deeper than {MAX_DEPTH} levels")]
        ) from None
    except json.JSONDecodeError as exc:
        text = f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        if exc.pos >= len(raw.rstrip()) or exc.msg.startswith("Unterminated string"):
            text += "; the document ends early (truncated?)"
        raise ImportRefused(400, [problem("document", "body", text)]) from None


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in `value` (walked without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            pending.extend(
                (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def parse_document(raw: bytes) -> FileContent:
    """Check JSON, format version and every item's fields; refuse with every problem found."""
    data = load_json(raw)
    if nesting_depth(data) > MAX_DEPTH:
        raise ImportRefused(
            400, [problem("document", "body", f"nested deeper than {MAX_DEPTH} levels")]
        )
    if not isinstance(data, dict):
        raise ImportRefused(422, [problem("document", "body", "must be a JSON object")])
    version = data.get("format")
    if version != FORMAT:
        text = (
            "missing" if version is None else f"unknown format version {version!r}"
        ) + f"; this server reads {FORMAT!r}"
        raise ImportRefused(422, [problem("document", "format", text)])
    try:
        document = ExportDocument.model_validate(data)
    except ValidationError as exc:
        raise ImportRefused(422, from_validation(exc, data)) from None
    return _content(document, data)


def _content(document: ExportDocument, data: dict[str, Any]) -> FileContent:
    content = FileContent(Snapshot())
    problems: list[ImportProblem] = []
    for info in KINDS:
        models: list[BaseModel] = getattr(document, info.section)
        for index, model in enumerate(models):
            item = info.canonical(model)
            key = info.key(item)
            label = item_label(info.section, index, data[info.section][index])
            earlier = content.label(info.kind, key)
            if earlier is not None:
                field_name = "name" if info.kind in ("calendar", "group", "task") else "item"
                problems.append(problem(label, field_name, f"duplicate of {earlier}"))
                continue
            content.snapshot.add(info.kind, item)
            content.labels[(info.kind, key)] = label
    if problems:
        raise ImportRefused(422, problems)
    return content
