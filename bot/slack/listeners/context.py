"""What the listeners need, built once by the composition root."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from advisories.answers import Answer, ClusterData, answer
from advisories.catalog import Catalog
from advisories.engine import Engine
from advisories.planning import UpstreamFix
from advisories.questions import parse_question
from jobs.store import Store

__all__ = ["MAX_INPUT", "BotContext", "ReplyError"]

log = logging.getLogger(__name__)

MAX_INPUT = 2000
"""Characters of user text read from a command or message; the rest is ignored."""


class ReplyError(Exception):
    """What a person asked cannot be done as asked; the message (said back to them, escaped)
    names the subcommand and what was wrong."""


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
    store: Store | None = None
    """The state store (mutes), opened once by the composition root; None: mutes are not
    available."""
    configured: tuple[str, ...] = ()
    """The configured clusters' names (a configured cluster not scanned yet can be muted)."""
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

    def cluster_data(self) -> tuple[Mapping[str, ClusterData], str | None]:
        """The last scan's facts by cluster name, and None; or, when they cannot be read (the
        state store does not answer), nothing and why, in words for the person asking."""
        try:
            return self.clusters(), None
        except Exception as exc:  # whatever the database driver raises: answer without it
            log.warning("cluster data unavailable: %s", type(exc).__name__)
            return {}, "the state store did not answer"

    def ask(self, text: str, *, show_all: bool = False) -> Answer:
        """Answer a question (bounded to :data:`MAX_INPUT` characters); from the catalog alone,
        with a note saying so, when cluster data cannot be read now."""
        clusters, unavailable = self.cluster_data()
        # Without the last scan, the configured names still let a question about a cluster be
        # recognised (and said to be unanswerable now).
        names = tuple(clusters) if unavailable is None else self.configured
        question = parse_question(text[:MAX_INPUT], clusters=names, advisory_ids=self.ids)
        return answer(question, self.catalog, engine=self.engine, clusters=clusters,
                      unavailable=unavailable, show_all=show_all)  # fmt: skip

    def may_mute(self, user: str | None, channel: str | None) -> bool:
        """Mutes are limited to configured users or channels."""
        return (user is not None and user in self.mute_users) or (
            channel is not None and channel in self.mute_channels
        )
