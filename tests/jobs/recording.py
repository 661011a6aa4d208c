"""Recording scans with a tracker in the job tests: the tracker, a scan run, one match's outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from advisories.fleet import ClusterFacts
from jobs.notify import Routing
from jobs.store import Store
from jobs.tracker import ScanReport, Tracker
from tests.jobs.notifiers import MemoryChat, MemoryTerminal
from tests.tracked_fleet import IPVS, catalog, scan

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OLD_KERNEL = "5.4.0-150-generic"
NEW_KERNEL = "5.15.0-91-generic"


def tracker(
    store: Store | None,
    chat: MemoryChat | MemoryTerminal,
    terminal: MemoryTerminal,
    routing: Routing | None = None,
    **kwargs: Any,
) -> Tracker:
    return Tracker(store, chat, terminal, routing or Routing("#net"), **kwargs)


def run(
    t: Tracker, *clusters: ClusterFacts, at: datetime = NOW, retire: bool = False
) -> ScanReport:
    return t.record(
        scan(*clusters), at, source="test", catalog_version=catalog().version, retire_missing=retire
    )


def outcome(report: ScanReport, name: str = "prod-1", advisory: str = IPVS) -> tuple[object, ...]:
    found = report.clusters[name].matches[advisory]
    return (found.change, found.notified)
