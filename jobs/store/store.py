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
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Final

from sqlalchemy import (
    Engine,
    Row,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from advisories.fleet import ClusterFacts
from jobs.mutes import CONFIG_SOURCE, ConfigMute
from jobs.notify import MatchSnapshot, MessageRef
from jobs.store import faults, schema
from jobs.store.codec import cluster_from_json, cluster_to_json, content_hash

__all__ = [
    "ClusterRecord",
    "ClusterState",
    "ConfigMuteSync",
    "IntentRecord",
    "IntentState",
    "MatchRecord",
    "MatchState",
    "MuteRecord",
    "Store",
    "StoreError",
    "Tx",
]

_LOCK_KEY: Final = 0x6E657461  # "neta": the advisory lock that serialises schema setup
_MUTES_LOCK_KEY: Final = 0x6D757465  # "mute": serialises syncing the configuration's mutes


class StoreError(Exception):
    """The state database cannot be used; the message names the database (password hidden)."""


class ClusterState(Enum):
    """Whether a cluster is still part of the fleet."""

    ACTIVE = "active"
    RETIRED = "retired"
    """Removed from the configuration."""
    REPLACED = "replaced"
    """Its name now points at another cluster."""


class MatchState(Enum):
    """Where a match (cluster, advisory) stands."""

    OPEN = "open"
    """Affected (possibly stale: see ``stale_since``)."""
    UNKNOWN = "unknown"
    """The verdict depends on facts that are not known; reported in the digest only."""
    RESOLVED = "resolved"
    """The cluster was read and is not affected any more."""
    RETIRED = "retired"
    """The cluster (or the advisory) left the configuration (or the catalog)."""
    REPLACED = "replaced"
    """The cluster's name now points at another cluster."""

    @property
    def closed(self) -> bool:
        """True for RESOLVED, RETIRED and REPLACED."""
        return self in {MatchState.RESOLVED, MatchState.RETIRED, MatchState.REPLACED}


class IntentState(Enum):
    """Delivery state of an outbox intent."""

    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    """A cluster as the store knows it (identified by its kube-system UID)."""

    uid: str
    name: str
    labels: Mapping[str, str]
    demo: bool
    state: ClusterState
    first_seen: datetime
    last_seen: datetime
    last_ok: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    unreadable_since: datetime | None = None
    """Set while the cluster cannot be read: since when."""
    replaced_by: str | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """A tracked match, keyed by (cluster UID, advisory id)."""

    cluster_uid: str
    advisory_id: str
    state: MatchState
    snapshot: MatchSnapshot
    """As last seen (for closed matches: as last seen affected or unknown)."""
    first_seen: datetime
    last_seen: datetime
    changed_at: datetime
    opened_at: datetime | None = None
    """When it (last) became affected."""
    closed_at: datetime | None = None
    close_reason: str | None = None
    stale_since: datetime | None = None
    """Open but not confirmed since then: the cluster was unreadable or the facts unknown."""
    stale_reason: str | None = None
    channel: str | None = None
    """The channel it routes to (as configured)."""
    message: MessageRef | None = None
    """The message that announced it."""
    post_intent: str | None = None
    """The outbox intent posting (or that posted) the message."""
    notified: str | None = None
    """How it was last told: posted, printed, muted or skipped."""


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """A message the jobs intend to send (the outbox), delivered step by step."""

    id: str
    seq: int
    created_at: datetime
    channel: str
    kind: str
    notice: Mapping[str, Any]
    state: IntentState
    cluster_uid: str | None = None
    advisory_id: str | None = None
    depends_on: str | None = None
    """An intent that must be delivered first (the message this one edits or replies to)."""
    attempts: int = 0
    attempt_step: int | None = None
    """The step whose call was started and not recorded: it may have been posted."""
    attempt_at: datetime | None = None
    progress: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Step number -> (channel ID, ts) of what each finished step posted or edited."""
    last_error: str | None = None
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MuteRecord:
    """A mute: matches in its scope are not posted until it expires or is lifted."""

    id: int
    advisory_id: str | None
    """None: every advisory."""
    cluster_uid: str | None
    """None: every cluster."""
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    lifted_at: datetime | None = None
    cluster_name: str | None = None
    """The cluster by name (mutes from the configuration); used when :attr:`cluster_uid` is
    None. Both None: every cluster."""
    source: str | None = None
    """None: a person muted it (Slack, the command line); ``config``: the configuration file's
    ``mutes:`` section, which alone can change or lift it."""

    @property
    def from_config(self) -> bool:
        """The mute comes from the configuration file and cannot be lifted by people."""
        return self.source == CONFIG_SOURCE

    @property
    def every_cluster(self) -> bool:
        """The mute's scope is every cluster."""
        return self.cluster_uid is None and self.cluster_name is None

    def covers(self, cluster_uid: str, advisory_id: str, cluster_name: str | None = None) -> bool:
        """True when the mute's scope includes this match (the cluster by UID, or by name for
        a mute that names it)."""
        if self.advisory_id not in (None, advisory_id):
            return False
        if self.cluster_uid is not None:
            return self.cluster_uid == cluster_uid
        return self.cluster_name is None or self.cluster_name == cluster_name

    def active(self, now: datetime) -> bool:
        """Not lifted and not expired at ``now``."""
        return self.lifted_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class ConfigMuteSync:
    """What :meth:`Tx.sync_config_mutes` changed."""

    added: tuple[int, ...]
    """Ids of the mutes added (new or changed entries)."""
    lifted: tuple[int, ...]
    """Ids of the mutes lifted (entries removed or changed)."""
    kept: int
    """Entries already applied, left as they were."""


# ---------------------------------------------------------------------------------------------


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
        problem = _short(exc)
    if problem is not None:
        raise StoreError(
            f"{display}: the SQLite file is damaged (quick_check: {problem}); restore it from "
            "a backup, or move it away to start a new one"
        )


def _short(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text_[0] if text_ else type(exc).__name__


# ---------------------------------------------------------------------------------------------


def _cluster(row: Row[Any]) -> ClusterRecord:
    return ClusterRecord(
        uid=row.uid,
        name=row.name,
        labels=dict(row.labels),
        demo=bool(row.demo),
        state=ClusterState(row.state),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        last_ok=row.last_ok,
        last_status=row.last_status,
        last_error=row.last_error,
        unreadable_since=row.unreadable_since,
        replaced_by=row.replaced_by,
        closed_at=row.closed_at,
    )


def _match(row: Row[Any]) -> MatchRecord:
    message = None
    if row.message_channel and row.message_ts:
        message = MessageRef(row.message_channel, row.message_ts)
    return MatchRecord(
        cluster_uid=row.cluster_uid,
        advisory_id=row.advisory_id,
        state=MatchState(row.state),
        snapshot=MatchSnapshot.from_json(row.snapshot),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        changed_at=row.changed_at,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        close_reason=row.close_reason,
        stale_since=row.stale_since,
        stale_reason=row.stale_reason,
        channel=row.channel,
        message=message,
        post_intent=row.post_intent,
        notified=row.notified,
    )


def _intent(row: Row[Any]) -> IntentRecord:
    return IntentRecord(
        id=row.id,
        seq=row.seq,
        created_at=row.created_at,
        channel=row.channel,
        kind=row.kind,
        notice=row.notice,
        state=IntentState(row.state),
        cluster_uid=row.cluster_uid,
        advisory_id=row.advisory_id,
        depends_on=row.depends_on,
        attempts=row.attempts,
        attempt_step=row.attempt_step,
        attempt_at=row.attempt_at,
        progress={k: (v[0], v[1]) for k, v in (row.progress or {}).items()},
        last_error=row.last_error,
        done_at=row.done_at,
    )


def _mute(row: Row[Any]) -> MuteRecord:
    return MuteRecord(
        id=row.id,
        advisory_id=row.advisory_id,
        cluster_uid=row.cluster_uid,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        lifted_at=row.lifted_at,
        cluster_name=row.cluster_name,
        source=row.source,
    )


def _match_values(record: MatchRecord) -> dict[str, Any]:
    return {
        "cluster_uid": record.cluster_uid,
        "advisory_id": record.advisory_id,
        "state": record.state.value,
        "snapshot": record.snapshot.to_json(),
        "first_seen": record.first_seen,
        "opened_at": record.opened_at,
        "last_seen": record.last_seen,
        "changed_at": record.changed_at,
        "closed_at": record.closed_at,
        "close_reason": record.close_reason,
        "stale_since": record.stale_since,
        "stale_reason": record.stale_reason,
        "channel": record.channel,
        "message_channel": record.message.channel if record.message else None,
        "message_ts": record.message.ts if record.message else None,
        "post_intent": record.post_intent,
        "notified": record.notified,
    }


def _cluster_values(record: ClusterRecord) -> dict[str, Any]:
    return {
        "uid": record.uid,
        "name": record.name,
        "labels": dict(record.labels),
        "demo": record.demo,
        "state": record.state.value,
        "first_seen": record.first_seen,
        "last_seen": record.last_seen,
        "last_ok": record.last_ok,
        "last_status": record.last_status,
        "last_error": record.last_error,
        "unreadable_since": record.unreadable_since,
        "replaced_by": record.replaced_by,
        "closed_at": record.closed_at,
    }


class Tx:
    """Reads and writes inside one transaction of the state store."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def _dialect(self) -> str:
        return self.conn.dialect.name

    def _insert_ignore(self, table: Any, values: Mapping[str, Any], keys: Sequence[str]) -> None:
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        self.conn.execute(stmt)

    def _upsert(self, table: Any, values: Mapping[str, Any], keys: Sequence[str]) -> None:
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(table).values(**values)
        changes = {k: stmt.excluded[k] for k in values if k not in keys}
        self.conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))

    # -- scan runs ----------------------------------------------------------------------------

    def begin_run(self, now: datetime, source: str, catalog_version: str) -> int:
        """Record the start of a scan run; returns its id."""
        result = self.conn.execute(
            insert(schema.scan_runs).values(
                started_at=now, source=source, catalog_version=catalog_version
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def finish_run(self, run_id: int, now: datetime, clusters: int, readable: int) -> None:
        """Record the end of a scan run."""
        self.conn.execute(
            update(schema.scan_runs)
            .where(schema.scan_runs.c.id == run_id)
            .values(finished_at=now, clusters=clusters, readable=readable)
        )

    def record_scan(
        self, run_id: int, now: datetime, cluster: ClusterFacts, uid: str | None
    ) -> None:
        """Record one cluster's scan and, when it was readable, its facts (stored once each)."""
        facts_hash = None
        if cluster.status.value == "ok":
            data = cluster_to_json(cluster)
            facts_hash = content_hash(data)
            self._insert_ignore(
                schema.facts, {"hash": facts_hash, "data": data, "first_seen": now}, ["hash"]
            )
        self.conn.execute(
            insert(schema.cluster_scans).values(
                run_id=run_id,
                at=now,
                cluster_uid=uid,
                cluster_name=cluster.name,
                status=cluster.status.value,
                error=cluster.error,
                facts_hash=facts_hash,
            )
        )

    def latest_facts(self, cluster: str) -> tuple[datetime, ClusterFacts] | None:
        """The facts of the last successful scan of a cluster (by UID or name), with its time."""
        c = schema.cluster_scans
        query = (
            select(c.c.at, schema.facts.c.data)
            .join(schema.facts, schema.facts.c.hash == c.c.facts_hash)
            .where(or_(c.c.cluster_uid == cluster, c.c.cluster_name == cluster))
            .order_by(c.c.at.desc(), c.c.id.desc())
            .limit(1)
        )
        row = self.conn.execute(query).first()
        if row is None:
            return None
        return row.at, cluster_from_json(row.data)

    def scans(self, cluster_uid: str, limit: int = 20) -> list[tuple[datetime, str, str | None]]:
        """The last scans of a cluster: (time, status, error), newest first."""
        c = schema.cluster_scans
        rows = self.conn.execute(
            select(c.c.at, c.c.status, c.c.error)
            .where(c.c.cluster_uid == cluster_uid)
            .order_by(c.c.at.desc(), c.c.id.desc())
            .limit(limit)
        )
        return [(r.at, r.status, r.error) for r in rows]

    def prune(self, before: datetime) -> int:
        """Forget scan runs that started before ``before`` and facts no scan refers to.

        The last scan of each cluster is always kept. Returns the number of runs removed.
        """
        c = schema.cluster_scans
        newest = select(func.max(c.c.run_id)).group_by(c.c.cluster_name).scalar_subquery()
        keep = select(c.c.run_id).where(c.c.run_id.in_(newest))
        runs = schema.scan_runs
        result = self.conn.execute(
            delete(runs).where(and_(runs.c.started_at < before, runs.c.id.not_in(keep)))
        )
        # SQLite applies ON DELETE CASCADE only with foreign keys on; do it explicitly.
        self.conn.execute(delete(c).where(c.c.run_id.not_in(select(runs.c.id))))
        used = select(c.c.facts_hash).where(c.c.facts_hash.is_not(None))
        self.conn.execute(delete(schema.facts).where(schema.facts.c.hash.not_in(used)))
        return int(result.rowcount or 0)

    # -- clusters -----------------------------------------------------------------------------

    def lock_cluster(
        self, uid: str, name: str, now: datetime, labels: Mapping[str, str], demo: bool = False
    ) -> ClusterRecord:
        """The cluster's record, created if new, locked until the transaction ends."""
        self._insert_ignore(
            schema.clusters,
            {
                "uid": uid,
                "name": name,
                "labels": dict(labels),
                "demo": demo,
                "state": ClusterState.ACTIVE.value,
                "first_seen": now,
                "last_seen": now,
            },
            ["uid"],
        )
        row = self.conn.execute(
            select(schema.clusters).where(schema.clusters.c.uid == uid).with_for_update()
        ).one()
        return _cluster(row)

    def save_cluster(self, record: ClusterRecord) -> None:
        """Write a cluster's record."""
        self._upsert(schema.clusters, _cluster_values(record), ["uid"])

    def cluster(self, uid: str) -> ClusterRecord | None:
        """One cluster by UID."""
        row = self.conn.execute(select(schema.clusters).where(schema.clusters.c.uid == uid)).first()
        return _cluster(row) if row else None

    def clusters(self, *states: ClusterState, name: str | None = None) -> list[ClusterRecord]:
        """Clusters in the given states (all when none), by name; only ``name``'s if given."""
        query = select(schema.clusters).order_by(schema.clusters.c.name, schema.clusters.c.uid)
        if name is not None:
            query = query.where(schema.clusters.c.name == name)
        if states:
            query = query.where(schema.clusters.c.state.in_([s.value for s in states]))
        return [_cluster(r) for r in self.conn.execute(query)]

    # -- matches ------------------------------------------------------------------------------

    def matches(self, cluster_uid: str | None = None, *states: MatchState) -> list[MatchRecord]:
        """Matches of one cluster (all when None) in the given states (all when none)."""
        m = schema.matches
        query = select(m).order_by(m.c.cluster_uid, m.c.advisory_id)
        if cluster_uid is not None:
            query = query.where(m.c.cluster_uid == cluster_uid)
        if states:
            query = query.where(m.c.state.in_([s.value for s in states]))
        return [_match(r) for r in self.conn.execute(query)]

    def match(self, cluster_uid: str, advisory_id: str) -> MatchRecord | None:
        """One match."""
        m = schema.matches
        row = self.conn.execute(
            select(m).where(and_(m.c.cluster_uid == cluster_uid, m.c.advisory_id == advisory_id))
        ).first()
        return _match(row) if row else None

    def save_match(self, record: MatchRecord) -> None:
        """Write a match."""
        self._upsert(schema.matches, _match_values(record), ["cluster_uid", "advisory_id"])

    # -- the outbox ---------------------------------------------------------------------------

    def add_intent(
        self,
        now: datetime,
        channel: str,
        kind: str,
        notice: Mapping[str, Any],
        *,
        cluster_uid: str | None = None,
        advisory_id: str | None = None,
        depends_on: str | None = None,
        intent_id: str | None = None,
    ) -> str:
        """Queue a message to deliver; returns the intent's id.

        With ``intent_id`` (32 characters, derived from what the message is about) the message
        is queued once: when an intent of that id exists, whatever its state, nothing is added.
        """
        values = {
            "id": intent_id or uuid.uuid4().hex,
            "created_at": now,
            "channel": channel,
            "kind": kind,
            "notice": dict(notice),
            "cluster_uid": cluster_uid,
            "advisory_id": advisory_id,
            "depends_on": depends_on,
            "state": IntentState.PENDING.value,
            "attempts": 0,
            "progress": {},
        }
        if intent_id is None:
            self.conn.execute(insert(schema.intents).values(**values))
        else:
            self._insert_ignore(schema.intents, values, ["id"])
        return str(values["id"])

    def intent(self, intent_id: str) -> IntentRecord | None:
        """One intent."""
        row = self.conn.execute(
            select(schema.intents).where(schema.intents.c.id == intent_id)
        ).first()
        return _intent(row) if row else None

    def intents(self, *states: IntentState) -> list[IntentRecord]:
        """Intents in the given states (all when none), oldest first."""
        query = select(schema.intents).order_by(schema.intents.c.seq)
        if states:
            query = query.where(schema.intents.c.state.in_([s.value for s in states]))
        return [_intent(r) for r in self.conn.execute(query)]

    def claim_intent(self, intent_id: str, owner: str, now: datetime, lease: timedelta) -> bool:
        """Take the intent for ``lease`` unless another worker holds it; True when taken."""
        i = schema.intents
        result = self.conn.execute(
            update(i)
            .where(
                and_(
                    i.c.id == intent_id,
                    i.c.state == IntentState.PENDING.value,
                    or_(
                        i.c.claimed_until.is_(None),
                        i.c.claimed_until < now,
                        i.c.claimed_by == owner,
                    ),
                )
            )
            .values(claimed_by=owner, claimed_until=now + lease)
        )
        return bool(result.rowcount)

    def release_intent(self, intent_id: str, owner: str) -> None:
        """Give a claimed intent back."""
        i = schema.intents
        self.conn.execute(
            update(i)
            .where(and_(i.c.id == intent_id, i.c.claimed_by == owner))
            .values(claimed_by=None, claimed_until=None)
        )

    def start_step(self, intent_id: str, step: int, now: datetime) -> None:
        """Record that a step's call is starting: from now on it may have been posted."""
        i = schema.intents
        self.conn.execute(
            update(i)
            .where(i.c.id == intent_id)
            .values(attempt_step=step, attempt_at=now, attempts=i.c.attempts + 1)
        )

    def finish_step(self, intent_id: str, step: int, channel: str, ts: str) -> None:
        """Record what a step posted or edited."""
        record = self.intent(intent_id)
        assert record is not None
        progress = {k: list(v) for k, v in record.progress.items()}
        progress[str(step)] = [channel, ts]
        self.conn.execute(
            update(schema.intents)
            .where(schema.intents.c.id == intent_id)
            .values(progress=progress, attempt_step=None, last_error=None)
        )

    def fail_step(self, intent_id: str, error: str, *, maybe_posted: bool) -> None:
        """Record a failure; unless the message may have been stored, the step is retried as new."""
        values: dict[str, Any] = {"last_error": error[:1000]}
        if not maybe_posted:
            values["attempt_step"] = None
        self.conn.execute(
            update(schema.intents).where(schema.intents.c.id == intent_id).values(**values)
        )

    def close_intent(
        self, intent_id: str, now: datetime, state: IntentState = IntentState.DONE
    ) -> None:
        """Mark an intent delivered (or cancelled)."""
        self.conn.execute(
            update(schema.intents)
            .where(schema.intents.c.id == intent_id)
            .values(state=state.value, done_at=now, claimed_by=None, claimed_until=None)
        )

    # -- mutes --------------------------------------------------------------------------------

    def add_mute(
        self,
        now: datetime,
        reason: str,
        created_by: str,
        *,
        advisory_id: str | None = None,
        cluster_uid: str | None = None,
        expires_at: datetime | None = None,
        cluster_name: str | None = None,
    ) -> int:
        """Mute matches of an advisory, a cluster, or both; returns the mute's id.

        The cluster is its UID, or its name when it has not been scanned yet (a configured
        cluster); with both, the UID decides and the name is shown."""
        result = self.conn.execute(
            insert(schema.mutes).values(
                advisory_id=advisory_id,
                cluster_uid=cluster_uid,
                cluster_name=cluster_name,
                reason=reason,
                created_by=created_by,
                created_at=now,
                expires_at=expires_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def lift_mute(self, mute_id: int, now: datetime) -> bool:
        """End a person's mute now; False when there is no such active mute. A mute from the
        configuration file is never lifted here (see :meth:`sync_config_mutes`)."""
        m = schema.mutes
        result = self.conn.execute(
            update(m)
            .where(
                and_(
                    m.c.id == mute_id,
                    m.c.lifted_at.is_(None),
                    or_(m.c.source.is_(None), m.c.source != CONFIG_SOURCE),
                )
            )
            .values(lifted_at=now)
        )
        return bool(result.rowcount)

    def mute(self, mute_id: int) -> MuteRecord | None:
        """One mute by id, whatever its state."""
        row = self.conn.execute(select(schema.mutes).where(schema.mutes.c.id == mute_id)).first()
        return _mute(row) if row is not None else None

    def mutes(self, active_at: datetime | None = None) -> list[MuteRecord]:
        """Every mute, or those active at ``active_at``."""
        records = [_mute(r) for r in self.conn.execute(select(schema.mutes).order_by("id"))]
        if active_at is not None:
            records = [r for r in records if r.active(active_at)]
        return records

    def sync_config_mutes(self, entries: Sequence[ConfigMute], now: datetime) -> ConfigMuteSync:
        """Make the mutes from the configuration file what ``entries`` say.

        An entry already in the table (same content, see :meth:`ConfigMute.key`) is kept as it
        is, expiry included, even when it has expired; a new or changed entry is added (its
        ``days`` count from ``now``); a configuration mute whose entry is gone is lifted at
        ``now``. Serialised across processes (an advisory lock on PostgreSQL; SQLite writes one
        transaction at a time), so replicas starting together add each entry once.
        """
        m = schema.mutes
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MUTES_LOCK_KEY})
        rows = self.conn.execute(
            select(m.c.id, m.c.config_key).where(
                and_(m.c.source == CONFIG_SOURCE, m.c.lifted_at.is_(None))
            )
        ).all()
        present = {row.config_key: row.id for row in rows}
        wanted = {entry.key(): entry for entry in entries}
        removed = [mute_id for key, mute_id in present.items() if key not in wanted]
        if removed:
            self.conn.execute(update(m).where(m.c.id.in_(removed)).values(lifted_at=now))
        added = []
        for key, entry in wanted.items():
            if key in present:
                continue
            result = self.conn.execute(
                insert(m).values(
                    advisory_id=entry.advisory_id,
                    cluster_uid=None,
                    cluster_name=entry.cluster,
                    reason=entry.reason,
                    created_by=CONFIG_SOURCE,
                    created_at=now,
                    expires_at=entry.ends_at(now),
                    source=CONFIG_SOURCE,
                    config_key=key,
                )
            )
            assert result.inserted_primary_key is not None
            added.append(int(result.inserted_primary_key[0]))
        return ConfigMuteSync(tuple(added), tuple(removed), len(wanted) - len(added))

    # -- digests ------------------------------------------------------------------------------

    def last_digest(self, channel: str) -> datetime | None:
        """When the last digest went to ``channel``."""
        row = self.conn.execute(
            select(schema.digests.c.last_at).where(schema.digests.c.channel == channel)
        ).first()
        return row[0] if row else None

    def set_last_digest(self, channel: str, at: datetime) -> None:
        """Record that a digest went to ``channel``."""
        self._upsert(schema.digests, {"channel": channel, "last_at": at}, ["channel"])
