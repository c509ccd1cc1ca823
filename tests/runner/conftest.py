"""Fixtures for the run tests: the scripted Chat Completions provider, started once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.scripted_provider import ScriptedProvider


@pytest.fixture(scope="session")
def provider_server() -> Iterator[ScriptedProvider]:
    with ScriptedProvider() as server:
        yield server


@pytest.fixture
def provider(provider_server: ScriptedProvider) -> Iterator[ScriptedProvider]:
    """The session's provider with an empty script and no recordings."""
    provider_server.reset()
    yield provider_server
    provider_server.reset()
