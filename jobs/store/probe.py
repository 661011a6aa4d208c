"""``doctor``'s database line: the state database answers, and which schema version it holds.

Read-only, unlike :meth:`jobs.store.Store.open` (which creates and upgrades tables): a check
must not change what it checks.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from jobs.checks import CheckResult, CheckStatus
from jobs.store import schema
from jobs.store.store import _normalise_url

__all__ = ["check_database"]


def _short(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def check_database(url: str) -> CheckResult:
    """Connect to ``url`` and read ``meta.schema_version``; never writes, never shows a
    password."""
    try:
        parsed = make_url(_normalise_url(url))
    except ArgumentError:
        return CheckResult(
            "database",
            "url",
            CheckStatus.FAIL,
            "not a database URL",
            "set database: to sqlite:///PATH or postgresql://USER@HOST/DB",
        )
    shown = parsed.render_as_string(hide_password=True)
    sqlite_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    )
    if sqlite_file and not Path(str(parsed.database)).exists():
        return CheckResult(
            "database",
            shown,
            CheckStatus.OK,
            f"no file yet: the first scan creates it (schema version {schema.SCHEMA_VERSION})",
        )
    engine = None
    try:
        engine = create_engine(parsed)
        with engine.connect() as conn:
            if not inspect(conn).has_table(schema.meta.name):
                return CheckResult(
                    "database",
                    shown,
                    CheckStatus.OK,
                    "reachable, empty: the first scan creates the tables",
                )
            found = schema.stored_version(conn, schema.meta) or 0
    except (SQLAlchemyError, ImportError, OSError) as exc:
        return CheckResult(
            "database",
            shown,
            CheckStatus.FAIL,
            f"cannot connect: {_short(exc)}",
            "check the host, port, database name and credentials "
            "(NETADVISOR_DATABASE_URL or database:)",
        )
    finally:
        if engine is not None:
            engine.dispose()
    current = schema.SCHEMA_VERSION
    if found > current:
        return CheckResult(
            "database",
            shown,
            CheckStatus.FAIL,
            f"schema version {found}, newer than this netadvisor's {current}",
            "upgrade netadvisor to the version that wrote this database",
        )
    if found < current:
        return CheckResult(
            "database",
            shown,
            CheckStatus.OK,
            f"reachable, schema version {found}: the next scan upgrades it to {current}",
        )
    return CheckResult("database", shown, CheckStatus.OK, f"reachable, schema version {found}")
