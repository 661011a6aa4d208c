"""After each scan: the changes applied to the store, and what they say queued and delivered.

:class:`Tracker` diffs every scanned cluster against the store (:mod:`jobs.changes`), applies the
transitions under a lock per cluster, queues what must be said as outbox intents in the same
transaction, then has the :class:`~jobs.outbox.Outbox` deliver them. Demo data and clusters no
channel is configured for are printed on the console, never posted. It also sends the digests
(:mod:`jobs.digest` builds them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from advisories.fleet import ClusterFacts, ClusterMatch, ClusterStatus
from jobs.changes import (
    Change,
    Notified,
    Transition,
    close_matches,
    diff_cluster,
    diff_unreadable,
)
from jobs.digest import NEWS_WINDOW, at_least, collect
from jobs.notices import (
    SEVERITIES,
    BaselineNotice,
    ClusterRef,
    Digest,
    MatchNotice,
    NoticeKind,
    UpstreamNote,
)
from jobs.notify import Notifier, Routing
from jobs.outbox import BASELINE, DeliveryReport, Outbox, baseline_id
from jobs.store import (
    ClusterRecord,
    ClusterState,
    IntentState,
    MatchState,
    MuteRecord,
    Store,
    Tx,
)

__all__ = ["ClusterOutcome", "MatchOutcome", "ScanReport", "Tracker"]


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
class ScanReport:
    """What recording a scan did."""

    clusters: Mapping[str, ClusterOutcome]
    """Cluster name -> outcome."""
    retired: tuple[str, ...] = ()
    """Names of clusters retired (no longer configured)."""
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    printed: int = 0


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
    or sent: changes are computed against the stored state and reported, and digests are
    printed on the console. ``owner`` names this worker in the outbox's leases.
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
        self.outbox = Outbox(store, notifier, owner=owner) if store is not None else None
        """Where queued messages wait; None without a store."""
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
        if self.store is not None and not self.dry_run and self.notifier.posts:
            self.store.run(lambda tx: self._queue_baselines(tx, now))
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
                ref,
                previous,
                matches,
                len(cluster.nodes),
                catalog_version,
                now,
                self.language,
                nodes_known=cluster.nodes_unknown is None,
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
        severity = record.snapshot.severity if record is not None else None
        posting = (
            self.notifier.posts
            and not cluster.demo
            and (
                self.routing.channel_for(cluster.labels, severity) is not None
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
                channel = record.channel or self.routing.channel_for(cluster.labels, severity) or ""
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

    def _queue_baselines(self, tx: Tx, now: datetime) -> None:
        """Queue a baseline for every channel that has new posts waiting and was never posted
        to: how many clusters go there and what the posts that follow add up to."""
        waiting = {
            i.channel
            for i in tx.intents(IntentState.PENDING)
            if i.kind == NoticeKind.NEW.value and i.advisory_id
        }
        fresh = [
            c
            for c in sorted(waiting)
            if not tx.told_in(c) and tx.last_digest(c) is None and tx.intent(baseline_id(c)) is None
        ]
        if not fresh:
            return
        active = [c for c in tx.clusters(ClusterState.ACTIVE) if not c.demo]
        open_ = [m for m in tx.matches(None, MatchState.OPEN) if m.notified != Notified.MUTED.value]
        for channel in fresh:
            clusters = [c for c in active if channel in self.routing.channels_for(c.labels)]
            matches = [m for m in open_ if m.channel == channel]
            counts = Counter(m.snapshot.severity or "none" for m in matches)
            baseline = BaselineNotice(
                channel=channel,
                at=now,
                clusters=len({c.uid for c in clusters} | {m.cluster_uid for m in matches}),
                affected=len({m.cluster_uid for m in matches}),
                by_severity={s: counts[s] for s in SEVERITIES if counts[s]},
                advisories=len({m.advisory_id for m in matches}),
            )
            tx.add_intent(
                now, channel, BASELINE, baseline.to_json(), intent_id=baseline_id(channel)
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

    def queue_digest(self, digest: Digest, channel: str, now: datetime) -> str:
        """Queue a digest for ``channel`` and record it as the channel's last digest."""
        assert self.outbox is not None
        return self.outbox.queue_digest(digest, channel, now)

    def send_digests(
        self,
        now: datetime,
        clock: Callable[[], datetime] | None = None,
        news: Callable[[datetime], Sequence[UpstreamNote]] | None = None,
        *,
        dry_run: bool | None = None,
        minimum: str | None = None,
    ) -> tuple[list[Digest], DeliveryReport]:
        """Build every channel's digest now; post it (queued, then delivered) or print it.

        Without a chat service there is one digest of every cluster, printed. A routed channel
        that no cluster goes to gets none; the default channel always gets one. ``news`` reads
        upstream's news since a time (the last :data:`jobs.digest.NEWS_WINDOW` is asked for).

        ``dry_run`` (default: the tracker's): the digests that would be sent are printed on the
        console, and nothing is queued, posted or recorded. ``minimum``: only matches at least
        this severe (``digest --severity``).
        """
        assert self.store is not None
        dry = self.dry_run if dry_run is None else dry_run
        posting = self.notifier.posts
        routing = self.routing if posting else None
        # Upstream news is read first, outside the digest's transaction (its own store).
        notes = news(now - NEWS_WINDOW) if news is not None else ()
        collected = self.store.run(lambda tx: collect(tx, routing, now, news=notes))
        digests = [at_least(d, minimum) for d in collected]
        sent: list[Digest] = []
        for digest in digests:
            if posting and digest.channel != self.routing.default and not digest.clusters:
                continue
            sent.append(digest)
            if posting and not dry:
                self.queue_digest(digest, digest.channel, now)
                continue
            for step in self.console.plan(digest, "", digest.channel, None):
                self.console.perform(step, None)
            if not dry:
                self.store.run(lambda tx, d=digest: tx.set_last_digest(d.channel, now))
        report = DeliveryReport()
        if posting and not dry:
            report = self.deliver(clock or (lambda: now))
        return sent, report

    def deliver(self, clock: Callable[[], datetime]) -> DeliveryReport:
        """Send every pending intent (:meth:`jobs.outbox.Outbox.deliver`)."""
        assert self.outbox is not None
        return self.outbox.deliver(clock)
