"""The daily digest: per channel, what is new, resolved and open, what is unknown and why,
which clusters could not be read and since when, and which mutes are about to expire.

:func:`build_digest` is pure (records in, :class:`Digest` out, ``now`` given); :func:`collect`
reads the records of every channel from the store. Sending is the tracker's job (a digest is a
notice like any other, delivered through the outbox).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from jobs.notify import Routing
from jobs.store import ClusterRecord, ClusterState, MatchRecord, MatchState, MuteRecord, Tx

__all__ = [
    "TERMINAL",
    "Digest",
    "DigestMatch",
    "ExpiringMute",
    "UnreadableCluster",
    "UpstreamNote",
    "build_digest",
    "collect",
]

TERMINAL: Final = "terminal"
"""The channel key of digests printed on the terminal (no chat service configured)."""
MUTE_HORIZON: Final = timedelta(days=3)
"""Mutes expiring within this time are listed."""
SEVERITIES: Final = ("critical", "high", "medium", "low", "none")

JSON = dict[str, Any]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _untime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class DigestMatch:
    """One match as the digest lists it."""

    cluster: str
    cluster_uid: str
    advisory_id: str
    title: str
    severity: str | None
    nodes: int
    """Affected (or, for unknowns, undecided) nodes."""
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str = ""
    """Closed: why; stale: why; unknown: what it depends on."""
    stale_since: datetime | None = None

    def to_json(self) -> JSON:
        """JSON form."""
        return {
            "cluster": self.cluster,
            "cluster_uid": self.cluster_uid,
            "advisory_id": self.advisory_id,
            "title": self.title,
            "severity": self.severity,
            "nodes": self.nodes,
            "opened_at": _time(self.opened_at),
            "closed_at": _time(self.closed_at),
            "reason": self.reason,
            "stale_since": _time(self.stale_since),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> DigestMatch:
        """Inverse of :meth:`to_json`."""
        return DigestMatch(
            cluster=data["cluster"],
            cluster_uid=data["cluster_uid"],
            advisory_id=data["advisory_id"],
            title=data["title"],
            severity=data["severity"],
            nodes=int(data["nodes"]),
            opened_at=_untime(data["opened_at"]),
            closed_at=_untime(data["closed_at"]),
            reason=data["reason"],
            stale_since=_untime(data["stale_since"]),
        )


@dataclass(frozen=True, slots=True)
class UnreadableCluster:
    """A cluster that could not be read at its last scan."""

    name: str
    uid: str
    since: datetime
    error: str

    def to_json(self) -> JSON:
        """JSON form."""
        return {
            "name": self.name,
            "uid": self.uid,
            "since": self.since.isoformat(),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ExpiringMute:
    """A mute that ends soon."""

    id: int
    scope: str
    reason: str
    created_by: str
    expires_at: datetime

    def to_json(self) -> JSON:
        """JSON form."""
        return {
            "id": self.id,
            "scope": self.scope,
            "reason": self.reason,
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class UpstreamNote:
    """A change upstream (a fix merged or released, an issue closed...) since the last sync."""

    advisories: tuple[str, ...]
    text: str
    at: datetime

    def to_json(self) -> JSON:
        """JSON form."""
        return {"advisories": list(self.advisories), "text": self.text, "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class Digest:
    """One channel's digest."""

    channel: str
    """The channel as configured, or :data:`TERMINAL`."""
    at: datetime
    since: datetime | None
    """The previous digest of this channel (None: the first one)."""
    new: tuple[DigestMatch, ...] = ()
    """Opened since the previous digest and still open."""
    resolved: tuple[DigestMatch, ...] = ()
    """Resolved since the previous digest."""
    open: tuple[DigestMatch, ...] = ()
    """Every open match, worst severity first, then by cluster."""
    unknown: tuple[DigestMatch, ...] = ()
    """Verdicts that depend on facts nobody knows, with what they depend on."""
    unreadable: tuple[UnreadableCluster, ...] = ()
    expiring_mutes: tuple[ExpiringMute, ...] = ()
    demo: bool = False
    """Every cluster in it is demo data."""
    clusters: int = 0
    """How many clusters it covers."""
    upstream: tuple[UpstreamNote, ...] = ()
    """Upstream changes since the previous digest about advisories that concern the channel
    (every change for the default channel)."""

    def open_by_severity(self) -> dict[str, int]:
        """Open matches per severity, worst first (severities with none left out)."""
        counts = Counter(m.severity or "none" for m in self.open)
        return {s: counts[s] for s in SEVERITIES if counts[s]}

    def open_by_cluster(self) -> dict[str, int]:
        """Open matches per cluster, by name."""
        counts = Counter(m.cluster for m in self.open)
        return dict(sorted(counts.items()))

    @property
    def empty(self) -> bool:
        """Nothing to say at all."""
        return not (
            self.upstream
            or self.new
            or self.resolved
            or self.open
            or self.unknown
            or self.unreadable
            or self.expiring_mutes
        )

    def to_json(self) -> JSON:
        """JSON form (also ``netadvisor digest --json``)."""
        return {
            "type": "digest",
            "channel": self.channel,
            "at": self.at.isoformat(),
            "since": _time(self.since),
            "new": [m.to_json() for m in self.new],
            "resolved": [m.to_json() for m in self.resolved],
            "open": [m.to_json() for m in self.open],
            "open_by_severity": self.open_by_severity(),
            "open_by_cluster": self.open_by_cluster(),
            "unknown": [m.to_json() for m in self.unknown],
            "unreadable": [c.to_json() for c in self.unreadable],
            "expiring_mutes": [m.to_json() for m in self.expiring_mutes],
            "demo": self.demo,
            "clusters": self.clusters,
            "upstream": [n.to_json() for n in self.upstream],
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Digest:
        """Inverse of :meth:`to_json`."""

        def matches(key: str) -> tuple[DigestMatch, ...]:
            return tuple(DigestMatch.from_json(m) for m in data[key])

        return Digest(
            channel=data["channel"],
            at=datetime.fromisoformat(data["at"]),
            since=_untime(data["since"]),
            new=matches("new"),
            resolved=matches("resolved"),
            open=matches("open"),
            unknown=matches("unknown"),
            unreadable=tuple(
                UnreadableCluster(
                    c["name"], c["uid"], datetime.fromisoformat(c["since"]), c["error"]
                )
                for c in data["unreadable"]
            ),
            expiring_mutes=tuple(
                ExpiringMute(
                    m["id"],
                    m["scope"],
                    m["reason"],
                    m["created_by"],
                    datetime.fromisoformat(m["expires_at"]),
                )
                for m in data["expiring_mutes"]
            ),
            demo=bool(data["demo"]),
            clusters=int(data.get("clusters", 0)),
            upstream=tuple(
                UpstreamNote(tuple(n["advisories"]), n["text"], datetime.fromisoformat(n["at"]))
                for n in data.get("upstream", [])
            ),
        )


def _severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _entry(match: MatchRecord, cluster: ClusterRecord) -> DigestMatch:
    snap = match.snapshot
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
    """The digest of ``channel``: clusters routed there (every cluster without ``routing``).

    Retired and replaced clusters are left out.
    """
    mine = {
        c.uid: c
        for c in clusters
        if c.state is ClusterState.ACTIVE
        and (routing is None or routing.channel_for(c.labels) == channel)
    }
    entries = [(m, mine[m.cluster_uid]) for m in matches if m.cluster_uid in mine]

    def order(item: DigestMatch) -> tuple[int, str, str]:
        return (_severity_rank(item.severity), item.cluster, item.advisory_id)

    open_ = sorted((_entry(m, c) for m, c in entries if m.state is MatchState.OPEN), key=order)
    opened = {
        (m.cluster_uid, m.advisory_id)
        for m, _ in entries
        if m.state is MatchState.OPEN
        and m.opened_at is not None
        and (since is None or m.opened_at > since)
    }
    new = [e for e in open_ if (e.cluster_uid, e.advisory_id) in opened]
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
    mutes = tx.mutes()
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
