"""Python client for the Almanac REST API: `Almanac(url, token)`."""

from app.client.batch import Batch
from app.client.errors import AlmanacAPIError
from app.client.http import Almanac
from app.client.runs import TERMINAL, LogFollower, RunHandle

__all__ = ["TERMINAL", "Almanac", "AlmanacAPIError", "Batch", "LogFollower", "RunHandle"]
