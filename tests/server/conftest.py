"""Fixtures for the server's tests (the brokers and free ports are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.server.test_api_support import ADMIN_PASSWORD, COMMAND_KEY


@pytest.fixture
def server_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin password ``running_server`` logs in with and the command key a node
    verifies commands with, in the environment the in-process server reads them from.

    A module whose tests start a server says so with
    ``pytestmark = pytest.mark.usefixtures("server_credentials")``.
    """
    monkeypatch.setenv("CUSTODYWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("CUSTODYWATCH_COMMAND_KEY", COMMAND_KEY)
