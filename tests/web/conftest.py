"""Fixtures of the API tests: an operator of the module's live server."""

from __future__ import annotations

import pytest

from tests.support import LiveServer, operator_token


@pytest.fixture(scope="module")
def operator(live: LiveServer) -> str:
    """A bearer token of a new operator account on the module's server."""
    return operator_token(live)
