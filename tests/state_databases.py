"""State databases for tests: a SQLite file, or a fresh schema in the test PostgreSQL.

PostgreSQL comes from ``NETADVISOR_TEST_DATABASE_URL`` (``.ci/run`` starts one and exports it).
Without it the PostgreSQL cases are skipped, except under ``CI=true`` where they fail: CI must
prove the store works on PostgreSQL. Each test gets its own schema (via ``search_path``), dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["BACKENDS", "PG_VARIABLE", "database_url", "postgres_base_url"]

PG_VARIABLE: Final = "NETADVISOR_TEST_DATABASE_URL"
BACKENDS: Final = ("sqlite", "postgresql")


def postgres_base_url() -> str:
    """The test PostgreSQL's URL; skips the test (fails it under CI=true) when there is none."""
    url = os.environ.get(PG_VARIABLE, "").strip()
    if not url:
        message = f"{PG_VARIABLE} is not set: no PostgreSQL to test the state store on"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must test PostgreSQL; .ci/run starts it)")
        pytest.skip(message)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty state database of ``backend`` (``sqlite`` or ``postgresql``)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'state.db'}"
        return
    base = postgres_base_url()
    schema = "test_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
