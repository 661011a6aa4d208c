"""Persistence of upstream tracking: SQLAlchemy tables on the state store's ``Engine``.

Tables (all prefixed ``upstream_``, so they can share a database with the rest of the state):

``upstream_meta``
    key/value: ``schema_version``, and the current sync pass (when it started, whether done).
``upstream_answer``
    per URL the last answer's body, ``ETag``, ``Last-Modified``, next-page link and when upstream
    last confirmed it (the :class:`~jobs.upstream.port.AnswerCache` of the GitHub adapter).
``upstream_reference``
    per reference its last known state (JSON, :mod:`jobs.upstream.serialize`), when it was last
    synced and attempted, and the last error.
``upstream_news``
    every piece of news, kept for the digest (:meth:`UpstreamStore.news_since`).
``upstream_disagreement``
    the current disagreements between upstream and the catalog.

:func:`ensure_schema` is idempotent and records a schema version; a database written by a newer
netadvisor is refused rather than misread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from jobs.store.schema import record_version, stored_version
from jobs.upstream.errors import UpstreamError
from jobs.upstream.models import Disagreement, News, ReferenceState, RefKey, RefRecord, SyncPass
from jobs.upstream.port import StoredAnswer
from jobs.upstream.serialize import (
    disagreement_from_json,
    disagreement_to_json,
    news_from_json,
    news_to_json,
    reference_from_json,
    reference_to_json,
)

__all__ = [
    "SCHEMA_VERSION",
    "UpstreamStore",
    "UpstreamStoreError",
    "ensure_schema",
]

SCHEMA_VERSION: Final = 1

metadata = MetaData()

meta_table = Table(
    "upstream_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

answer_table = Table(
    "upstream_answer",
    metadata,
    Column("url", String(2000), primary_key=True),
    Column("etag", String(400)),
    Column("last_modified", String(100)),
    Column("next_url", Text),
    Column("body", Text, nullable=False),
    Column("fetched_at", DateTime(timezone=True)),
)

reference_table = Table(
    "upstream_reference",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("data", Text),
    Column("synced_at", DateTime(timezone=True)),
    Column("attempted_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("error_at", DateTime(timezone=True)),
)

news_table = Table(
    "upstream_news",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("reference", String(300), nullable=False),
    Column("data", Text, nullable=False),
)

disagreement_table = Table(
    "upstream_disagreement",
    metadata,
    Column("advisory", String(100), primary_key=True),
    Column("line", String(40), primary_key=True),
    Column("data", Text, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)


class UpstreamStoreError(UpstreamError):
    """The state database cannot be used (unreachable, or written by a newer schema)."""


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive; they were written in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _db(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def ensure_schema(engine: Engine) -> None:
    """Create the tables if missing and check the schema version (idempotent)."""
    try:
        metadata.create_all(engine, checkfirst=True)
        with engine.begin() as conn:
            found = stored_version(conn, meta_table)
            if found is not None and found > SCHEMA_VERSION:
                raise UpstreamStoreError(
                    f"the upstream tables have schema version {found}, newer than this "
                    f"netadvisor's {SCHEMA_VERSION}; upgrade netadvisor",
                    engine.url.render_as_string(hide_password=True),
                )
            record_version(conn, meta_table, SCHEMA_VERSION, found)
    except SQLAlchemyError as exc:
        raise UpstreamStoreError(
            f"cannot use the state database: {type(exc).__name__}",
            engine.url.render_as_string(hide_password=True),
        ) from exc


class UpstreamStore:
    """The upstream tables of one database; safe to share between threads.

    Implements :class:`~jobs.upstream.port.AnswerCache` for the GitHub adapter.
    """

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine
        # SQLite allows one writer at a time; serialising here avoids "database is locked".
        self._lock = threading.RLock()

    # -- AnswerCache --------------------------------------------------------------------------

    def get(self, url: str) -> StoredAnswer | None:
        """The stored answer for ``url``."""
        with self._lock, self._engine.connect() as conn:
            row = conn.execute(select(answer_table).where(answer_table.c.url == url)).first()
        if row is None:
            return None
        return StoredAnswer(
            url=row.url,
            body=row.body,
            etag=row.etag,
            last_modified=row.last_modified,
            next_url=row.next_url,
            fetched_at=_utc(row.fetched_at),
        )

    def put(self, answer: StoredAnswer) -> None:
        """Store the answer for ``answer.url``."""
        values = {
            "etag": answer.etag,
            "last_modified": answer.last_modified,
            "next_url": answer.next_url,
            "body": answer.body,
            "fetched_at": _db(answer.fetched_at),
        }
        with self._lock, self._engine.begin() as conn:
            _upsert(conn, answer_table, answer_table.c.url == answer.url, {"url": answer.url},
                    values)  # fmt: skip

    # -- references ---------------------------------------------------------------------------

    def records(self) -> dict[RefKey, RefRecord]:
        """Every reference the store knows, with its state (None if never synced)."""
        with self._lock, self._engine.connect() as conn:
            rows = conn.execute(select(reference_table)).all()
        out: dict[RefKey, RefRecord] = {}
        for row in rows:
            try:
                ref = RefKey.from_id(row.id)
            except ValueError:
                continue
            state = None
            if row.data:
                try:
                    state = reference_from_json(json.loads(row.data))
                except ValueError:
                    state = None  # written by another version: treat as never synced
            out[ref] = RefRecord(
                state=state,
                synced_at=_utc(row.synced_at),
                attempted_at=_utc(row.attempted_at),
                error=row.error,
                error_at=_utc(row.error_at),
            )
        return out

    def states(self) -> dict[RefKey, ReferenceState]:
        """The last known state of every synced reference."""
        return {ref: r.state for ref, r in self.records().items() if r.state is not None}

    def record_state(self, state: ReferenceState, attempted_at: datetime) -> None:
        """A reference was synced: its new state, and no error."""
        values = {
            "data": json.dumps(reference_to_json(state), sort_keys=True),
            "synced_at": _db(state.synced_at),
            "attempted_at": _db(attempted_at),
            "error": None,
            "error_at": None,
        }
        with self._lock, self._engine.begin() as conn:
            _upsert(conn, reference_table, reference_table.c.id == state.ref.id,
                    {"id": state.ref.id}, values)  # fmt: skip

    def record_error(self, ref: RefKey, error: str, attempted_at: datetime) -> None:
        """A reference could not be synced: keep its last state, note the error."""
        values = {"attempted_at": _db(attempted_at), "error": error,
                  "error_at": _db(attempted_at)}  # fmt: skip
        with self._lock, self._engine.begin() as conn:
            _upsert(conn, reference_table, reference_table.c.id == ref.id, {"id": ref.id},
                    values)  # fmt: skip

    # -- passes -------------------------------------------------------------------------------

    def current_pass(self) -> SyncPass:
        """The pass in progress or last finished."""
        meta = self._meta()
        started = meta.get("pass_started_at")
        return SyncPass(
            started_at=_utc(datetime.fromisoformat(started)) if started else None,
            done=meta.get("pass_done", "1") == "1",
        )

    def start_pass(self, now: datetime) -> SyncPass:
        """Begin a new pass at ``now``."""
        self._set_meta({"pass_started_at": now.astimezone(UTC).isoformat(), "pass_done": "0"})
        return SyncPass(started_at=now, done=False)

    def finish_pass(self) -> None:
        """Mark the current pass done: the next run starts a new one."""
        self._set_meta({"pass_done": "1"})

    def _meta(self) -> dict[str, str]:
        with self._lock, self._engine.connect() as conn:
            return {row.key: row.value for row in conn.execute(select(meta_table))}

    def _set_meta(self, values: Mapping[str, str]) -> None:
        with self._lock, self._engine.begin() as conn:
            for key, value in values.items():
                _upsert(conn, meta_table, meta_table.c.key == key, {"key": key},
                        {"value": value})  # fmt: skip

    # -- news and disagreements ---------------------------------------------------------------

    def add_news(self, items: Iterable[News]) -> None:
        """Keep news for the digest."""
        rows = [
            {
                "at": _db(item.at),
                "kind": item.kind.value,
                "reference": item.ref.id,
                "data": json.dumps(news_to_json(item), sort_keys=True),
            }
            for item in items
        ]
        if not rows:
            return
        with self._lock, self._engine.begin() as conn:
            conn.execute(insert(news_table), rows)

    def news_since(self, since: datetime) -> list[News]:
        """News recorded at or after ``since``, oldest first (for the digest)."""
        query = select(news_table.c.data).where(news_table.c.at >= _db(since))
        with self._lock, self._engine.connect() as conn:
            rows = conn.execute(query.order_by(news_table.c.id)).scalars().all()
        out = []
        for data in rows:
            try:
                out.append(news_from_json(json.loads(data)))
            except ValueError:
                continue
        return out

    def disagreements(self) -> list[Disagreement]:
        """The disagreements found by the last sync."""
        with self._lock, self._engine.connect() as conn:
            rows = conn.execute(select(disagreement_table.c.data)).scalars().all()
        out = []
        for data in rows:
            try:
                out.append(disagreement_from_json(json.loads(data)))
            except ValueError:
                continue
        return sorted(out, key=lambda d: (d.advisory, d.line))

    def replace_disagreements(self, items: Sequence[Disagreement], now: datetime) -> None:
        """Keep exactly ``items`` as the current disagreements (each dated when first seen)."""
        with self._lock, self._engine.begin() as conn:
            before = {
                (row.advisory, row.line): (row.data, _utc(row.since))
                for row in conn.execute(select(disagreement_table))
            }
            conn.execute(delete(disagreement_table))
            for item in items:
                data = json.dumps(disagreement_to_json(item), sort_keys=True)
                old_data, old_since = before.get((item.advisory, item.line), (None, None))
                since = old_since if old_data == data and old_since is not None else now
                conn.execute(
                    insert(disagreement_table).values(
                        advisory=item.advisory, line=item.line, data=data, since=_db(since)
                    )
                )


def _upsert(
    conn: Connection,
    table: Table,
    where: Any,
    key: Mapping[str, Any],
    values: Mapping[str, Any],
) -> None:
    """Update the row matching ``where``, or insert it (portable across SQLite and PostgreSQL)."""
    result = conn.execute(update(table).where(where).values(**values))
    if result.rowcount == 0:
        conn.execute(insert(table).values(**key, **values))
