"""Upstream news told right away to the people it concerns.

A sync's news (a referenced PR merged, a cherry-pick released in a new tag, an issue closed or
reopened, a disagreement with the catalog) goes into the digest (:mod:`jobs.digest`) and, at
once, to the channels of the clusters the advisory affects: the clusters with an open match of
one of the advisories citing the reference, each to the channel its match was posted to (else
the channel its labels route to). Clusters whose match is muted, demo clusters and closed
matches are left out. One message per (news, channel), naming the channel's clusters.

**Posted once.** Each message is an outbox intent (:class:`~jobs.outbox.Outbox` delivers it
with the same guarantees as match messages: a marker in the message's metadata, a history
lookup after an uncertain failure, a lease per intent). Its id is derived from the news and the
channel, and queueing an existing id adds nothing, so that announcing the same news twice (a
retried job, two replicas) queues it once.

Without a chat service the notices are printed (one per news, every concerned cluster).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.notices import TERMINAL, NewsNotice
from jobs.notify import Routing
from jobs.outbox import DeliveryReport
from jobs.store import ClusterState, MatchState, Tx
from jobs.tracker import Tracker
from jobs.upstream.models import News

__all__ = ["NewsReport", "announce", "intent_id", "notices_for"]


@dataclass(frozen=True, slots=True)
class NewsReport:
    """What announcing a sync's news did."""

    notices: tuple[tuple[str, NewsNotice], ...]
    """(channel, notice) queued (or printed, channel :data:`TERMINAL`)."""
    delivery: DeliveryReport
    printed: int = 0


def intent_id(news: News, channel: str) -> str:
    """The outbox id of one news item in one channel: the same news, the same id."""
    key = "\x1f".join(
        (
            "news",
            news.kind.value,
            news.ref.id,
            news.line or "",
            news.tag or "",
            news.at.isoformat(),
            channel,
        )
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _notice(news: News, clusters: Sequence[str]) -> NewsNotice:
    return NewsNotice(
        kind=news.kind.value,
        text=news.text,
        advisories=tuple(news.advisories),
        reference=news.ref.url,
        at=news.at,
        clusters=tuple(sorted(set(clusters))),
        line=news.line,
        tag=news.tag,
    )


def notices_for(
    tx: Tx, news: Sequence[News], routing: Routing | None, now: datetime
) -> list[tuple[str, News, NewsNotice]]:
    """(channel, news item, notice) for every channel a news item concerns.

    ``routing`` None: one printed notice per news item (channel :data:`TERMINAL`) naming every
    concerned cluster, demo clusters included. Otherwise, per channel, the clusters that are not
    demo data and whose match is not muted; clusters no channel is configured for are left out.
    """
    clusters = {c.uid: c for c in tx.clusters(ClusterState.ACTIVE)}
    matches = tx.matches(None, MatchState.OPEN)
    mutes = tx.mutes(now)
    out: list[tuple[str, News, NewsNotice]] = []
    for item in news:
        wanted = set(item.advisories)
        by_channel: dict[str, list[str]] = {}
        for match in matches:
            cluster = clusters.get(match.cluster_uid)
            if cluster is None or match.advisory_id not in wanted:
                continue
            if routing is None:
                by_channel.setdefault(TERMINAL, []).append(cluster.name)
                continue
            if cluster.demo or any(
                m.covers(cluster.uid, match.advisory_id, cluster.name) for m in mutes
            ):
                continue
            channel = match.channel or routing.channel_for(cluster.labels, match.snapshot.severity)
            if channel is not None:
                by_channel.setdefault(channel, []).append(cluster.name)
        out.extend((channel, item, _notice(item, names)) for channel, names in by_channel.items())
    return out


def announce(
    tracker: Tracker,
    news: Sequence[News],
    now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> NewsReport:
    """Queue each news item for the channels it concerns and deliver them now; without a chat
    service, print them. A dry run does nothing."""
    store = tracker.store
    if store is None or tracker.dry_run or not news:
        return NewsReport((), DeliveryReport())
    posting = tracker.notifier.posts
    routing = tracker.routing if posting else None

    def queue(tx: Tx) -> list[tuple[str, News, NewsNotice]]:
        found = notices_for(tx, news, routing, now)
        if posting:
            for channel, item, notice in found:
                tx.add_intent(
                    now, channel, "news", notice.to_json(), intent_id=intent_id(item, channel)
                )
        return found

    found: list[tuple[str, News, NewsNotice]] = store.run(queue)
    notices = tuple((channel, notice) for channel, _, notice in found)
    if not posting:
        for _, notice in notices:
            for step in tracker.console.plan(notice, "", TERMINAL, None):
                tracker.console.perform(step, None)
        return NewsReport(notices, DeliveryReport(), len(notices))
    return NewsReport(notices, tracker.deliver(clock or (lambda: now)))
