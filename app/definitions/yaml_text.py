"""The YAML form of an export document: the same items, keys and order as the JSON one."""

from __future__ import annotations

from typing import Any

import yaml

try:
    _Dumper: type[yaml.SafeDumper] = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


def yaml_dumps(document: dict[str, Any]) -> str:
    """Block style, keys in model order, no line folding (a command stays on one line)."""
    text: str = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
    )
    return text
