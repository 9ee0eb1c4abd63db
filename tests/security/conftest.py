"""Security tests: argon2 at its cheapest (what is tested does not depend on its cost)."""

from security.sec_fixtures import fast_hashing, secure_api

__all__ = ["fast_hashing", "secure_api"]  # fixtures, found by name
