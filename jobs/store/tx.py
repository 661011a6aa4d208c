"""One transaction of the state store: every read and write of scans, matches, the outbox,
mutes and digests (:class:`Tx`), with the rows mapped to and from :mod:`jobs.store.records`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    Row,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from advisories.fleet import ClusterFacts
from jobs.mutes import CONFIG_SOURCE, ConfigMute
from jobs.notices import MatchSnapshot, MessageRef
from jobs.store import schema
from jobs.store.codec import cluster_from_json, cluster_to_json, content_hash
from jobs.store.records import (
    ClusterRecord,
    ClusterState,
    ConfigMuteSync,
    IntentRecord,
    IntentState,
    MatchRecord,
    MatchState,
    MuteRecord,
    PostRecord,
)

__all__ = ["Tx"]

_MUTES_LOCK_KEY: Final = 0x6D757465  # "mute": serialises syncing the configuration's mutes


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
        close_changes=tuple((row.close_changes or "").splitlines()),
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
        claimed_by=row.claimed_by,
        claimed_until=row.claimed_until,
        lead=row.lead,
    )


def _post(row: Row[Any]) -> PostRecord:
    return PostRecord(
        channel=row.channel,
        advisory_id=row.advisory_id,
        message=MessageRef(row.message_channel, row.message_ts),
        opened_at=row.opened_at,
        changed_at=row.changed_at,
        closed_at=row.closed_at,
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
        "close_changes": "\n".join(record.close_changes) or None,
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

    def claim_intent(
        self,
        intent_id: str,
        owner: str,
        now: datetime,
        lease: timedelta,
        *,
        take_over_from: str | None = None,
    ) -> bool:
        """Take the intent for ``lease`` unless another worker holds it; True when taken.

        ``take_over_from``: a worker known to be dead; its lease is taken over if it still
        holds the intent (and only then: a live worker that claimed it since keeps it).
        """
        i = schema.intents
        holders = [i.c.claimed_until.is_(None), i.c.claimed_until < now, i.c.claimed_by == owner]
        if take_over_from is not None:
            holders.append(i.c.claimed_by == take_over_from)
        result = self.conn.execute(
            update(i)
            .where(
                and_(
                    i.c.id == intent_id,
                    i.c.state == IntentState.PENDING.value,
                    or_(*holders),
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

    def lead_intents(self, lead: str, intent_ids: Sequence[str]) -> None:
        """Make ``lead`` carry the delivery of ``intent_ids`` (itself among them)."""
        self.conn.execute(
            update(schema.intents)
            .where(schema.intents.c.id.in_(list(intent_ids)))
            .values(lead=lead)
        )

    # -- grouped posts ------------------------------------------------------------------------

    def post(self, channel: str, advisory_id: str) -> PostRecord | None:
        """The grouped post of ``advisory_id`` in ``channel`` (as configured), if any."""
        p = schema.posts
        row = self.conn.execute(
            select(p).where(and_(p.c.channel == channel, p.c.advisory_id == advisory_id))
        ).first()
        return _post(row) if row else None

    def posts(self, channel: str | None = None) -> list[PostRecord]:
        """Every grouped post (of one channel)."""
        p = schema.posts
        query = select(p).order_by(p.c.channel, p.c.advisory_id)
        if channel is not None:
            query = query.where(p.c.channel == channel)
        return [_post(r) for r in self.conn.execute(query)]

    def save_post(self, record: PostRecord) -> None:
        """Write a grouped post."""
        self._upsert(
            schema.posts,
            {
                "channel": record.channel,
                "advisory_id": record.advisory_id,
                "message_channel": record.message.channel,
                "message_ts": record.message.ts,
                "opened_at": record.opened_at,
                "changed_at": record.changed_at,
                "closed_at": record.closed_at,
            },
            ["channel", "advisory_id"],
        )

    def advisory_matches(self, advisory_id: str, channel: str) -> list[MatchRecord]:
        """The matches of one advisory routed to ``channel`` (as configured)."""
        m = schema.matches
        query = (
            select(m)
            .where(and_(m.c.advisory_id == advisory_id, m.c.channel == channel))
            .order_by(m.c.cluster_uid)
        )
        return [_match(r) for r in self.conn.execute(query)]

    def told_in(self, channel: str) -> bool:
        """Whether anything of netadvisor's was posted in ``channel`` (as configured)."""
        m = schema.matches
        p = schema.posts
        if self.conn.execute(select(p.c.channel).where(p.c.channel == channel).limit(1)).first():
            return True
        told = self.conn.execute(
            select(m.c.cluster_uid)
            .where(and_(m.c.channel == channel, m.c.message_ts.is_not(None)))
            .limit(1)
        ).first()
        return told is not None

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

    # -- posts --------------------------------------------------------------------------------

    def matches_at(self, message: MessageRef) -> list[MatchRecord]:
        """The matches told in ``message`` (a post lists one or several clusters), in every
        state, by cluster UID."""
        m = schema.matches
        query = (
            select(m)
            .where(and_(m.c.message_channel == message.channel, m.c.message_ts == message.ts))
            .order_by(m.c.cluster_uid, m.c.advisory_id)
        )
        return [_match(r) for r in self.conn.execute(query)]
