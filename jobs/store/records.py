"""The state store's records: what netadvisor saw and told, as enums and frozen dataclasses.

:class:`~jobs.store.tx.Tx` reads and writes them; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from jobs.mutes import CONFIG_SOURCE
from jobs.notices import MatchSnapshot, MessageRef

__all__ = [
    "ClusterRecord",
    "ClusterState",
    "ConfigMuteSync",
    "IntentRecord",
    "IntentState",
    "MatchRecord",
    "MatchState",
    "MuteRecord",
    "StoreError",
]


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
    close_changes: tuple[str, ...] = ()
    """Resolved: the facts whose change resolved it (``kube-proxy mode ipvs → iptables``)."""
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
    claimed_by: str | None = None
    """The worker delivering it now (its lease), if any."""
    claimed_until: datetime | None = None
    lead: str | None = None
    """The intent whose delivery carries this one (itself for the lead); None: not yet part
    of a delivery."""


@dataclass(frozen=True, slots=True)
class PostRecord:
    """The grouped post of one advisory in one channel (as configured)."""

    channel: str
    advisory_id: str
    message: MessageRef
    opened_at: datetime
    changed_at: datetime
    closed_at: datetime | None = None
    """Set when no cluster remained affected (the post says RESOLVED)."""


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
