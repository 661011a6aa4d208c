"""What upstream tracking's results feed, composed with the settings and the state store:

- :func:`news_announcer`: a sync's news, told right away to the channels of the clusters the
  advisories affect (Slack when configured, else the terminal), through the outbox
  (:func:`jobs.news.announce`). ``serve``'s scheduled sync and ``upstream sync`` hand their news
  to it.
- :func:`planner_upstream`: the stored upstream fixes, for the planner's safe targets
  (``plan --safe``, ``/netadvisor safe``); the planner uses them only where the catalog's range
  is open-ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TextIO

from advisories.models import Advisory
from advisories.planning import UpstreamFix
from bot.settings import Settings
from jobs.news import NewsReport, announce
from jobs.store import Store
from jobs.tracker import Tracker
from jobs.upstream.compare import planner_fixes
from jobs.upstream.models import News

__all__ = ["news_announcer", "planner_upstream"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def news_announcer(
    settings: Settings, url: str, stream: TextIO, *, demo: bool = False
) -> Callable[[Sequence[News]], NewsReport]:
    """A callback for :func:`bot.cli_upstream.upstream_job`'s ``on_news``: open the state store
    at ``url``, queue the news for the channels it concerns and deliver it (or print it on
    ``stream`` when no Slack channel is configured)."""
    from bot.cli_service import messaging

    def tell(news: Sequence[News]) -> NewsReport:
        now = _now()
        with Store.open(url) as store:
            messages = messaging(settings, stream, demo=demo)
            tracker = Tracker(store, messages.notifier, messages.console, messages.routing)
            report = announce(tracker, news, now, clock=_now)
        channels = sorted({channel for channel, _ in report.notices})
        log.info(
            "upstream news: %d item(s), %d message(s) to %s, %d error(s)",
            len(news),
            len(report.notices),
            ", ".join(channels) or "nobody (no open match concerns it)",
            len(report.delivery.errors),
        )
        for error in report.delivery.errors:
            log.warning("upstream news not delivered (kept, retried later): %s", error)
        return report

    return tell


def planner_upstream(
    store: Store | None, advisories: Iterable[Advisory]
) -> Mapping[str, Sequence[UpstreamFix]]:
    """Upstream's first fixed tags per advisory from the last sync (empty when it never synced
    or the tables cannot be read: the targets then come from the catalog alone)."""
    if store is None:
        return {}
    from jobs.store import UpstreamStore

    try:
        states = UpstreamStore(store.engine).states()
    except Exception as exc:  # safe targets go on from the catalog alone
        log.warning("plan: upstream tracking's state unavailable: %s", type(exc).__name__)
        return {}
    return planner_fixes(advisories, states)
