"""Build hooks that pyproject.toml cannot say (everything else is declared there).

- The wheel carries the Alembic migrations, which live at the repository root (`migrations/`,
  `alembic.ini`), as package data under `app/_migrations/`: an installed Almanac finds them
  there (app/bootstrap.py), a checkout keeps using the root folder.
- The wheel carries the front-end assets that scripts/install.sh vendors from npm into
  app/web/static/vendor/ (git-ignored): a build without them fails here, saying so, instead of
  making a package whose UI has no htmx.
Editable installs (`pip install -e`) skip both: they run from the checkout itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
VENDOR = ROOT / "app" / "web" / "static" / "vendor"
REQUIRED_ASSETS = (
    "htmx.min.js",
    "htmx-ext-sse.js",
    "cytoscape.min.js",
    "dagre.min.js",
    "cytoscape-dagre.js",
    "chart.umd.min.js",
)


class BuildWithAssets(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        missing = [name for name in REQUIRED_ASSETS if not (VENDOR / name).is_file()]
        if missing:
            raise SystemExit(
                "error: front-end assets missing from app/web/static/vendor/ "
                f"({', '.join(missing)}): run `bash scripts/install.sh` (npm ci and "
                "scripts/vendor-assets.sh) before building the package"
            )
        target = Path(self.build_lib) / "app" / "_migrations"
        if target.exists():
            shutil.rmtree(target)  # a stale build folder must not keep deleted migrations
        shutil.copytree(
            ROOT / "migrations",
            target,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        shutil.copy2(ROOT / "alembic.ini", target / "alembic.ini")


setup(cmdclass={"build_py": BuildWithAssets})
