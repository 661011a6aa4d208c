"""The state store: what netadvisor saw, what it told whom, and what people muted.

One :class:`Store` wraps a SQLAlchemy engine (SQLite file by default, PostgreSQL for several
replicas). Work happens in short transactions (:meth:`Store.transaction`) through a :class:`Tx`,
whose methods read and write frozen records. Concurrency:

- a scan locks each cluster's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions
  start with ``BEGIN IMMEDIATE`` and so run one at a time) before diffing its matches, so two
  scans racing on one database never both see a match as new;
- an outbox intent is *claimed* with a lease by one atomic ``UPDATE`` before it is delivered.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import (
    Engine,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from jobs.metrics import StoreFigures
from jobs.store import faults, schema
from jobs.store.records import ClusterState, MatchState, StoreError
from jobs.store.tx import Tx

__all__ = ["Store", "store_figures"]

_LOCK_KEY: Final = 0x6E657461  # "neta": the advisory lock that serialises schema setup


def _normalise_url(url: str) -> str:
    # "postgresql://" alone selects psycopg2 in SQLAlchemy; netadvisor ships psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN IMMEDIATE (pysqlite would emit a deferred
        # BEGIN, which lets two writers deadlock on the upgrade to a write lock).
        # See: https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL needs a moment of exclusive access, and a
        # second process may be creating the tables right now.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """The state database. Build with :meth:`open`; close with :meth:`close` (or ``with``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.display_url = engine.url.render_as_string(hide_password=True)
        """The database's URL with the password hidden, for messages."""

    @staticmethod
    def open(url: str) -> Store:
        """Connect, create or upgrade the schema, and return the store.

        ``url`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql://user@host/db``). A
        SQLite file's directory is created. Raises :class:`StoreError`.
        """
        try:
            parsed = make_url(_normalise_url(url))
        except ArgumentError as exc:
            raise StoreError(f"invalid database URL: {exc}") from None
        display = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{display}: cannot create its directory: {exc}") from None
        try:
            engine = create_engine(parsed, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"{display}: {exc}") from None
        if engine.dialect.name == "sqlite":
            _sqlite_setup(engine)
        elif engine.dialect.name != "postgresql":
            engine.dispose()
            raise StoreError(f"{display}: only SQLite and PostgreSQL are supported")
        store = Store(engine)
        try:
            if engine.dialect.name == "sqlite":
                _refuse_damaged(engine, display)
            for attempt in range(5):
                try:
                    store.migrate()
                    break
                except DBAPIError as exc:
                    # Another process creating the same tables at the same moment.
                    if attempt == 4 or (not _retryable(exc) and "already exists" not in str(exc)):
                        raise
                    time.sleep(0.2 * (attempt + 1))
        except StoreError:
            engine.dispose()
            raise
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"{display}: {_short(exc)}") from None
        return store

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def migrate(
        self,
        migrations: Mapping[int, schema.Migration] | None = None,
        version: int = schema.SCHEMA_VERSION,
    ) -> int:
        """Create missing tables and upgrade to ``version``; returns the version found before.

        0 means a new database. Raises :class:`StoreError` for a newer schema.
        """
        steps = schema.MIGRATIONS if migrations is None else migrations
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Two replicas starting at once must not both create the tables.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            schema.metadata.create_all(conn, checkfirst=True)
            stored = schema.stored_version(conn, schema.meta)
            found = stored or 0
            if found > version:
                raise StoreError(
                    f"{self.display_url}: the state database has schema version {found}, newer "
                    f"than this netadvisor's {version}; upgrade netadvisor"
                )
            # A new database gets today's tables from create_all; an older one is upgraded
            # step by step (create_all has only added the tables it lacked).
            for target in range(found + 1, version + 1) if found else ():
                steps[target](conn)
            schema.record_version(conn, schema.meta, version, stored)
        return found

    def schema_version(self) -> int:
        """The schema version the database holds."""
        with self.engine.connect() as conn:
            stored = schema.stored_version(conn, schema.meta)
            conn.rollback()
        return stored or 0

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back on an exception."""
        with self.engine.begin() as conn:
            yield Tx(conn)

    def run(self, work: Any, attempts: int = 4) -> Any:
        """``work(tx)`` in a transaction, retried when the database reports a conflict.

        Conflicts are deadlocks and serialization failures on PostgreSQL, and a unique key
        inserted by a concurrent transaction; anything else is raised.
        """
        for attempt in range(attempts):
            try:
                with self.transaction() as tx:
                    return work(tx)
            except DBAPIError as exc:
                if attempt == attempts - 1 or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def _retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in {"40001", "40P01", "23505"}:
        return True
    return "database is locked" in str(exc.orig)


def _refuse_damaged(engine: Engine, display: str) -> None:
    """Raise :class:`StoreError` when SQLite's ``quick_check`` finds the file damaged."""
    try:
        raw = engine.raw_connection()
        try:
            problem = faults.quick_check(raw.driver_connection)
        finally:
            raw.close()
    except (SQLAlchemyError, sqlite3.DatabaseError) as exc:
        if _busy(exc):
            return  # another process holds a lock (creating or writing it): not a damaged file
        problem = _short(exc)
    if problem is not None:
        raise StoreError(
            f"{display}: the SQLite file is damaged (quick_check: {problem}); restore it from "
            "a backup, or move it away to start a new one"
        )


def _busy(exc: BaseException) -> bool:
    """SQLite answered that the file is locked or busy, which says nothing about damage."""
    text_ = str(getattr(exc, "orig", None) or exc).lower()
    return "locked" in text_ or "busy" in text_


def _short(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text_[0] if text_ else type(exc).__name__


def store_figures(store: Store) -> StoreFigures:
    """What the store says for the metrics read at scrape time (one short transaction)."""
    with store.transaction() as tx:
        clusters = tx.clusters(ClusterState.ACTIVE)
        matches = tx.matches(None, MatchState.OPEN)
    open_matches: dict[tuple[str, str], int] = {}
    for match in matches:
        key = (match.snapshot.severity or "unrated", match.advisory_id)
        open_matches[key] = open_matches.get(key, 0) + 1
    return StoreFigures(
        open_matches=open_matches,
        clusters=len(clusters),
        unreachable={c.name: c.unreadable_since for c in clusters if c.unreadable_since},
        last_success={c.name: c.last_ok for c in clusters if c.last_ok},
    )
