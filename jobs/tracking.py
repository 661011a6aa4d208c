"""After each scan: what changed for every match, what to tell whom, and telling it once.

A match is keyed by (cluster UID, advisory id). The pure functions here (:func:`diff_cluster`,
:func:`diff_unreadable`, :func:`close_matches`) turn the previous records and a scan's results
into :class:`Transition` s; :class:`Tracker` applies them to the store under a lock per cluster
and queues what must be said as outbox *intents*, which :meth:`Tracker.deliver` sends step by
step (see :mod:`jobs.notify`).

Changes, per match and scan:

======== ============================================================================
new      first seen affected (also after unknown, or after it was closed); or first
         seen unknown (told only in the digest)
open     as before
updated  still affected, but its case, impact or affected nodes changed
resolved the cluster was read and the verdict is ``not_affected``
stale    still open, but the cluster could not be read or the facts behind the
         match became unknown: never reported resolved because data is missing
======== ============================================================================

A cluster that left the configuration is *retired*, and the matches of a cluster whose name now
points at another cluster (another kube-system UID) are closed as *replaced*.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

from advisories.fleet import ClusterFacts, ClusterMatch, ClusterStatus
from advisories.models import Verdict
from advisories.serialize import fixed_versions
from jobs.digest import collect
from jobs.notices import (
    ClusterRef,
    Digest,
    MatchNotice,
    MatchSnapshot,
    MessageRef,
    NodeGroupSummary,
    NoticeKind,
    UpstreamNote,
    notice_from_json,
)
from jobs.notify import (
    DeliveryUncertain,
    NotDelivered,
    Notifier,
    NotifyError,
    Posted,
    Routing,
    StepAction,
)
from jobs.store import (
    ClusterRecord,
    ClusterState,
    IntentRecord,
    IntentState,
    MatchRecord,
    MatchState,
    MuteRecord,
    Store,
    Tx,
)

__all__ = [
    "Change",
    "ClusterOutcome",
    "DeliveryReport",
    "MatchOutcome",
    "Notified",
    "ScanReport",
    "Tracker",
    "Transition",
    "close_matches",
    "describe_changes",
    "diff_cluster",
    "diff_unreadable",
    "snapshot",
]

log = logging.getLogger(__name__)

LEASE: Final = timedelta(minutes=5)
"""How long a worker holds an intent it delivers; another may take it over after that."""
LOOKUP_MARGIN: Final = timedelta(minutes=10)
"""How far before an uncertain attempt the channel history is searched (clock skew)."""
NEWS_WINDOW: Final = timedelta(days=8)
"""Upstream news older than this never reaches a digest (digests are daily)."""
MAX_FAILURES: Final = 3
"""A delivery pass stops after this many failed intents (the service is probably down)."""


class Change(Enum):
    """What a scan changed for a match (the scan JSON's ``change``)."""

    NEW = "new"
    OPEN = "open"
    UPDATED = "updated"
    RESOLVED = "resolved"
    STALE = "stale"


class Notified(Enum):
    """What was done to tell people (the scan JSON's ``notified``)."""

    POSTED = "posted"
    PRINTED = "printed"
    SKIPPED = "skipped"
    """Nothing to tell now (open, stale, unknown: digest), a dry run, or not delivered yet."""
    MUTED = "muted"


# ---------------------------------------------------------------------------------------------
# Pure: snapshots and transitions


def snapshot(
    match: ClusterMatch, node_count: int, catalog_version: str, language: str = "en"
) -> MatchSnapshot:
    """What a message says about ``match`` (affected or unknown)."""
    result = match.result
    advisory = result.advisory
    unknown = match.verdict is Verdict.UNKNOWN
    nodes = match.unknown_nodes if unknown else match.affected_nodes
    groups = tuple(
        NodeGroupSummary(group.kernel, group.os_image, len(group.nodes))
        for group, group_result in match.node_results
        if group_result.verdict is match.verdict and group.nodes
    )
    return MatchSnapshot(
        advisory_id=advisory.id,
        title=advisory.title,
        component=advisory.component,
        verdict=match.verdict.value,
        severity=result.severity.value if result.severity else None,
        impact=result.impact(language),
        recommendation=advisory.recommendation.get(language),
        cases=tuple(c.id for c in result.cases if c.affected or unknown),
        affected_nodes=nodes,
        node_count=node_count,
        triggers=tuple(sorted(result.evidence.items())),
        groups=groups,
        workaround=tuple((w.description, w.command) for w in advisory.workaround),
        references=tuple((r.type, r.url) for r in advisory.references),
        fixed_in=tuple(fixed_versions(advisory)),
        depends_on=result.depends_on,
        depends_text=result.depends_text(),
        catalog_version=catalog_version,
    )


def _listing(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def describe_changes(before: MatchSnapshot, after: MatchSnapshot) -> tuple[str, ...]:
    """What changed between two snapshots of a match, one sentence each."""
    out = []
    if set(before.cases) != set(after.cases):
        out.append(f"case: {', '.join(before.cases) or '-'} -> {', '.join(after.cases) or '-'}")
    if before.impact != after.impact:
        out.append(f"impact is now: {after.impact}")
    added = [n for n in after.affected_nodes if n not in set(before.affected_nodes)]
    removed = [n for n in before.affected_nodes if n not in set(after.affected_nodes)]
    if added:
        out.append(f"newly affected nodes ({len(added)}): {_listing(added)}")
    if removed:
        out.append(f"nodes no longer affected ({len(removed)}): {_listing(removed)}")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of a scan for one match: its change, its new record, and what to tell."""

    advisory_id: str
    change: Change | None
    """None for a match that is not tracked (never affected or unknown)."""
    record: MatchRecord | None
    """The record to save (None: nothing to save)."""
    notice: MatchNotice | None = None
    """What to tell people, if anything."""
    verdict: Verdict | None = None


def _resolved_reason(match: ClusterMatch, now: datetime) -> str:
    result = match.result
    facts = ", ".join(f"{k} {v}" for k, v in sorted(result.evidence.items()))
    cases = ", ".join(c.id for c in result.cases)
    why = f"the scan of {now:%Y-%m-%d %H:%M} UTC read the cluster and it is not affected"
    if facts:
        why += f": {facts}"
    if cases:
        why += f" ({cases})"
    return why


def diff_cluster(
    cluster: ClusterRef,
    previous: Mapping[str, MatchRecord],
    matches: Iterable[ClusterMatch],
    node_count: int,
    catalog_version: str,
    now: datetime,
    language: str = "en",
) -> list[Transition]:
    """Transitions for a cluster that was read: one per advisory, plus withdrawn advisories."""
    out: list[Transition] = []
    seen: set[str] = set()
    for match in matches:
        advisory_id = match.result.advisory.id
        seen.add(advisory_id)
        prev = previous.get(advisory_id)
        if match.verdict is Verdict.NOT_AFFECTED:
            out.append(_not_affected(cluster, prev, match, now))
            continue
        snap = snapshot(match, node_count, catalog_version, language)
        if match.verdict is Verdict.UNKNOWN:
            out.append(_unknown(cluster, prev, snap, now))
        else:
            out.append(_affected(cluster, prev, snap, now))
    for withdrawn, prev in previous.items():
        if withdrawn not in seen and not prev.state.closed:
            out.extend(
                close_matches(
                    cluster,
                    [prev],
                    MatchState.RETIRED,
                    "the advisory is no longer in the catalog",
                    now,
                )
            )
    return out


def _affected(
    cluster: ClusterRef, prev: MatchRecord | None, snap: MatchSnapshot, now: datetime
) -> Transition:
    if prev is None or prev.state is not MatchState.OPEN:
        record = MatchRecord(
            cluster_uid=cluster.uid,
            advisory_id=snap.advisory_id,
            state=MatchState.OPEN,
            snapshot=snap,
            first_seen=prev.first_seen if prev else now,
            last_seen=now,
            changed_at=now,
            opened_at=now,
        )
        notice = MatchNotice(NoticeKind.NEW, cluster, snap, now, opened_at=now)
        return Transition(snap.advisory_id, Change.NEW, record, notice, Verdict.AFFECTED)
    refreshed = replace(prev, snapshot=snap, last_seen=now, stale_since=None, stale_reason=None)
    if prev.snapshot.tracked() == snap.tracked():
        return Transition(snap.advisory_id, Change.OPEN, refreshed, None, Verdict.AFFECTED)
    changes = describe_changes(prev.snapshot, snap)
    notice = MatchNotice(
        NoticeKind.UPDATED,
        cluster,
        snap,
        now,
        previous=prev.snapshot,
        changes=changes,
        opened_at=prev.opened_at,
    )
    record = replace(refreshed, changed_at=now)
    return Transition(snap.advisory_id, Change.UPDATED, record, notice, Verdict.AFFECTED)


def _unknown(
    cluster: ClusterRef, prev: MatchRecord | None, snap: MatchSnapshot, now: datetime
) -> Transition:
    if prev is not None and prev.state is MatchState.OPEN:
        # Affected before, unknown now: data went missing; the match stays open.
        record = replace(
            prev,
            stale_since=prev.stale_since or now,
            stale_reason="the facts it depends on are unknown now"
            + (f" ({snap.depends_text})" if snap.depends_text else ""),
        )
        return Transition(snap.advisory_id, Change.STALE, record, None, Verdict.UNKNOWN)
    if prev is not None and prev.state is MatchState.UNKNOWN:
        record = replace(prev, snapshot=snap, last_seen=now)
        return Transition(snap.advisory_id, Change.OPEN, record, None, Verdict.UNKNOWN)
    record = MatchRecord(
        cluster_uid=cluster.uid,
        advisory_id=snap.advisory_id,
        state=MatchState.UNKNOWN,
        snapshot=snap,
        first_seen=now,
        last_seen=now,
        changed_at=now,
    )
    return Transition(snap.advisory_id, Change.NEW, record, None, Verdict.UNKNOWN)


def _not_affected(
    cluster: ClusterRef, prev: MatchRecord | None, match: ClusterMatch, now: datetime
) -> Transition:
    advisory_id = match.result.advisory.id
    if prev is None or prev.state.closed:
        return Transition(advisory_id, None, None, None, Verdict.NOT_AFFECTED)
    reason = _resolved_reason(match, now)
    record = replace(
        prev,
        state=MatchState.RESOLVED,
        closed_at=now,
        close_reason=reason,
        changed_at=now,
        last_seen=now,
        stale_since=None,
        stale_reason=None,
    )
    notice = None
    if prev.state is MatchState.OPEN:
        notice = MatchNotice(
            NoticeKind.RESOLVED,
            cluster,
            prev.snapshot,
            now,
            reason=reason,
            opened_at=prev.opened_at,
        )
    return Transition(advisory_id, Change.RESOLVED, record, notice, Verdict.NOT_AFFECTED)


def diff_unreadable(
    previous: Mapping[str, MatchRecord], reason: str, now: datetime
) -> list[Transition]:
    """A cluster that could not be read: its open and unknown matches become stale."""
    out = []
    for advisory_id, prev in previous.items():
        if prev.state.closed:
            continue
        record = replace(prev, stale_since=prev.stale_since or now, stale_reason=reason)
        out.append(Transition(advisory_id, Change.STALE, record))
    return out


def close_matches(
    cluster: ClusterRef,
    previous: Iterable[MatchRecord],
    state: MatchState,
    reason: str,
    now: datetime,
) -> list[Transition]:
    """Close every open or unknown match as ``state`` (RETIRED or REPLACED)."""
    kind = NoticeKind.REPLACED if state is MatchState.REPLACED else NoticeKind.RETIRED
    out = []
    for prev in previous:
        if prev.state.closed:
            continue
        record = replace(
            prev,
            state=state,
            closed_at=now,
            close_reason=reason,
            changed_at=now,
            stale_since=None,
            stale_reason=None,
        )
        notice = None
        if prev.state is MatchState.OPEN:
            notice = MatchNotice(
                kind, cluster, prev.snapshot, now, reason=reason, opened_at=prev.opened_at
            )
        out.append(Transition(prev.advisory_id, None, record, notice))
    return out


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """What a scan did for one match (merged into the scan's JSON per result)."""

    advisory_id: str
    change: Change | None
    notified: Notified | None
    state: MatchState | None = None
    stale_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClusterOutcome:
    """What a scan did for one cluster."""

    name: str
    uid: str | None
    matches: Mapping[str, MatchOutcome] = field(default_factory=dict)
    """Advisory id -> outcome."""
    unreadable_since: datetime | None = None
    replaced: str | None = None
    """The UID of the cluster this name pointed at before, when it was replaced."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery pass did."""

    delivered: tuple[str, ...] = ()
    """Intent ids delivered completely."""
    pending: int = 0
    """Intents still waiting (failed, uncertain, waiting for another, or claimed elsewhere)."""
    errors: tuple[str, ...] = ()
    """One line per failure (channel and error; never a secret)."""


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What recording a scan did."""

    clusters: Mapping[str, ClusterOutcome]
    """Cluster name -> outcome."""
    retired: tuple[str, ...] = ()
    """Names of clusters retired (no longer configured)."""
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    printed: int = 0


# ---------------------------------------------------------------------------------------------
# Applying transitions


def _active_mute(mutes: Sequence[MuteRecord], cluster: ClusterRef, advisory_id: str) -> bool:
    return any(m.covers(cluster.uid, advisory_id, cluster.name) for m in mutes)


@dataclass(slots=True)
class _Plan:
    """Per cluster: transitions, intents queued (intent id -> advisory id), notices to print."""

    outcome: dict[str, MatchOutcome] = field(default_factory=dict)
    intents: dict[str, str] = field(default_factory=dict)
    prints: list[MatchNotice] = field(default_factory=list)
    unreadable_since: datetime | None = None
    replaced: str | None = None
    uid: str | None = None


class Tracker:
    """Records scans in the store and tells people what changed.

    ``notifier`` is where messages go (Slack or the terminal); ``console`` prints what must
    not be posted (demo data). ``routing`` chooses channels. With ``dry_run`` nothing is written
    or sent: changes are computed against the stored state and reported.
    """

    def __init__(
        self,
        store: Store | None,
        notifier: Notifier,
        console: Notifier,
        routing: Routing,
        *,
        dry_run: bool = False,
        owner: str | None = None,
        language: str = "en",
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.console = console
        self.routing = routing
        self.dry_run = dry_run or store is None
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.language = language

    # -- recording ----------------------------------------------------------------------------

    def record(
        self,
        scanned: Sequence[tuple[ClusterFacts, Sequence[ClusterMatch]]],
        now: datetime,
        *,
        source: str,
        catalog_version: str,
        retire_missing: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> ScanReport:
        """Diff every cluster against the store, save, queue messages, then deliver them.

        ``retire_missing``: the scan covered the whole configured fleet, so clusters the store
        knows and the scan did not see are retired. ``clock`` gives the time for delivery
        (default: ``now``).
        """
        plans: dict[str, _Plan] = {}
        run_id: int | None = None
        if self.store is not None and not self.dry_run:
            run_id = self.store.run(lambda tx: tx.begin_run(now, source, catalog_version))
        seen_uids = {c.uid for c, _ in scanned if c.uid}
        seen_names = {c.name for c, _ in scanned}
        for cluster, matches in scanned:
            plans[cluster.name] = self._record_cluster(
                cluster, matches, now, catalog_version, run_id, seen_uids
            )
        retired: list[str] = []
        if retire_missing and self.store is not None and not self.dry_run:
            retired = self._retire(seen_uids, seen_names, now)
        if self.store is not None and run_id is not None:
            readable = sum(1 for c, _ in scanned if c.status is ClusterStatus.OK)
            self.store.run(lambda tx: tx.finish_run(run_id, now, len(scanned), readable))
        printed = 0
        for plan in plans.values():
            for notice in plan.prints:
                self._print(notice)
                printed += 1
        delivery = DeliveryReport()
        if not self.dry_run and self.notifier.posts:
            delivery = self.deliver(clock or (lambda: now))
        delivered = set(delivery.delivered)
        clusters: dict[str, ClusterOutcome] = {}
        for name, plan in plans.items():
            outcomes = dict(plan.outcome)
            for intent_id, advisory_id in plan.intents.items():
                current = outcomes[advisory_id]
                notified = Notified.POSTED if intent_id in delivered else Notified.SKIPPED
                outcomes[advisory_id] = replace(current, notified=notified)
            clusters[name] = ClusterOutcome(
                name, plan.uid, outcomes, plan.unreadable_since, plan.replaced
            )
        return ScanReport(clusters, tuple(retired), delivery, printed)

    def _print(self, notice: MatchNotice) -> None:
        for step in self.console.plan(notice, "", "", None):
            self.console.perform(step, None)

    def _record_cluster(
        self,
        cluster: ClusterFacts,
        matches: Sequence[ClusterMatch],
        now: datetime,
        catalog_version: str,
        run_id: int | None,
        seen_uids: set[str],
    ) -> _Plan:
        def work(tx: Tx) -> _Plan:
            return self._cluster_tx(tx, cluster, matches, now, catalog_version, run_id, seen_uids)

        if self.store is None:
            return self._cluster_tx(None, cluster, matches, now, catalog_version, None, seen_uids)
        if self.dry_run:
            with self.store.engine.connect() as conn:
                try:
                    return self._cluster_tx(
                        Tx(conn), cluster, matches, now, catalog_version, None, seen_uids
                    )
                finally:
                    conn.rollback()
        plan: _Plan = self.store.run(work)
        return plan

    def _cluster_tx(
        self,
        tx: Tx | None,
        cluster: ClusterFacts,
        matches: Sequence[ClusterMatch],
        now: datetime,
        catalog_version: str,
        run_id: int | None,
        seen_uids: set[str],
    ) -> _Plan:
        writing = tx is not None and not self.dry_run
        plan = _Plan()
        uid = cluster.uid
        if uid is None and tx is not None:
            # Unreadable before kube-system was read: the cluster is known by its name.
            known = tx.clusters(ClusterState.ACTIVE, name=cluster.name)
            uid = known[0].uid if known else None
        plan.uid = uid
        if run_id is not None and tx is not None:
            tx.record_scan(run_id, now, cluster, uid)
        if uid is None:
            return plan
        record: ClusterRecord | None = None
        if tx is not None:
            if writing:
                record = tx.lock_cluster(uid, cluster.name, now, cluster.labels, cluster.demo)
            else:
                record = tx.cluster(uid)
        ref = ClusterRef(cluster.name, uid, dict(cluster.labels), cluster.demo)
        previous = {m.advisory_id: m for m in tx.matches(uid)} if tx is not None else {}
        transitions: list[Transition] = []
        ok = cluster.status is ClusterStatus.OK
        if ok:
            transitions = diff_cluster(
                ref, previous, matches, len(cluster.nodes), catalog_version, now, self.language
            )
        else:
            reason = f"the cluster could not be read ({cluster.status.value})"
            if cluster.error:
                reason += f": {cluster.error}"
            transitions = diff_unreadable(previous, reason, now)
        if ok and tx is not None:
            transitions += self._replace_namesakes(tx, ref, seen_uids, now, plan, writing)
        mutes = tx.mutes(active_at=now) if tx is not None else []
        for transition in transitions:
            self._apply(tx, ref, transition, mutes, now, plan, writing)
        if writing and tx is not None and record is not None:
            unreadable_since = None if ok else (record.unreadable_since or now)
            tx.save_cluster(
                replace(
                    record,
                    name=cluster.name,
                    labels=dict(cluster.labels),
                    demo=cluster.demo,
                    state=ClusterState.ACTIVE,
                    last_seen=now,
                    last_ok=now if ok else record.last_ok,
                    last_status=cluster.status.value,
                    last_error=cluster.error,
                    unreadable_since=unreadable_since,
                    closed_at=None,
                    replaced_by=None,
                )
            )
        if record is not None and not ok:
            plan.unreadable_since = record.unreadable_since or now
        return plan

    def _replace_namesakes(
        self,
        tx: Tx,
        ref: ClusterRef,
        seen_uids: set[str],
        now: datetime,
        plan: _Plan,
        writing: bool,
    ) -> list[Transition]:
        """Close the matches of another cluster that had this name (the context was re-pointed)."""
        out: list[Transition] = []
        for other in tx.clusters(ClusterState.ACTIVE, name=ref.name):
            if other.uid == ref.uid or other.uid in seen_uids:
                continue
            plan.replaced = other.uid
            old = ClusterRef(other.name, other.uid, dict(other.labels), other.demo)
            reason = (
                f"cluster {ref.name!r} now points at another cluster (kube-system UID "
                f"{other.uid} -> {ref.uid}); the old cluster's matches are closed"
            )
            for transition in close_matches(
                old, tx.matches(other.uid), MatchState.REPLACED, reason, now
            ):
                self._apply(tx, old, transition, [], now, None, writing)
            if writing:
                locked = tx.lock_cluster(other.uid, other.name, now, other.labels, other.demo)
                tx.save_cluster(
                    replace(locked, state=ClusterState.REPLACED, replaced_by=ref.uid, closed_at=now)
                )
        return out

    def _apply(
        self,
        tx: Tx | None,
        cluster: ClusterRef,
        transition: Transition,
        mutes: Sequence[MuteRecord],
        now: datetime,
        plan: _Plan | None,
        writing: bool,
    ) -> None:
        record = transition.record
        notice = transition.notice
        muted = _active_mute(mutes, cluster, transition.advisory_id)
        notified: Notified | None = Notified.SKIPPED if transition.change else None
        # Demo data and clusters no channel is configured for are printed, never posted.
        posting = (
            self.notifier.posts
            and not cluster.demo
            and (
                self.routing.channel_for(cluster.labels) is not None
                or (record is not None and record.channel is not None)
            )
        )
        if record is not None and record.state is MatchState.OPEN and notice is None:
            # An open match nobody was told about (muted then, or printed before Slack was
            # configured, or its post was cancelled): tell it now.
            untold = (
                record.message is None and record.post_intent is None
                if posting
                else record.notified not in (Notified.PRINTED.value, Notified.POSTED.value)
            )
            if untold and record.stale_since is None:
                notice = MatchNotice(
                    NoticeKind.NEW, cluster, record.snapshot, now, opened_at=record.opened_at
                )
        if notice is not None and record is not None:
            closing = notice.kind in (NoticeKind.RESOLVED, NoticeKind.RETIRED, NoticeKind.REPLACED)
            told = (
                record.message is not None or record.post_intent is not None
                if posting
                else record.notified in (Notified.PRINTED.value, Notified.POSTED.value)
            )
            if notice.kind is not NoticeKind.NEW and not told:
                notice = None  # nothing was said, so there is nothing to correct
            elif muted and not closing:
                notice = None
                notified = Notified.MUTED
                record = replace(record, notified=Notified.MUTED.value)
        if self.dry_run:
            notified = Notified.SKIPPED if transition.change else None
            notice = None
        if notice is not None and record is not None:
            if posting:
                channel = record.channel or self.routing.channel_for(cluster.labels) or ""
                assert tx is not None
                depends = record.post_intent if record.message is None else None
                if notice.kind is NoticeKind.NEW:
                    depends = None
                intent = tx.add_intent(
                    now,
                    channel,
                    notice.kind.value,
                    notice.to_json(),
                    cluster_uid=cluster.uid,
                    advisory_id=transition.advisory_id,
                    depends_on=depends,
                )
                if notice.kind is NoticeKind.NEW:
                    record = replace(record, channel=channel, post_intent=intent, message=None)
                if plan is not None and transition.change is not None:
                    plan.intents[intent] = transition.advisory_id
                notified = Notified.SKIPPED
            else:
                if plan is not None:
                    plan.prints.append(notice)
                notified = Notified.PRINTED
                record = replace(record, notified=Notified.PRINTED.value)
        if writing and tx is not None and record is not None:
            tx.save_match(record)
        if plan is not None and transition.change is not None:
            plan.outcome[transition.advisory_id] = MatchOutcome(
                transition.advisory_id,
                transition.change,
                notified,
                record.state if record else None,
                record.stale_since if record else None,
            )

    def _retire(self, seen_uids: set[str], seen_names: set[str], now: datetime) -> list[str]:
        assert self.store is not None
        candidates = self.store.run(lambda tx: tx.clusters(ClusterState.ACTIVE))
        retired = []
        for cluster in candidates:
            if cluster.uid in seen_uids or cluster.name in seen_names:
                continue

            def work(tx: Tx, cluster: ClusterRecord = cluster) -> None:
                locked = tx.lock_cluster(
                    cluster.uid, cluster.name, now, cluster.labels, cluster.demo
                )
                if locked.state is not ClusterState.ACTIVE:
                    return
                ref = ClusterRef(cluster.name, cluster.uid, dict(cluster.labels), cluster.demo)
                for transition in close_matches(
                    ref,
                    tx.matches(cluster.uid),
                    MatchState.RETIRED,
                    "the cluster was removed from the configuration",
                    now,
                ):
                    self._apply(tx, ref, transition, [], now, None, True)
                tx.save_cluster(replace(locked, state=ClusterState.RETIRED, closed_at=now))

            self.store.run(work)
            retired.append(cluster.name)
        return retired

    # -- delivering ---------------------------------------------------------------------------

    def queue_digest(self, digest: Digest, channel: str, now: datetime) -> str:
        """Queue a digest for ``channel`` and record it as the channel's last digest."""
        assert self.store is not None

        def work(tx: Tx) -> str:
            tx.set_last_digest(channel, now)
            return tx.add_intent(now, channel, "digest", digest.to_json())

        intent: str = self.store.run(work)
        return intent

    def send_digests(
        self,
        now: datetime,
        clock: Callable[[], datetime] | None = None,
        news: Callable[[datetime], Sequence[UpstreamNote]] | None = None,
    ) -> tuple[list[Digest], DeliveryReport]:
        """Build every channel's digest now; post it (queued, then delivered) or print it.

        Without a chat service there is one digest of every cluster, printed. A routed channel
        that no cluster goes to gets none; the default channel always gets one.
        """
        assert self.store is not None
        posting = self.notifier.posts
        routing = self.routing if posting else None
        # Upstream news is read first, outside the digest's transaction (its own store).
        notes = news(now - NEWS_WINDOW) if news is not None else ()
        digests = self.store.run(lambda tx: collect(tx, routing, now, news=notes))
        sent: list[Digest] = []
        for digest in digests:
            if posting and digest.channel != self.routing.default and not digest.clusters:
                continue
            sent.append(digest)
            if posting and not self.dry_run:
                self.queue_digest(digest, digest.channel, now)
            elif not self.dry_run:
                for step in self.console.plan(digest, "", digest.channel, None):
                    self.console.perform(step, None)
                self.store.run(lambda tx, d=digest: tx.set_last_digest(d.channel, now))
        report = DeliveryReport()
        if posting and not self.dry_run:
            report = self.deliver(clock or (lambda: now))
        return sent, report

    def deliver(self, clock: Callable[[], datetime]) -> DeliveryReport:
        """Send every pending intent, oldest first, recording each step as it is done.

        Intents another worker holds, or that wait for an intent not yet delivered, stay
        pending. A failure leaves its intent pending for the next pass; after an uncertain
        failure the next pass searches the channel for the message before posting again.
        """
        assert self.store is not None
        pending = self.store.run(lambda tx: tx.intents(IntentState.PENDING))
        done: list[str] = []
        errors: list[str] = []
        blocked_channels: set[str] = set()
        failures = 0
        for intent in pending:
            if failures >= MAX_FAILURES:
                break
            if intent.channel in blocked_channels:
                continue
            if intent.depends_on:
                first = self.store.run(lambda tx, i=intent: tx.intent(i.depends_on or ""))
                if first is not None and first.state is IntentState.PENDING:
                    continue
            if not self.store.run(
                lambda tx, i=intent: tx.claim_intent(i.id, self.owner, clock(), LEASE)
            ):
                continue
            try:
                self._deliver_one(intent, clock)
                done.append(intent.id)
            except NotifyError as exc:
                failures += 1
                message = f"{intent.kind} message for {intent.channel}: {exc}"
                errors.append(message)
                log.warning("not delivered: %s", message)
                maybe = isinstance(exc, DeliveryUncertain)
                self.store.run(
                    lambda tx, i=intent, e=exc, m=maybe: tx.fail_step(i.id, str(e), maybe_posted=m)
                )
                if isinstance(exc, NotDelivered) and exc.channel_problem:
                    blocked_channels.add(intent.channel)
            finally:
                self.store.run(lambda tx, i=intent: tx.release_intent(i.id, self.owner))
        remaining = len(pending) - len(done)
        return DeliveryReport(tuple(done), remaining, tuple(errors))

    def _deliver_one(self, intent: IntentRecord, clock: Callable[[], datetime]) -> None:
        assert self.store is not None
        store = self.store
        notice = notice_from_json(intent.notice)
        original: MessageRef | None = None
        if isinstance(notice, MatchNotice) and notice.kind is not NoticeKind.NEW:
            match = store.run(
                lambda tx: tx.match(intent.cluster_uid or "", intent.advisory_id or "")
            )
            original = match.message if match is not None else None
            if original is None:
                # The message it would edit was never posted: nothing to correct.
                store.run(lambda tx: tx.close_intent(intent.id, clock(), IntentState.CANCELLED))
                return
        steps = self.notifier.plan(notice, intent.id, intent.channel, original)
        progress = dict(intent.progress)
        for number, step in enumerate(steps):
            key = str(number)
            if key in progress:
                continue
            thread = step.thread
            if step.action is StepAction.REPLY and thread is None and step.parent is not None:
                thread = progress[str(step.parent)][1]
            posted: Posted | None = None
            if step.action is StepAction.UPDATE:
                posted = self.notifier.perform(step, thread)
            else:
                if intent.attempt_step == number and intent.attempt_at is not None:
                    since = intent.attempt_at - LOOKUP_MARGIN
                    try:
                        posted = self.notifier.lookup(step, thread, since)
                    except NotifyError as exc:
                        # Still not known whether the earlier attempt posted: never post blind.
                        raise DeliveryUncertain(
                            f"cannot tell whether an earlier attempt posted: {exc}",
                            channel=exc.channel,
                            method=exc.method,
                        ) from exc
                    if posted is not None:
                        log.info(
                            "found message %s of an earlier attempt; not posting again", step.marker
                        )
                if posted is None:
                    store.run(lambda tx, n=number: tx.start_step(intent.id, n, clock()))
                    posted = self.notifier.perform(step, thread)
            store.run(lambda tx, n=number, p=posted: tx.finish_step(intent.id, n, p.channel, p.ts))
            progress[key] = (posted.channel, posted.ts)

        def finish(tx: Tx) -> None:
            tx.close_intent(intent.id, clock())
            if isinstance(notice, MatchNotice) and notice.kind is NoticeKind.NEW and progress:
                match = tx.match(intent.cluster_uid or "", intent.advisory_id or "")
                if match is not None and match.post_intent == intent.id:
                    channel, ts = progress["0"]
                    tx.save_match(
                        replace(
                            match, message=MessageRef(channel, ts), notified=Notified.POSTED.value
                        )
                    )

        store.run(finish)
