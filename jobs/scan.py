"""The scan use case, once: read the fleet, match it against the catalog, record what changed.

``netadvisor scan`` and ``serve``'s scheduled scan both call :func:`scan`; they differ only in
what they hand it (the fleet, the tracker, whether the scan covered the whole configured fleet).
:func:`last_scan` and :class:`LastScan` read back what scans stored, for questions and plans
about named clusters.

Pure orchestration over ports: reading goes through :func:`jobs.inventory.run.read_fleet`
(each target carries its own reader), matching through the core's engine, and remembering and
telling through a :class:`jobs.tracker.Tracker` built by the composition root.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from advisories.answers import ClusterData, cluster_data
from advisories.engine import Engine
from advisories.fleet import ClusterFacts, ClusterMatch, ClusterStatus, match_cluster
from advisories.models import Verdict
from jobs.inventory.run import ClusterTarget, Progress, read_fleet
from jobs.store import Store
from jobs.tracker import ScanReport, Tracker

__all__ = [
    "KEEP_SCANS",
    "ClusterScan",
    "FleetScan",
    "LastScan",
    "last_scan",
    "match_fleet",
    "scan",
]

KEEP_SCANS: Final = timedelta(days=30)
"""Scans (and facts no later scan shares) older than this are forgotten."""


@dataclass(frozen=True, slots=True)
class ClusterScan:
    """One cluster's facts and, when it could be read, its verdict for every advisory."""

    cluster: ClusterFacts
    matches: tuple[ClusterMatch, ...] = ()

    def count(self, verdict: Verdict) -> int:
        """How many advisories have this verdict."""
        return sum(1 for m in self.matches if m.verdict is verdict)


@dataclass(frozen=True, slots=True)
class FleetScan:
    """What one scan read, matched and recorded."""

    scans: tuple[ClusterScan, ...]
    """One entry per cluster, in target order (unreadable clusters have no matches)."""
    report: ScanReport
    """What changed for every match and who was told (see :mod:`jobs.tracker`)."""

    @property
    def readable(self) -> int:
        """How many clusters could be read."""
        return sum(1 for s in self.scans if s.cluster.status is ClusterStatus.OK)

    @property
    def changed(self) -> int:
        """Matches whose state changed (anything but ``open``)."""
        return sum(
            1
            for c in self.report.clusters.values()
            for m in c.matches.values()
            if m.change is not None and m.change.value != "open"
        )


def match_fleet(clusters: Sequence[ClusterFacts], engine: Engine) -> list[ClusterScan]:
    """Match every readable cluster against the engine's advisories."""
    out = []
    for cluster in clusters:
        if cluster.status is ClusterStatus.OK:
            out.append(ClusterScan(cluster, tuple(match_cluster(engine, cluster))))
        else:
            out.append(ClusterScan(cluster))
    return out


def scan(
    targets: Sequence[ClusterTarget],
    engine: Engine,
    tracker: Tracker,
    *,
    catalog_version: str,
    source: str,
    clock: Callable[[], datetime],
    retire: bool,
    concurrency: int = 16,
    timeout: float = 30.0,
    progress: Progress | None = None,
    keep: timedelta = KEEP_SCANS,
) -> FleetScan:
    """Read ``targets``, match them, and record the result with ``tracker``.

    ``retire``: the scan covered the whole configured fleet, so clusters it did not see left
    the configuration (a scan of clusters named on the command line retires nothing). After
    recording, scans older than ``keep`` are pruned (not in a dry run, which writes nothing).
    One cluster's failure is that cluster's status; it never stops the others.
    """
    clusters = read_fleet(targets, concurrency=concurrency, timeout=timeout, progress=progress)
    scans = match_fleet(clusters, engine)
    now = clock()
    report = tracker.record(
        [(s.cluster, s.matches) for s in scans],
        now,
        source=source,
        catalog_version=catalog_version,
        retire_missing=retire,
        clock=clock,
    )
    store = tracker.store
    if store is not None and not tracker.dry_run:
        store.run(lambda tx: tx.prune(now - keep))
    return FleetScan(tuple(scans), report)


def last_scan(store: Store | None) -> dict[str, ClusterData]:
    """Every cluster's facts from its last successful scan, by name."""
    if store is None:
        return {}
    out: dict[str, ClusterData] = {}
    with store.transaction() as tx:
        for record in tx.clusters():
            latest = tx.latest_facts(record.name)
            if latest is not None:
                read_at, facts = latest
                out[record.name] = cluster_data(facts, read_at)
    return out


class LastScan:
    """:func:`last_scan`, decoded once per scan rather than once per question.

    The key is every cluster's (UID, name, last successful read): one cheap query tells whether
    a scan stored something new since the last call; only then are the facts decoded again.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._key: tuple[tuple[str, str, datetime | None], ...] | None = None
        self._clusters: Mapping[str, ClusterData] = {}

    def names(self) -> tuple[str, ...]:
        """The names of the clusters a scan stored facts of."""
        return tuple(self())

    def __call__(self) -> Mapping[str, ClusterData]:
        with self._store.transaction() as tx:
            key = tuple(sorted((c.uid, c.name, c.last_ok) for c in tx.clusters()))
        with self._lock:
            if key != self._key:
                self._clusters = last_scan(self._store)
                self._key = key
            return self._clusters
