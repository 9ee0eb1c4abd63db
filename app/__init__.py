"""Almanac: a scheduled-job orchestrator."""

__version__ = "0.1.0"
