"""doctor's database line: reachable and the schema version, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from jobs.checks import CheckStatus
from jobs.store import Store
from jobs.store.probe import check_database
from jobs.store.schema import SCHEMA_VERSION
from tests.state_databases import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_migrated_database_reports_its_schema_version(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        Store.open(url).close()
        result = check_database(url)
    assert result.status is CheckStatus.OK
    assert result.message == f"reachable, schema version {SCHEMA_VERSION}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_database_is_left_untouched(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        if backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
            create_engine(url).connect().close()
        result = check_database(url)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        engine.dispose()
    assert result.status is CheckStatus.OK
    assert "first scan creates the tables" in result.message


def test_an_unreachable_server_fails_without_showing_the_password() -> None:
    result = check_database("postgresql://netadvisor:hunter2@127.0.0.1:9/none?connect_timeout=2")
    assert result.status is CheckStatus.FAIL
    assert result.message.startswith("cannot connect: ")
    assert "hunter2" not in result.subject + result.message + result.fix
    assert (
        result.subject == "postgresql+psycopg://netadvisor:***@127.0.0.1:9/none?connect_timeout=2"
    )
