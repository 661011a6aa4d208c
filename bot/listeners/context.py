"""What the listeners need, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from advisories.answers import Answer, ClusterData, answer
from advisories.catalog import Catalog
from advisories.engine import Engine
from advisories.planning import UpstreamFix
from advisories.questions import parse_question
from jobs.store import Store

__all__ = ["MAX_INPUT", "BotContext"]

MAX_INPUT = 2000
"""Characters of user text read from a command or message; the rest is ignored."""


def _no_clusters() -> Mapping[str, ClusterData]:
    return {}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class BotContext:
    """Catalog, engine, the last scan's facts, the state store and who may mute."""

    catalog: Catalog
    engine: Engine | None = None
    clusters: Callable[[], Mapping[str, ClusterData]] = _no_clusters
    """The facts of each cluster's last successful scan, by name (read per request)."""
    store: Callable[[], Store] | None = None
    """Opens the state store (mutes); None: mutes are not available."""
    mute_users: frozenset[str] = frozenset()
    """Slack user ids allowed to mute and unmute."""
    mute_channels: frozenset[str] = frozenset()
    """Channel ids in which anyone may mute and unmute."""
    digest: Callable[[], str] | None = None
    """Renders the digest now (mrkdwn); None: not configured."""
    upstream: Callable[[], Mapping[str, Sequence[UpstreamFix]]] | None = None
    """Upstream tracking's fixes per advisory, for safe targets where the catalog knows none
    (read per request); None: the catalog alone."""
    now: Callable[[], datetime] = _now
    ids: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = Engine(self.catalog.advisories)
        self.ids = tuple(a.id for a in self.catalog.advisories)

    def ask(self, text: str) -> Answer:
        """Answer a question (bounded to :data:`MAX_INPUT` characters)."""
        clusters = self.clusters()
        question = parse_question(text[:MAX_INPUT], clusters=tuple(clusters), advisory_ids=self.ids)
        return answer(question, self.catalog, engine=self.engine, clusters=clusters)

    def may_mute(self, user: str | None, channel: str | None) -> bool:
        """Mutes are limited to configured users or channels."""
        return (user is not None and user in self.mute_users) or (
            channel is not None and channel in self.mute_channels
        )
