"""Variable sets, masking and results: a real app on a real database (both backends)."""

from __future__ import annotations

import pytest
from security.sec_fixtures import fast_hashing, secure_api
from security.sec_support import Api

__all__ = ["fast_hashing", "secure_api"]  # fixtures, found by name


@pytest.fixture
def var_api(secure_api: Api) -> Api:
    return secure_api
