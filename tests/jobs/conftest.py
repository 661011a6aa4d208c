"""The state store on every backend, for the job tests that read and write it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.store import Store
from tests.jobs.notifiers import MemoryChat, MemoryTerminal
from tests.state_databases import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh state database URL, once per backend (SQLite, and PostgreSQL when available)."""
    with database_url(request.param, tmp_path) as value:
        yield value


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """The store opened on ``url``."""
    with Store.open(url) as opened:
        yield opened


@pytest.fixture
def chat() -> MemoryChat:
    """A chat service in memory."""
    return MemoryChat()


@pytest.fixture
def terminal() -> MemoryTerminal:
    """A terminal in memory."""
    return MemoryTerminal()
