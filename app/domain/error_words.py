"""pydantic's validation errors in plain words: the one place that turns an error's type
(`string_pattern_mismatch`, `int_parsing`, ...) into a sentence a person can act on, for the
web forms and the import report. Pure: reads the error's `type`, `msg` and `ctx` only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Patterns of the schemas (app/models) as what they ask for.
_PATTERNS = {
    r"^\d+(\.\d+)?[KMGTkmgt]?$": "a size like 512M, 4G or 1.5G",
    r"^[^:]+:[^:]+(:(ro|rw))?$": "HOST:CONTAINER, optionally followed by :ro or :rw",
    r"^[A-Za-z_][A-Za-z0-9_]{0,199}$": "letters, digits and _, not starting with a digit",
    r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$": "letters, digits, '.', '_', '@' or '-'",
    r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,99})$": "* or letters, digits, '.', '_' or '-'",
    r"^[a-z_]{1,40}$": "lower-case letters and _",
    r"^[0-9a-f]{64}$": "64 hexadecimal digits",
    r"^https?://\S+$": "a URL starting with http:// or https://",
    r"^[^@\s]+@[^@\s]+$": "an e-mail address like ops@example.com",
}

_Ctx = Mapping[str, Any]


def _s(n: Any) -> str:
    return "" if n == 1 else "s"


def _pattern(ctx: _Ctx) -> str:
    wanted = _PATTERNS.get(str(ctx.get("pattern", "")))
    return f"must be {wanted}" if wanted else "is not in the expected form"


def _too_short(ctx: _Ctx) -> str:
    n = ctx.get("min_length", 1)
    return "cannot be empty" if n == 1 else f"must be at least {n} characters"


def _expected(ctx: _Ctx) -> str:
    expected = str(ctx.get("expected", "")).replace("'", "")
    return f"must be one of: {expected}" if expected else "is not one of the choices"


_WORDS: dict[str, Callable[[_Ctx], str]] = {
    "missing": lambda c: "is required",
    "string_pattern_mismatch": _pattern,
    "string_too_short": _too_short,
    "string_too_long": lambda c: f"must be at most {c.get('max_length')} characters",
    "string_type": lambda c: "must be text",
    "int_parsing": lambda c: "must be a whole number",
    "int_type": lambda c: "must be a whole number",
    "int_from_float": lambda c: "must be a whole number",
    "float_parsing": lambda c: "must be a number",
    "float_type": lambda c: "must be a number",
    "bool_parsing": lambda c: "must be true or false",
    "bool_type": lambda c: "must be true or false",
    "greater_than": lambda c: f"must be more than {c.get('gt')}",
    "greater_than_equal": lambda c: f"must be {c.get('ge')} or more",
    "less_than": lambda c: f"must be less than {c.get('lt')}",
    "less_than_equal": lambda c: f"must be {c.get('le')} or less",
    "literal_error": _expected,
    "enum": _expected,
    "union_tag_invalid": _expected,
    "extra_forbidden": lambda c: "is not a known field",
    "date_parsing": lambda c: "must be a date like 2026-12-31",
    "date_from_datetime_parsing": lambda c: "must be a date like 2026-12-31",
    "date_type": lambda c: "must be a date like 2026-12-31",
    "datetime_parsing": lambda c: "must be a date and time like 2026-12-31T08:00",
    "datetime_from_date_parsing": lambda c: "must be a date and time like 2026-12-31T08:00",
    "datetime_type": lambda c: "must be a date and time like 2026-12-31T08:00",
    "time_parsing": lambda c: "must be a time like 08:30",
    "time_type": lambda c: "must be a time like 08:30",
    "too_long": lambda c: f"can hold at most {c.get('max_length')} item{_s(c.get('max_length'))}",
    "too_short": lambda c: f"needs at least {c.get('min_length')} item{_s(c.get('min_length'))}",
    "list_type": lambda c: "must be a list",
    "dict_type": lambda c: "must be an object of names and values",
    "model_type": lambda c: "must be an object of names and values",
    "model_attributes_type": lambda c: "must be an object of names and values",
    "json_invalid": lambda c: "is not valid JSON",
    "url_parsing": lambda c: "must be a URL like https://example.com/hook",
    "url_scheme": lambda c: "must be a URL starting with http:// or https://",
    "none_required": lambda c: "must be left empty",
    "multiple_of": lambda c: f"must be a multiple of {c.get('multiple_of')}",
}
# Prefixes pydantic puts before a validator's own sentence.
_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_problem(error: Mapping[str, Any]) -> str:
    """One pydantic error (`ErrorDetails` or the same keys) as a short sentence, without the
    field's name (the form shows it beside the field)."""
    kind = str(error.get("type", ""))
    words = _WORDS.get(kind)
    if words is not None:
        return words(error.get("ctx") or {})
    message = str(error.get("msg", "is not valid"))
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message
