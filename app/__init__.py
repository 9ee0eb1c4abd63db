"""Almanac: a scheduled-job orchestrator."""

# The one place the version is written: pyproject.toml reads it (dynamic), so do
# `almanac --version`, /health and the UI footer.
__version__ = "0.2.0"
