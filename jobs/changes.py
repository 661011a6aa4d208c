"""What a scan changed for every match, and what to tell whom: pure functions, no I/O.

A match is keyed by (cluster UID, advisory id). :func:`diff_cluster`, :func:`diff_unreadable`
and :func:`close_matches` turn the previous records and a scan's results into
:class:`Transition` s; :class:`jobs.tracker.Tracker` applies them to the store under a lock per
cluster and queues what must be said in the outbox (:mod:`jobs.outbox`).

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from advisories.fleet import ClusterMatch
from advisories.models import Verdict
from advisories.serialize import fixed_versions
from advisories.wording import fact_name
from jobs.notices import ClusterRef, MatchNotice, MatchSnapshot, NodeGroupSummary, NoticeKind
from jobs.store import MatchRecord, MatchState

__all__ = [
    "Change",
    "Notified",
    "Transition",
    "close_matches",
    "describe_changes",
    "diff_cluster",
    "diff_unreadable",
    "fact_changes",
    "snapshot",
]


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
    holding = tuple(c.id for c in result.cases if c.affected or unknown)
    return MatchSnapshot(
        advisory_id=advisory.id,
        title=advisory.title,
        component=advisory.component,
        verdict=match.verdict.value,
        severity=result.severity.value if result.severity else None,
        impact=result.impact(language),
        recommendation=advisory.recommendation.get(language),
        cases=holding,
        affected_nodes=nodes,
        node_count=node_count,
        triggers=tuple(sorted(result.evidence.items())),
        groups=groups,
        # Only the workarounds of the case that holds (another case's may do harm here).
        workaround=tuple(
            (w.describe(language), w.command) for w in advisory.workarounds_for(holding)
        ),
        references=tuple((r.type, r.url) for r in advisory.references),
        fixed_in=tuple(fixed_versions(advisory)),
        depends_on=result.depends_on,
        depends_text=result.depends_text(),
        catalog_version=catalog_version,
        uncertain_nodes=() if unknown else tuple(match.unknown_nodes),
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
    # A node that left the affected list because its facts became unknown is uncertain now,
    # not fine.
    uncertain = [n for n in removed if n in set(after.uncertain_nodes)]
    fine = [n for n in removed if n not in set(after.uncertain_nodes)]
    if uncertain:
        count = f"{len(uncertain)} node{'s' if len(uncertain) != 1 else ''}"
        out.append(f"{count} now uncertain (facts unknown): {_listing(uncertain)}")
    if fine:
        out.append(f"nodes no longer affected ({len(fine)}): {_listing(fine)}")
    return tuple(out)


def fact_changes(
    before: Sequence[tuple[str, str]], after: Mapping[str, str], language: str = "en"
) -> tuple[str, ...]:
    """The facts that changed between a match's triggers and a later scan's evidence, each as
    ``kube-proxy mode ipvs → iptables``."""
    out = []
    for key, old in before:
        new = after.get(key)
        if new is not None and new != old:
            out.append(f"{fact_name(key, language)} {old} → {new}")
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
    *,
    nodes_known: bool = True,
) -> list[Transition]:
    """Transitions for a cluster that was read: one per advisory, plus withdrawn advisories.

    ``nodes_known`` False: the node list could not be read in this scan, so which nodes a match
    covers is unknown (not "the whole cluster"): an open match keeps its last known nodes and is
    not *updated* for them.
    """
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
            if not nodes_known and prev is not None and prev.state is MatchState.OPEN:
                snap = _last_known_nodes(snap, prev.snapshot)
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


def _last_known_nodes(snap: MatchSnapshot, before: MatchSnapshot) -> MatchSnapshot:
    """``snap`` with the nodes of ``before``: a failed node read is not news."""
    return replace(
        snap,
        affected_nodes=before.affected_nodes,
        node_count=before.node_count,
        groups=before.groups,
    )


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
    changed = fact_changes(prev.snapshot.triggers, match.result.evidence)
    record = replace(
        prev,
        state=MatchState.RESOLVED,
        closed_at=now,
        close_reason=reason,
        close_changes=changed,
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
            changes=changed,
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
