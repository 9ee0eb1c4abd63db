"""The JSON Schema of the import / export document, generated from its pydantic models.

`python -m app.io.schema` rewrites docs/export-schema.json (a test checks that the file is
what the server serves at `GET /api/v1/schema/export.json`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.models.io_schemas import FORMAT, ExportDocument

SCHEMA_ID = "https://almanac.invalid/schema/export.json"
DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "export-schema.json"


def export_schema() -> dict[str, Any]:
    schema = ExportDocument.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Almanac definitions ({FORMAT})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    return json.dumps(export_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DOCS_FILE
    target.write_text(schema_text(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
