"""The state database's tables and schema versions (SQLAlchemy Core, SQLite and PostgreSQL).

``meta.schema_version`` says which version of these tables a database holds. The program creates
missing tables and runs :data:`MIGRATIONS` in order on start; a database written by a newer
netadvisor is refused rather than damaged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import insert, select, update

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "UTCDateTime",
    "metadata",
    "record_version",
    "stored_version",
]

SCHEMA_VERSION: Final = 4
"""The version of the tables below (2: mutes from the configuration file; 3: ``replays``,
Slack requests already acted on; 4: ``posts``, one grouped post per channel and advisory, and
``intents.lead``)."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Always an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

clusters = Table(
    "clusters",
    metadata,
    Column("uid", String(64), primary_key=True),
    Column("name", String(253), nullable=False, index=True),
    Column("labels", JSON, nullable=False),
    Column("demo", Boolean, nullable=False, default=False),
    Column("state", String(16), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("last_ok", UTCDateTime),
    Column("last_status", String(16)),
    Column("last_error", Text),
    Column("unreadable_since", UTCDateTime),
    Column("replaced_by", String(64)),
    Column("closed_at", UTCDateTime),
)

scan_runs = Table(
    "scan_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("source", Text, nullable=False),
    Column("catalog_version", String(64), nullable=False),
    Column("clusters", Integer, nullable=False, default=0),
    Column("readable", Integer, nullable=False, default=0),
)

facts = Table(
    "facts",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
)

cluster_scans = Table(
    "cluster_scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("scan_runs.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("cluster_uid", String(64)),
    Column("cluster_name", String(253), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("facts_hash", String(64), ForeignKey("facts.hash")),
    Index("ix_cluster_scans_uid_at", "cluster_uid", "at"),
    Index("ix_cluster_scans_name_at", "cluster_name", "at"),
)

matches = Table(
    "matches",
    metadata,
    Column("cluster_uid", String(64), primary_key=True),
    Column("advisory_id", String(128), primary_key=True),
    Column("state", String(16), nullable=False, index=True),
    Column("snapshot", JSON, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("opened_at", UTCDateTime),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("close_reason", Text),
    # Version 4: the facts whose change resolved it, one per line.
    Column("close_changes", Text),
    Column("stale_since", UTCDateTime),
    Column("stale_reason", Text),
    Column("channel", String(128)),
    Column("message_channel", String(64)),
    Column("message_ts", String(32)),
    Column("post_intent", String(32)),
    Column("notified", String(16)),
)

intents = Table(
    "intents",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("channel", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("cluster_uid", String(64)),
    Column("advisory_id", String(128)),
    Column("notice", JSON, nullable=False),
    Column("depends_on", String(32)),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("attempt_step", Integer),
    Column("attempt_at", UTCDateTime),
    Column("claimed_by", String(64)),
    Column("claimed_until", UTCDateTime),
    Column("progress", JSON, nullable=False),
    Column("last_error", Text),
    Column("done_at", UTCDateTime),
    # Version 4: the intent whose delivery carries this one (a grouped post tells every match
    # notice queued for its channel and advisory at once); the lead names itself.
    Column("lead", String(32)),
)

mutes = Table(
    "mutes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("advisory_id", String(128)),
    Column("cluster_uid", String(64)),
    Column("reason", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("lifted_at", UTCDateTime),
    # Version 2: a mute by cluster name (the configuration's, before the cluster is scanned),
    # and where it comes from: None (a person, through Slack or the command line) or "config"
    # with the entry's content hash, so that the file can be synchronised into the table.
    Column("cluster_name", String(253)),
    Column("source", String(16)),
    Column("config_key", String(64)),
    Index("ix_mutes_source_key", "source", "config_key"),
)

digests = Table(
    "digests",
    metadata,
    Column("channel", String(128), primary_key=True),
    Column("last_at", UTCDateTime, nullable=False),
)

posts = Table(
    "posts",
    metadata,
    # Version 4: the grouped post of an advisory in a channel (as configured), listing every
    # cluster there it affects. A closed post (every cluster resolved) is replaced by a new one
    # when a cluster becomes affected again.
    Column("channel", String(128), primary_key=True),
    Column("advisory_id", String(128), primary_key=True),
    Column("message_channel", String(64), nullable=False),
    Column("message_ts", String(32), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
)

replays = Table(
    "replays",
    metadata,
    # Version 3: a Slack request acted on once (an event's id, a state-changing command's
    # signature), hashed; every replica reads the same table, so a retry or replay that reaches
    # another replica is not acted on again. Rows older than a day are pruned.
    Column("key", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False, index=True),
)

Migration = Callable[[Connection], None]


def _v2_config_mutes(conn: Connection) -> None:
    for column, kind in (
        ("cluster_name", "VARCHAR(253)"),
        ("source", "VARCHAR(16)"),
        ("config_key", "VARCHAR(64)"),
    ):
        conn.exec_driver_sql(f"ALTER TABLE mutes ADD COLUMN {column} {kind}")
    conn.exec_driver_sql("CREATE INDEX ix_mutes_source_key ON mutes (source, config_key)")


def _v3_replays(conn: Connection) -> None:
    # create_all has already added the table to an older database; this keeps the step whole.
    replays.create(conn, checkfirst=True)


def _add_column(conn: Connection, table: str, column: str, kind: str) -> None:
    """``ALTER TABLE table ADD COLUMN column kind`` unless the table has it already."""
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _v4_posts(conn: Connection) -> None:
    posts.create(conn, checkfirst=True)
    _add_column(conn, "intents", "lead", "VARCHAR(32)")
    _add_column(conn, "matches", "close_changes", "TEXT")


MIGRATIONS: Final[Mapping[int, Migration]] = {
    2: _v2_config_mutes,
    3: _v3_replays,
    4: _v4_posts,
}
"""``{n: upgrade}``: ``upgrade`` turns a version ``n - 1`` database into version ``n``.

Version 1 is the first schema; later versions add their upgrade here (``ALTER TABLE``...).
"""


def stored_version(conn: Connection, meta_table: Table) -> int | None:
    """The ``schema_version`` kept in ``meta_table`` (a key/value table); None where none is."""
    found = conn.execute(
        select(meta_table.c.value).where(meta_table.c.key == "schema_version")
    ).scalar_one_or_none()
    return None if found is None else int(found)


def record_version(conn: Connection, meta_table: Table, version: int, found: int | None) -> None:
    """Keep ``version`` as the ``schema_version`` of ``meta_table``, which held ``found``."""
    if found is None:
        conn.execute(insert(meta_table).values(key="schema_version", value=str(version)))
    elif found != version:
        conn.execute(
            update(meta_table)
            .where(meta_table.c.key == "schema_version")
            .values(value=str(version))
        )
