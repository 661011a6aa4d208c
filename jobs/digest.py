"""The daily digest: per channel, what is new, resolved and open, what is unknown and why,
which clusters could not be read and since when, and which mutes are about to expire.

:func:`build_digest` is pure (records in, :class:`~jobs.notices.Digest` out, ``now`` given);
:func:`collect` reads the records of every channel from the store. The digest's values live in
:mod:`jobs.notices`; sending is the outbox's job (a digest is a notice like any other).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from jobs.notices import (
    TERMINAL,
    Digest,
    DigestMatch,
    ExpiringMute,
    UnreadableCluster,
    UpstreamNote,
    severity_rank,
)
from jobs.notify import Routing, severe_enough
from jobs.store import ClusterRecord, ClusterState, MatchRecord, MatchState, MuteRecord, Tx

__all__ = ["MUTE_HORIZON", "NEWS_WINDOW", "at_least", "build_digest", "collect"]

MUTE_HORIZON: Final = timedelta(days=3)
"""Mutes expiring within this time are listed."""
NEWS_WINDOW: Final = timedelta(days=8)
"""Upstream news older than this never reaches a digest (digests are daily)."""


def _muted(
    match: MatchRecord, cluster: ClusterRecord, mutes: Sequence[MuteRecord]
) -> tuple[bool, datetime | None]:
    """Whether one of the (active) ``mutes`` covers the match, and until when: the latest
    expiry of those covering it (None when one of them never expires)."""
    covering = [m for m in mutes if m.covers(cluster.uid, match.advisory_id, cluster.name)]
    if not covering:
        return False, None
    if any(m.expires_at is None for m in covering):
        return True, None
    return True, max(m.expires_at for m in covering if m.expires_at is not None)


def _entry(
    match: MatchRecord,
    cluster: ClusterRecord,
    mutes: Sequence[MuteRecord] = (),
    new: bool = False,
) -> DigestMatch:
    snap = match.snapshot
    muted, until = (False, None)
    if match.state is MatchState.OPEN:
        muted, until = _muted(match, cluster, mutes)
    reason = match.close_reason or match.stale_reason or ""
    if match.state is MatchState.UNKNOWN:
        depends = f"depends on {', '.join(snap.depends_on)}" if snap.depends_on else ""
        reason = "; ".join(p for p in (depends, snap.depends_text) if p)
    return DigestMatch(
        cluster=cluster.name,
        cluster_uid=cluster.uid,
        advisory_id=match.advisory_id,
        title=snap.title,
        severity=snap.severity,
        nodes=len(snap.affected_nodes),
        opened_at=match.opened_at,
        closed_at=match.closed_at,
        reason=reason,
        stale_since=match.stale_since,
        new=new,
        muted=muted,
        muted_until=until,
        message=match.message,
    )


def _scope(mute: MuteRecord, names: Mapping[str, str]) -> str:
    advisory = mute.advisory_id or "every advisory"
    cluster = names.get(mute.cluster_uid, mute.cluster_uid) if mute.cluster_uid else None
    scope = f"{advisory} on {cluster or mute.cluster_name or 'every cluster'}"
    return scope + (" (configuration file)" if mute.from_config else "")


def _concerns(mute: MuteRecord, clusters: Mapping[str, ClusterRecord]) -> bool:
    """The mute is about one of ``clusters`` (by UID, or by name), or about every cluster."""
    if mute.cluster_uid is not None:
        return mute.cluster_uid in clusters
    return mute.cluster_name is None or any(c.name == mute.cluster_name for c in clusters.values())


def build_digest(
    channel: str,
    clusters: Sequence[ClusterRecord],
    matches: Sequence[MatchRecord],
    mutes: Sequence[MuteRecord],
    since: datetime | None,
    now: datetime,
    routing: Routing | None = None,
    mute_horizon: timedelta = MUTE_HORIZON,
    news: Sequence[UpstreamNote] = (),
) -> Digest:
    """The digest of ``channel``: the matches routed there (by labels and severity; every
    match without ``routing``) and the clusters that report there.

    Retired and replaced clusters are left out. Every open match is listed once, in
    :attr:`Digest.open` (by advisory: worst severity first), marked ``new`` when it opened since
    the previous digest (those are :attr:`Digest.new` too) and ``muted`` (with the mute's
    expiry) when a mute active at ``now`` covers it.
    """
    mine = {
        c.uid: c
        for c in clusters
        if c.state is ClusterState.ACTIVE
        and (routing is None or channel in routing.channels_for(c.labels))
    }

    def here(m: MatchRecord, c: ClusterRecord) -> bool:
        # A match is told where it was posted; one not posted goes where its severity routes it.
        if routing is None:
            return True
        if m.channel is not None:
            return m.channel == channel
        return routing.channel_for(c.labels, m.snapshot.severity) == channel

    entries = [
        (m, mine[m.cluster_uid])
        for m in matches
        if m.cluster_uid in mine and here(m, mine[m.cluster_uid])
    ]

    def order(item: DigestMatch) -> tuple[int, str, str]:
        return (severity_rank(item.severity), item.advisory_id, item.cluster)

    active = [m for m in mutes if m.active(now)]

    def opened(m: MatchRecord) -> bool:
        return m.opened_at is not None and (since is None or m.opened_at > since)

    open_ = sorted(
        (_entry(m, c, active, opened(m)) for m, c in entries if m.state is MatchState.OPEN),
        key=order,
    )
    new = [e for e in open_ if e.new]
    resolved = sorted(
        (
            _entry(m, c)
            for m, c in entries
            if m.state is MatchState.RESOLVED
            and m.closed_at is not None
            and (since is None or m.closed_at > since)
        ),
        key=order,
    )
    unknown = sorted((_entry(m, c) for m, c in entries if m.state is MatchState.UNKNOWN), key=order)
    unreadable = tuple(
        UnreadableCluster(c.name, c.uid, c.unreadable_since, c.last_error or c.last_status or "")
        for c in sorted(mine.values(), key=lambda c: c.name)
        if c.unreadable_since is not None
    )
    names = {c.uid: c.name for c in clusters}
    expiring = tuple(
        ExpiringMute(m.id, _scope(m, names), m.reason, m.created_by, m.expires_at)
        for m in mutes
        if m.active(now)
        and m.expires_at is not None
        and m.expires_at <= now + mute_horizon
        and _concerns(m, mine)
    )
    concerned = {m.advisory_id for m, _ in entries if not m.state.closed}
    everything = routing is None or routing.default == channel
    upstream = tuple(
        n
        for n in news
        if (since is None or n.at > since)
        and n.at <= now
        and (everything or concerned & set(n.advisories))
    )
    return Digest(
        channel=channel,
        at=now,
        since=since,
        new=tuple(new),
        resolved=tuple(resolved),
        open=tuple(open_),
        unknown=tuple(unknown),
        unreadable=unreadable,
        expiring_mutes=expiring,
        demo=bool(mine) and all(c.demo for c in mine.values()),
        clusters=len(mine),
        upstream=upstream,
    )


def collect(
    tx: Tx,
    routing: Routing | None,
    now: datetime,
    channels: Sequence[str] | None = None,
    news: Sequence[UpstreamNote] = (),
) -> list[Digest]:
    """Every channel's digest from the store (one :data:`TERMINAL` digest without routing)."""
    clusters = tx.clusters()
    matches = tx.matches()
    mutes = tx.mutes(active_at=now)
    targets = (
        list(channels)
        if channels is not None
        else (list(routing.channels) if routing is not None else [TERMINAL])
    )
    return [
        build_digest(
            channel, clusters, matches, mutes, tx.last_digest(channel), now, routing, news=news
        )
        for channel in targets
    ]


def at_least(digest: Digest, minimum: str | None) -> Digest:
    """The digest with only the matches at least ``minimum`` severe (``--severity``); an
    unknown-severity match passes only without a minimum."""
    if minimum is None:
        return digest

    def kept(items: tuple[DigestMatch, ...]) -> tuple[DigestMatch, ...]:
        return tuple(m for m in items if severe_enough(m.severity, minimum))

    return replace(
        digest,
        new=kept(digest.new),
        resolved=kept(digest.resolved),
        open=kept(digest.open),
        unknown=kept(digest.unknown),
    )
