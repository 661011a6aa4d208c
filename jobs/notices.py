"""Every value the jobs say, and its JSON form for the durable outbox.

The jobs decide *what* to say: a :class:`MatchNotice` (one match is new, updated, resolved,
retired or replaced), a channel's daily :class:`Digest`, upstream news as :class:`NewsNotice`.
These are plain frozen values; the store keeps a match's :class:`MatchSnapshot` and its
:class:`MessageRef`, and the outbox keeps each notice as JSON (:func:`notice_to_json`, read back
by :func:`notice_from_json`) until it is delivered. How a notice looks and is sent is the
:class:`~jobs.notify.Notifier`'s business (:mod:`jobs.notify`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final

__all__ = [
    "SEVERITIES",
    "TERMINAL",
    "BaselineNotice",
    "ClusterRef",
    "Digest",
    "DigestMatch",
    "ExpiringMute",
    "MatchNotice",
    "MatchSnapshot",
    "MessageRef",
    "NewsNotice",
    "NodeGroupSummary",
    "Notice",
    "NoticeKind",
    "PostMember",
    "PostNotice",
    "UnreadableCluster",
    "UpstreamNote",
    "notice_from_json",
    "notice_to_json",
    "severity_rank",
]

TERMINAL: Final = "terminal"
"""The channel key of digests printed on the terminal (no chat service configured)."""
SEVERITIES: Final = ("critical", "high", "medium", "low", "none")

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message that was posted: the channel ID the service answered with, and its ts."""

    channel: str
    ts: str


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """The cluster a notice is about."""

    name: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict)
    demo: bool = False
    """Demo data: printed, never posted."""

    def to_json(self) -> JSON:
        """JSON form, for the outbox."""
        return {"name": self.name, "uid": self.uid, "labels": dict(self.labels), "demo": self.demo}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ClusterRef:
        """Inverse of :meth:`to_json`."""
        return ClusterRef(data["name"], data["uid"], dict(data["labels"]), bool(data["demo"]))


@dataclass(frozen=True, slots=True)
class NodeGroupSummary:
    """Affected nodes sharing a kernel and OS image, as evidence in a message."""

    kernel: str | None
    os_image: str | None
    count: int


@dataclass(frozen=True, slots=True)
class MatchSnapshot:
    """Everything a message says about one match, kept so messages re-render without a catalog.

    Two snapshots of one match differ in :meth:`tracked` attributes when the match *changed*.
    """

    advisory_id: str
    title: str
    component: str
    verdict: str
    """``affected`` or ``unknown``."""
    severity: str | None
    impact: str
    recommendation: str
    cases: tuple[str, ...]
    affected_nodes: tuple[str, ...]
    node_count: int
    """How many nodes the cluster has (0 when nodes were not read)."""
    triggers: tuple[tuple[str, str], ...]
    """The facts that decided, as (fact key, value read), e.g. ("kernel", "3.10.0-1160...")."""
    groups: tuple[NodeGroupSummary, ...] = ()
    """The affected node groups (kernel, OS image, count)."""
    workaround: tuple[tuple[str, str], ...] = ()
    """(description, command) pairs."""
    references: tuple[tuple[str, str], ...] = ()
    """(type, url) pairs."""
    fixed_in: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    depends_text: str = ""
    catalog_version: str = ""
    uncertain_nodes: tuple[str, ...] = ()
    """Nodes whose verdict is unknown while the match is affected (their facts are unknown)."""

    def tracked(self) -> tuple[object, ...]:
        """The attributes whose change makes a match *updated*: case, impact, affected nodes."""
        return (frozenset(self.cases), self.impact, frozenset(self.affected_nodes))

    def to_json(self) -> JSON:
        """JSON form, for the store and the outbox."""
        return {
            "advisory_id": self.advisory_id,
            "title": self.title,
            "component": self.component,
            "verdict": self.verdict,
            "severity": self.severity,
            "impact": self.impact,
            "recommendation": self.recommendation,
            "cases": list(self.cases),
            "affected_nodes": list(self.affected_nodes),
            "node_count": self.node_count,
            "triggers": [list(t) for t in self.triggers],
            "groups": [[g.kernel, g.os_image, g.count] for g in self.groups],
            "workaround": [list(w) for w in self.workaround],
            "references": [list(r) for r in self.references],
            "fixed_in": list(self.fixed_in),
            "depends_on": list(self.depends_on),
            "depends_text": self.depends_text,
            "catalog_version": self.catalog_version,
            "uncertain_nodes": list(self.uncertain_nodes),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> MatchSnapshot:
        """Inverse of :meth:`to_json`."""
        return MatchSnapshot(
            advisory_id=data["advisory_id"],
            title=data["title"],
            component=data["component"],
            verdict=data["verdict"],
            severity=data["severity"],
            impact=data["impact"],
            recommendation=data["recommendation"],
            cases=tuple(data["cases"]),
            affected_nodes=tuple(data["affected_nodes"]),
            node_count=int(data["node_count"]),
            triggers=tuple((str(k), str(v)) for k, v in data["triggers"]),
            groups=tuple(NodeGroupSummary(k, o, int(c)) for k, o, c in data["groups"]),
            workaround=tuple((str(d), str(c)) for d, c in data["workaround"]),
            references=tuple((str(t), str(u)) for t, u in data["references"]),
            fixed_in=tuple(data["fixed_in"]),
            depends_on=tuple(data["depends_on"]),
            depends_text=data["depends_text"],
            catalog_version=data["catalog_version"],
            uncertain_nodes=tuple(data.get("uncertain_nodes") or ()),
        )


class NoticeKind(Enum):
    """Why a match is announced."""

    NEW = "new"
    """First seen affected: a new message."""
    UPDATED = "updated"
    """Case, impact or nodes changed: the message is edited and a reply says what changed."""
    RESOLVED = "resolved"
    """The cluster was read and is no longer affected: edited, with a reply saying when and why."""
    RETIRED = "retired"
    """The cluster left the configuration."""
    REPLACED = "replaced"
    """The cluster's name now points at another cluster (another kube-system UID)."""


@dataclass(frozen=True, slots=True)
class MatchNotice:
    """Something to tell a channel about one match (cluster, advisory)."""

    kind: NoticeKind
    cluster: ClusterRef
    snapshot: MatchSnapshot
    """The match as it is now (for closed matches: as it was last seen affected)."""
    at: datetime
    previous: MatchSnapshot | None = None
    """For UPDATED: the match as last posted."""
    changes: tuple[str, ...] = ()
    """For UPDATED: what changed, one sentence each."""
    reason: str = ""
    """For RESOLVED, RETIRED and REPLACED: why, in words."""
    opened_at: datetime | None = None
    """When the match was first seen affected."""

    def to_json(self) -> JSON:
        """JSON form, for the outbox."""
        return {
            "type": "match",
            "kind": self.kind.value,
            "cluster": self.cluster.to_json(),
            "snapshot": self.snapshot.to_json(),
            "at": self.at.isoformat(),
            "previous": self.previous.to_json() if self.previous else None,
            "changes": list(self.changes),
            "reason": self.reason,
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> MatchNotice:
        """Inverse of :meth:`to_json`."""
        return MatchNotice(
            kind=NoticeKind(data["kind"]),
            cluster=ClusterRef.from_json(data["cluster"]),
            snapshot=MatchSnapshot.from_json(data["snapshot"]),
            at=datetime.fromisoformat(data["at"]),
            previous=MatchSnapshot.from_json(data["previous"]) if data["previous"] else None,
            changes=tuple(data["changes"]),
            reason=data["reason"],
            opened_at=datetime.fromisoformat(data["opened_at"]) if data["opened_at"] else None,
        )


@dataclass(frozen=True, slots=True)
class PostMember:
    """One cluster a grouped post lists: its match as last seen, and whether it still holds."""

    cluster: ClusterRef
    snapshot: MatchSnapshot
    open: bool
    """Still affected; False: struck from the post (resolved, retired or replaced)."""
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    closed_as: str = ""
    """``resolved``, ``retired`` or ``replaced`` (closed members)."""
    changes: tuple[str, ...] = ()
    """Closed members: the facts whose change closed it (``proxy-mode ipvs → iptables``)."""
    reason: str = ""
    """Closed members: why, in words."""
    stale_since: datetime | None = None
    """Open members not confirmed since then (the cluster could not be read...)."""
    muted_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PostNotice:
    """What one grouped post says: every cluster of a channel affected by one advisory.

    Built when the outbox delivers the match notices queued for (channel, advisory): the post
    lists :attr:`members` as they are now; :attr:`events` are what this delivery tells (the
    thread reply under an existing post).
    """

    channel: str
    advisory_id: str
    members: tuple[PostMember, ...]
    events: tuple[MatchNotice, ...]
    at: datetime
    opened_at: datetime | None = None
    """When the post was first posted (None: it is being posted now)."""

    @property
    def open_members(self) -> tuple[PostMember, ...]:
        """The clusters still affected."""
        return tuple(m for m in self.members if m.open)

    @property
    def closed(self) -> bool:
        """No cluster remains affected: the post becomes RESOLVED."""
        return not self.open_members

    @property
    def lead(self) -> MatchSnapshot:
        """The snapshot the post's text follows: the most severe open member's (the last
        member's when none is open)."""
        members = self.open_members or self.members
        return min(members, key=lambda m: severity_rank(m.snapshot.severity)).snapshot


def severity_rank(severity: str | None) -> int:
    """0 for critical, then high...; unrated last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


@dataclass(frozen=True, slots=True)
class BaselineNotice:
    """The first message in a channel nothing was posted to yet: what the grouped posts that
    follow add up to."""

    channel: str
    at: datetime
    clusters: int
    """Clusters whose messages go to this channel."""
    affected: int
    """Of those, clusters with at least one open match."""
    by_severity: Mapping[str, int]
    """Open matches per severity, worst first."""
    advisories: int
    """Distinct advisories among them (one post each)."""

    def to_json(self) -> JSON:
        """JSON form, for the outbox."""
        return {
            "type": "baseline",
            "channel": self.channel,
            "at": self.at.isoformat(),
            "clusters": self.clusters,
            "affected": self.affected,
            "by_severity": dict(self.by_severity),
            "advisories": self.advisories,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> BaselineNotice:
        """Inverse of :meth:`to_json`."""
        return BaselineNotice(
            channel=data["channel"],
            at=datetime.fromisoformat(data["at"]),
            clusters=int(data["clusters"]),
            affected=int(data["affected"]),
            by_severity={str(k): int(v) for k, v in data["by_severity"].items()},
            advisories=int(data["advisories"]),
        )


@dataclass(frozen=True, slots=True)
class NewsNotice:
    """Upstream news told right away to one channel: the clusters there that it concerns.

    Built from a sync's news (:mod:`jobs.news`); plain values, so that the outbox keeps it
    without knowing upstream tracking.
    """

    kind: str
    """What changed upstream (``fix-released``, ``pull-merged``, ``catalog-disagrees``...)."""
    text: str
    """One sentence, e.g. ``kubernetes/kubernetes#122204: fix released in v1.26.15 on the 1.26
    line (via cherry-pick #122900)``."""
    advisories: tuple[str, ...]
    """The advisories that cite the reference."""
    reference: str
    """The web URL of the PR or issue."""
    at: datetime
    """When the sync saw the change."""
    clusters: tuple[str, ...]
    """The clusters of this channel with an open match of one of :attr:`advisories`."""
    line: str | None = None
    tag: str | None = None

    def to_json(self) -> JSON:
        """JSON form, for the outbox."""
        return {
            "type": "news",
            "kind": self.kind,
            "text": self.text,
            "advisories": list(self.advisories),
            "reference": self.reference,
            "at": self.at.isoformat(),
            "clusters": list(self.clusters),
            "line": self.line,
            "tag": self.tag,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> NewsNotice:
        """Inverse of :meth:`to_json`."""
        return NewsNotice(
            kind=data["kind"],
            text=data["text"],
            advisories=tuple(data["advisories"]),
            reference=data["reference"],
            at=datetime.fromisoformat(data["at"]),
            clusters=tuple(data["clusters"]),
            line=data["line"],
            tag=data["tag"],
        )


# -- the digest -------------------------------------------------------------------------------


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
    new: bool = False
    """Opened since the previous digest (and still open)."""
    muted: bool = False
    """An active mute covers it: it stays listed, marked, and is not posted."""
    muted_until: datetime | None = None
    """When the covering mute (the latest-ending one) expires; None with :attr:`muted`: never."""
    message: MessageRef | None = None
    """The post that told it (to link to), if it was posted."""

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
            "new": self.new,
            "muted": self.muted,
            "muted_until": _time(self.muted_until),
            "message": (
                {"channel": self.message.channel, "ts": self.message.ts} if self.message else None
            ),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> DigestMatch:
        """Inverse of :meth:`to_json` (digests queued before ``new``, ``muted``,
        ``muted_until`` and ``message`` existed read back without them)."""
        message = data.get("message")
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
            new=bool(data.get("new", False)),
            muted=bool(data.get("muted", False)),
            muted_until=_untime(data.get("muted_until")),
            message=MessageRef(str(message["channel"]), str(message["ts"])) if message else None,
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
    """Opened since the previous digest and still open (also in :attr:`open`, tagged ``new``;
    kept as its own list for ``digest --json``)."""
    resolved: tuple[DigestMatch, ...] = ()
    """Resolved since the previous digest."""
    open: tuple[DigestMatch, ...] = ()
    """Every open match once, worst severity first, then by advisory and cluster; each marked
    ``new``, ``muted`` and stale as it is (see :meth:`open_by_advisory`)."""
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

    def open_by_advisory(self) -> list[tuple[str, tuple[DigestMatch, ...]]]:
        """Open matches grouped by advisory (one grouped post each): worst severity first,
        then most clusters, then by id; each group's matches by cluster name."""
        groups: dict[str, list[DigestMatch]] = {}
        for match in self.open:
            groups.setdefault(match.advisory_id, []).append(match)

        def rank(item: tuple[str, list[DigestMatch]]) -> tuple[int, int, str]:
            advisory, matches = item
            worst = min(severity_rank(m.severity) for m in matches)
            return (worst, -len(matches), advisory)

        return [
            (advisory, tuple(sorted(matches, key=lambda m: (m.cluster, m.cluster_uid))))
            for advisory, matches in sorted(groups.items(), key=rank)
        ]

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
            "open_by_advisory": {a: len(ms) for a, ms in self.open_by_advisory()},
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


Notice = MatchNotice | Digest | NewsNotice | PostNotice | BaselineNotice
"""Anything the jobs tell a channel."""


def notice_to_json(notice: MatchNotice | Digest | NewsNotice | BaselineNotice) -> JSON:
    """JSON form of any notice the outbox keeps (a :class:`PostNotice` is built at delivery)."""
    return notice.to_json()


def notice_from_json(data: Mapping[str, Any]) -> MatchNotice | Digest | NewsNotice | BaselineNotice:
    """Inverse of :func:`notice_to_json`."""
    if data["type"] == "baseline":
        return BaselineNotice.from_json(data)
    if data["type"] == "digest":
        return Digest.from_json(data)
    if data["type"] == "news":
        return NewsNotice.from_json(data)
    return MatchNotice.from_json(data)
