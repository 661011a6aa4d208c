"""Shared fixtures of the deployment tests."""

from __future__ import annotations

import pytest

from tests.deploy.installed import Installed, install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """netadvisor's wheel in a fresh environment (built once per test run)."""
    return install(tmp_path_factory.mktemp("installed"))
