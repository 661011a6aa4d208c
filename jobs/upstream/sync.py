"""One sync run: read every tracked reference, keep the states, report news and disagreements.

**Passes and resuming.** A *pass* reads every tracked reference once; it may take several runs
when a run stops early (the request budget of an unauthenticated run is spent, or a rate limit
is longer than the wait bound). A run continues the unfinished pass: references already
attempted in it are skipped, the others go oldest-synced first, and answers upstream already
gave in this pass are reused without a request (``fresh_since``). When every reference has been
attempted the pass is done, and the next run starts a new one, asking upstream with
conditional requests only.

**Failures.** A reference that fails (404, 410, 5xx, timeout) keeps its last state, records the
error and counts as attempted; the others go on. A :class:`~jobs.upstream.errors.SyncStopped`
stops the run cleanly: what was synced is kept, the rest waits for the next run.

**News** is what changed since the last known state (:func:`~jobs.upstream.compare.news_between`)
plus every new disagreement with the catalog. It is returned and kept for the digest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime

from advisories.models import Advisory
from jobs.upstream.compare import disagreements, news_between, tracked_references
from jobs.upstream.errors import (
    ReferenceFailed,
    SyncStopped,
    UpstreamDown,
    UpstreamForbidden,
    UpstreamServerError,
    UpstreamUnreachable,
)
from jobs.upstream.models import (
    Disagreement,
    News,
    NewsKind,
    ReferenceState,
    RefKey,
    RefRecord,
    Tracked,
)
from jobs.upstream.port import UpstreamSource, UpstreamState
from jobs.upstream.reading import track

__all__ = ["SourceFactory", "SyncReport", "sync"]

_log = logging.getLogger(__name__)

SourceFactory = Callable[[datetime | None], UpstreamSource]
"""Builds the source for a run, given ``fresh_since`` (answers confirmed since then are reused)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one run did."""

    started_at: datetime
    synced: tuple[RefKey, ...]
    failed: tuple[tuple[RefKey, str], ...]
    """References that could not be read, with the error (their last state is kept)."""
    remaining: tuple[RefKey, ...]
    """References this run did not reach; the next run starts with them."""
    stopped: str | None
    """Why the run stopped early (budget, rate limit), or None."""
    news: tuple[News, ...]
    disagreements: tuple[Disagreement, ...]
    """Every current disagreement with the catalog (new ones are also in ``news``)."""
    pass_done: bool
    """True when every tracked reference has been attempted in the current pass."""
    api_unusable: bool = False
    """Nothing could be read and every failure was the API's (unreachable, 5xx, forbidden),
    not a reference's (404, 410): most likely a wrong URL, a network problem or a bad token."""


class _Skipped(Exception):
    """Internal: the run was stopping when this reference's turn came."""


def _order(tracked: Sequence[Tracked], records: dict[RefKey, RefRecord]) -> list[Tracked]:
    def key(item: Tracked) -> tuple[datetime, RefKey]:
        record = records.get(item.ref)
        return (record.synced_at if record and record.synced_at else _EPOCH, item.ref)

    return sorted(tracked, key=key)


def sync(
    advisories: Sequence[Advisory],
    store: UpstreamState,
    make_source: SourceFactory,
    *,
    clock: Callable[[], datetime],
    only: Collection[RefKey] | None = None,
    offline: bool = False,
    concurrency: int = 4,
) -> SyncReport:
    """Sync the references the advisories cite (or ``only`` these) and report what changed.

    A full online sync takes part in the current pass (see the module docstring). A partial
    sync (``only``) reads its references now and leaves the pass alone. An offline sync sends
    nothing: it re-reads the stored answers, which re-checks them against the current catalog.
    """
    started = clock()
    tracked = tracked_references(advisories)
    if only is not None:
        wanted = set(only)
        tracked = [t for t in tracked if t.ref in wanted]
    records = store.records()
    full = only is None and not offline
    fresh_since: datetime | None = started
    if full:
        current = store.current_pass()
        if current.done or current.started_at is None:
            current = store.start_pass(started)
        fresh_since = current.started_at
        assert fresh_since is not None
        pass_start = fresh_since
        tracked = [
            t
            for t in tracked
            if not (
                (record := records.get(t.ref)) is not None
                and record.attempted_at is not None
                and record.attempted_at >= pass_start
            )
        ]
    elif offline:
        fresh_since = None
    todo = _order(tracked, records)
    source = make_source(fresh_since)

    stopping = threading.Event()

    def work(item: Tracked) -> ReferenceState:
        if stopping.is_set():
            raise _Skipped
        record = records.get(item.ref)
        as_of = started
        if offline and record is not None and record.synced_at is not None:
            as_of = record.synced_at  # the stored answers are as old as the last sync
        try:
            return track(source, item, as_of)
        except SyncStopped:
            stopping.set()
            raise

    synced: list[RefKey] = []
    failed: list[tuple[RefKey, str]] = []
    api_failures = 0
    api_down = False
    remaining: list[RefKey] = []
    news: list[News] = []
    stopped: str | None = None
    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="upstream") as pool:  # fmt: skip
        futures: dict[Future[ReferenceState], Tracked] = {
            pool.submit(work, item): item for item in todo
        }
        for future in as_completed(futures):
            item = futures[future]
            try:
                state = future.result()
            except _Skipped:
                remaining.append(item.ref)
            except SyncStopped as exc:
                remaining.append(item.ref)
                stopped = stopped or str(exc)
                api_down = api_down or isinstance(exc, UpstreamDown)
            except ReferenceFailed as exc:
                failed.append((item.ref, str(exc)))
                if isinstance(exc, UpstreamUnreachable | UpstreamServerError | UpstreamForbidden):
                    api_failures += 1
                if not offline:
                    store.record_error(item.ref, str(exc), started)
                _log.info("upstream: %s: %s", item.ref, exc)
            else:
                synced.append(item.ref)
                record = records.get(item.ref)
                old = record.state if record else None
                news.extend(news_between(old, state, item.advisories, started))
                store.record_state(state, started)
    pass_done = False
    if full and not remaining:
        store.finish_pass()
        pass_done = True
    states = store.states()
    found = [d for advisory in advisories for d in disagreements(advisory, states)]
    known = set(store.disagreements())
    for new in found:
        if new not in known:
            news.append(
                News(
                    kind=NewsKind.CATALOG_DISAGREES,
                    ref=new.ref,
                    advisories=(new.advisory,),
                    text=new.text,
                    at=started,
                    line=new.line,
                    tag=new.upstream,
                )
            )
    store.replace_disagreements(found, started)
    store.add_news(news)
    order = {t.ref: i for i, t in enumerate(todo)}
    report = SyncReport(
        started_at=started,
        synced=tuple(sorted(synced, key=order.__getitem__)),
        failed=tuple(sorted(failed, key=lambda f: order[f[0]])),
        remaining=tuple(sorted(remaining, key=order.__getitem__)),
        stopped=stopped,
        news=tuple(news),
        disagreements=tuple(found),
        pass_done=pass_done,
        api_unusable=not synced and (api_down or (bool(failed) and api_failures == len(failed))),
    )
    _log.info(
        "upstream sync: %d synced, %d failed, %d remaining, %d news%s",
        len(synced), len(failed), len(remaining), len(news),
        f"; stopped: {stopped}" if stopped else "",
    )  # fmt: skip
    return report
