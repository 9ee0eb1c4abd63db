"""Run by the wheel's virtualenv (tests/packaging/test_wheel.py): does the installed wheel
declare what it needs?

1. Every requirement the wheel declares (Requires-Dist), and theirs in turn, extras included,
   is installed in a version that satisfies it.
2. Every package the installed `app` imports (a static scan of its sources, imports inside
   functions too) comes from a distribution in that closure: a package the code uses but
   pyproject.toml forgot would work in the developer's environment and fail for a user.

Prints one problem a line and exits 1, or prints nothing and exits 0.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DISTRIBUTION = "almanac"
PACKAGE = "app"


def requirement_closure(root: str) -> tuple[set[str], list[str]]:
    """(the distributions `root` needs, transitively; the requirements not met)."""
    done: dict[str, set[str]] = {}
    problems: list[str] = []
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        seen = done.setdefault(canonicalize_name(name), set())
        new = ({""} | set(extras)) - seen
        if not new:
            continue
        seen |= new
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({"extra": e}) for e in new):
                continue
            try:
                version = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                problems.append(f"{name} requires {requirement}: not installed")
                continue
            if not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{name} requires {requirement}: {version} is installed")
            todo.append((requirement.name, frozenset(requirement.extras)))
    return set(done), problems


def imported_packages(package_dir: Path) -> dict[str, str]:
    """{top-level module imported by the package's code: the first file importing it}."""
    found: dict[str, str] = {}
    for source in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], str(source.relative_to(package_dir)))
    return found


def main() -> int:
    package = __import__(PACKAGE)
    package_dir = Path(package.__file__).parent
    needed, problems = requirement_closure(DISTRIBUTION)
    providers = metadata.packages_distributions()
    for module, where in sorted(imported_packages(package_dir).items()):
        if module == PACKAGE or module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:
            problems.append(f"{where} imports {module}: no installed distribution provides it")
        elif not dists & needed:
            problems.append(
                f"{where} imports {module} (from {', '.join(sorted(dists))}): "
                f"not among {DISTRIBUTION}'s declared dependencies"
            )
    sys.stdout.write("".join(f"{problem}\n" for problem in problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
