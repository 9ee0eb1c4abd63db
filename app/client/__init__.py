"""Python client for the Almanac REST API."""

from app.client.http import Almanac, AlmanacAPIError, RunHandle

__all__ = ["Almanac", "AlmanacAPIError", "RunHandle"]
