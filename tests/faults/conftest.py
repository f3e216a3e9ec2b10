"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.fakes.tcp_proxy import SilentListener
from tests.test_cohere import server  # noqa: F401 - the fake Cohere API (fixture ``server``), shared with test_cohere


@pytest.fixture(params=["connection refused", "silent listener"])
def unreachable_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of a service that is not there: a closed port, or a listener that accepts and never answers."""
    if request.param == "connection refused":
        yield f"http://127.0.0.1:{free_port()}"
        return
    with SilentListener() as silent:
        yield silent.url
