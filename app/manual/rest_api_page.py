"""docs/reference/rest-api.md from the server's own OpenAPI description."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

_METHODS = ("get", "post", "put", "patch", "delete")


def openapi_spec() -> dict[str, Any]:
    """The OpenAPI the server publishes at /api/v1/openapi.json (no scheduler, no agent)."""
    from datetime import UTC, datetime

    from app.clock import FrozenClock
    from app.db.engine import make_engine
    from app.server import create_app
    from app.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch), local_agent=False)
        engine = make_engine(f"sqlite:///{scratch}/spec.db")
        try:
            clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
            app = create_app(settings, clock=clock, engine=engine, start_scheduler=False)
            spec: dict[str, Any] = app.openapi()
        finally:
            engine.dispose()
    return spec


def rest_api_page() -> str:
    from app.manual import cell

    spec = openapi_spec()
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        for method in _METHODS:
            if method in item:
                operation = item[method]
                tag = (operation.get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((method.upper(), path, operation))
    out = [
        "# REST API\n",
        f"Almanac {spec['info']['version']}. Every path is under `/api/v1` and needs "
        "`Authorization: Bearer <token>` (a login token from `POST /api/v1/auth/token`, or an "
        "API token) except `/api/v1/health` and the login itself. The server's role and "
        "instance checks apply to every call; a refusal is a 401, 403 or 404 with a "
        '`{"detail": ...}` body, bad input a 422 naming the field. The same description is '
        "served at `/api/v1/openapi.json`, and browsable at `/api/v1/docs` once logged in.\n",
    ]
    for tag in sorted(by_tag):
        out.append(f"## {tag}\n")
        out.append("| method | path | what |\n|---|---|---|")
        for method, path, operation in by_tag[tag]:
            out.append(f"| `{method}` | `{path}` | {cell(operation.get('summary', ''))} |")
        out.append("")
        for method, path, operation in by_tag[tag]:
            out.extend(_operation(method, path, operation))
    out.append("## Schemas\n")
    for name, schema in sorted(spec["components"]["schemas"].items()):
        out.extend(_schema(name, schema))
    return "\n".join(out).rstrip() + "\n"


def _operation(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    from app.manual import cell

    out = [f"### {method} {path}\n"]
    if operation.get("description"):
        out.append(operation["description"].strip() + "\n")
    parameters = operation.get("parameters", [])
    if parameters:
        out.append("| parameter | in | type | required | description |\n|---|---|---|---|---|")
        for parameter in parameters:
            out.append(
                f"| `{parameter['name']}` | {parameter['in']} | "
                f"{type_of(parameter.get('schema', {}))} | "
                f"{'yes' if parameter.get('required') else 'no'} | "
                f"{cell(parameter.get('description', ''))} |"
            )
        out.append("")
    body = operation.get("requestBody")
    if body:
        media, content = next(iter(body["content"].items()))
        required = "" if body.get("required") else " (optional)"
        out.append(f"Body{required}: {type_of(content.get('schema', {}))} (`{media}`)\n")
    answers = []
    for status, response in operation.get("responses", {}).items():
        if status == "422" and "Validation" in response.get("description", ""):
            continue
        media_types: dict[str, Any] = response.get("content", {})
        first: dict[str, Any] = next(iter(media_types.values()), {})
        schema = first.get("schema")
        shown = type_of(schema) if schema else cell(response.get("description", ""))
        answers.append(f"`{status}` {shown}")
    if answers:
        out.append("Answers: " + "; ".join(answers) + "\n")
    return out


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    from app.manual import cell

    out = [f"### {name}\n"]
    if schema.get("description"):
        out.append(cell(schema["description"]) + "\n")
    if "enum" in schema:
        out.append("One of: " + ", ".join(f"`{value}`" for value in schema["enum"]) + "\n")
        return out
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        out.append("| field | type | required | description |\n|---|---|---|---|")
        for field, spec in properties.items():
            out.append(
                f"| `{field}` | {type_of(spec)} | {'yes' if field in required else 'no'} | "
                f"{cell(spec.get('description', ''))} |"
            )
        out.append("")
    return out


def type_of(schema: dict[str, Any]) -> str:
    """A JSON schema as a short type: `int`, `[Task](#task)`, `list of str`, `A or null`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(type_of(part) for part in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return "list of " + type_of(schema.get("items", {}))
    if kind == "object":
        extra = schema.get("additionalProperties")
        return "object of " + type_of(extra) if isinstance(extra, dict) and extra else "object"
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if kind:
        return f"{kind} ({schema['format']})" if "format" in schema else str(kind)
    return "any"
