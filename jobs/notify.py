"""What the jobs tell people, and the port through which they tell it.

The jobs decide *what* to say (:class:`MatchNotice`, digests, upstream news as
:class:`NewsNotice`) and keep a durable record of every message they intend to send; a
:class:`Notifier` decides *how* it looks and sends it (Slack Block Kit in ``bot/slack``, plain
text on the terminal). A notice becomes a short plan of
:class:`Step` s (post, reply in a thread, edit a message); the jobs run the plan one step at a
time and record each step's result, so that a run killed half-way resumes where it stopped.

Posting has no idempotency key, so every posted step carries a *marker* (intent id and step
number) in the message's metadata: after an uncertain failure the jobs ask the notifier to
:meth:`Notifier.lookup` the marker before posting again.

Errors::

    NotifyError              a step failed; carries the channel and the method
    ├── NotDelivered         the message was certainly not stored: safe to try again
    └── DeliveryUncertain    it may have been stored (5xx, connection lost): look before retrying
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from jobs.digest import Digest

__all__ = [
    "ClusterRef",
    "DeliveryUncertain",
    "MatchNotice",
    "MatchSnapshot",
    "MessageRef",
    "NewsNotice",
    "NodeGroupSummary",
    "NotDelivered",
    "NoticeKind",
    "Notifier",
    "NotifyError",
    "Posted",
    "Route",
    "Routing",
    "Step",
    "StepAction",
    "notice_from_json",
    "notice_to_json",
]

JSON = dict[str, Any]


class NotifyError(Exception):
    """A notification step failed. ``channel`` and ``method`` say where; never a secret."""

    def __init__(self, message: str, *, channel: str = "", method: str = "") -> None:
        self.channel = channel
        self.method = method
        where = " ".join(p for p in (method, f"in {channel}" if channel else "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class NotDelivered(NotifyError):
    """The message was certainly not stored (an ``ok: false`` answer, a 4xx, rate limited).

    ``channel_problem`` is True when the error concerns the channel only (not found, archived,
    bot not invited): other channels can still be served.
    """

    def __init__(
        self, message: str, *, channel: str = "", method: str = "", channel_problem: bool = False
    ) -> None:
        super().__init__(message, channel=channel, method=method)
        self.channel_problem = channel_problem


class DeliveryUncertain(NotifyError):
    """The message may or may not have been stored (5xx, timeout, connection lost)."""


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message that was posted: the channel ID the service answered with, and its ts."""

    channel: str
    ts: str


@dataclass(frozen=True, slots=True)
class Posted:
    """The result of a step: where the message now is."""

    channel: str
    """The channel ID (the service's answer, also when the step named the channel by name)."""
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


def notice_to_json(notice: MatchNotice | Digest | NewsNotice) -> JSON:
    """JSON form of any notice (for the outbox)."""
    return notice.to_json()


def notice_from_json(data: Mapping[str, Any]) -> MatchNotice | Digest | NewsNotice:
    """Inverse of :func:`notice_to_json`."""
    if data["type"] == "digest":
        from jobs.digest import Digest

        return Digest.from_json(data)
    if data["type"] == "news":
        return NewsNotice.from_json(data)
    return MatchNotice.from_json(data)


class StepAction(Enum):
    """What a step does."""

    POST = "post"
    """A new top-level message in ``channel``."""
    REPLY = "reply"
    """A reply in a thread: of ``thread`` if set, else of this plan's step ``parent``."""
    UPDATE = "update"
    """Replace the content of the message ``thread`` names (an edit is safe to repeat)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a notification plan. ``body`` is the notifier's own rendering."""

    action: StepAction
    channel: str
    """Where: the configured channel (ID or name), or the channel ID of an earlier message."""
    body: Any
    marker: str
    """``<intent id>/<step number>``: carried in the message's metadata, found by lookup."""
    thread: str | None = None
    """REPLY: ts of the thread's first message, if known when planning; UPDATE: ts to edit."""
    parent: int | None = None
    """REPLY in a thread started by this plan: the number of the step that posted it."""


@runtime_checkable
class Notifier(Protocol):
    """Where notices go (Slack, the terminal). Implementations live in ``bot``."""

    @property
    def posts(self) -> bool:
        """True when messages reach a chat service (notified = posted), False when printed."""
        ...

    def plan(
        self,
        notice: MatchNotice | Digest | NewsNotice,
        intent: str,
        channel: str,
        original: MessageRef | None,
    ) -> Sequence[Step]:
        """The steps that tell ``notice`` in ``channel``; ``original`` is the match's message.

        Step ``i`` carries the marker ``<intent>/<i>``. Pure: the same arguments give the same
        steps, so a plan can be resumed.
        """
        ...

    def perform(self, step: Step, thread: str | None) -> Posted:
        """Run one step (``thread`` is the resolved parent ts for replies).

        Raises :class:`NotDelivered` or :class:`DeliveryUncertain`.
        """
        ...

    def lookup(self, step: Step, thread: str | None, since: datetime) -> Posted | None:
        """The message a previous attempt of ``step`` posted (found by its marker), if any.

        Raises :class:`NotifyError` when the channel cannot be searched.
        """
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """Clusters whose labels include all of ``labels`` go to ``channel``."""

    labels: Mapping[str, str]
    channel: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every label of the route is on the cluster."""
        return all(labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a cluster's messages go: the first route whose labels match, else the default."""

    default: str | None = None
    routes: tuple[Route, ...] = ()

    def channel_for(self, labels: Mapping[str, str]) -> str | None:
        """The channel for a cluster with these labels, or None when none is configured."""
        for route in self.routes:
            if route.matches(labels):
                return route.channel
        return self.default

    @property
    def channels(self) -> tuple[str, ...]:
        """Every configured channel, default first."""
        found = [self.default] if self.default else []
        found += [r.channel for r in self.routes]
        return tuple(dict.fromkeys(found))
