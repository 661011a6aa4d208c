"""netadvisor's Prometheus metrics; the one module that imports ``prometheus_client``.

Two kinds, on one registry of netadvisor's own (:data:`REGISTRY`, served at ``/metrics``):

- recorded by this process as things happen: how long each cluster took to read and whether it
  could be read, whole scans, Slack calls and their failures, GitHub's remaining rate limit,
  leadership, and what became of each scheduled job;
- read from the state store when Prometheus scrapes (:class:`StoreCollector`, fed by
  :func:`jobs.store.store_figures`): open matches by
  severity and advisory, clusters that cannot be read, the last successful scan of each cluster.
  Every replica shares the store, so every replica reports the same figures; the process ones
  come from the replica that did the work (the leader, for scans).

Names follow Prometheus conventions: ``_seconds``, ``_total`` for counters, ``_timestamp_seconds``
for times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

__all__ = [
    "CLUSTER_SCAN_SECONDS",
    "CLUSTER_UP",
    "CONTENT_TYPE",
    "GITHUB_RATE_LIMIT_REMAINING",
    "JOB_RUNS",
    "LEADER",
    "REGISTRY",
    "SCAN_SECONDS",
    "SLACK_FAILURES",
    "SLACK_REQUESTS",
    "StoreCollector",
    "StoreFigures",
    "exposition",
    "observe_cluster",
]

log = logging.getLogger(__name__)

REGISTRY: Final = CollectorRegistry()
"""Everything ``/metrics`` shows (the process's CPU, memory and file descriptors included)."""
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of :func:`exposition` (Prometheus text format)."""

CLUSTER_SCAN_SECONDS: Final = Gauge(
    "netadvisor_cluster_scan_duration_seconds",
    "How long the last read of the cluster took (whatever its outcome).",
    ["cluster"],
    registry=REGISTRY,
)
CLUSTER_UP: Final = Gauge(
    "netadvisor_cluster_up",
    "1 if the last read of the cluster succeeded, 0 if it was unreachable, timed out or failed.",
    ["cluster"],
    registry=REGISTRY,
)
SCAN_SECONDS: Final = Histogram(
    "netadvisor_scan_duration_seconds",
    "Wall time of whole scans (every cluster, matching and notifying included).",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
    registry=REGISTRY,
)
SLACK_REQUESTS: Final = Counter(
    "netadvisor_slack_requests",
    "Slack Web API calls made (chat.postMessage is a post, chat.update an edit).",
    ["method"],
    registry=REGISTRY,
)
SLACK_FAILURES: Final = Counter(
    "netadvisor_slack_failures",
    "Slack Web API calls that failed, by the error Slack gave (or the HTTP status).",
    ["method", "error"],
    registry=REGISTRY,
)
GITHUB_RATE_LIMIT_REMAINING: Final = Gauge(
    "netadvisor_github_rate_limit_remaining",
    "Requests left in GitHub's current rate-limit window (X-RateLimit-Remaining), as last seen, "
    "by GitHub's resource (core, search).",
    ["resource"],
    registry=REGISTRY,
)
LEADER: Final = Gauge(
    "netadvisor_leader",
    "1 while this replica holds the Lease and runs the scheduled jobs (always 1 without election).",
    registry=REGISTRY,
)
JOB_RUNS: Final = Counter(
    "netadvisor_job_runs",
    "Scheduled jobs by outcome: ran, failed, not_leader (another replica runs them), locked "
    "(a former leader was still running the job).",
    ["job", "outcome"],
    registry=REGISTRY,
)


def observe_cluster(cluster: str, seconds: float, ok: bool) -> None:
    """Record one read of a cluster."""
    CLUSTER_SCAN_SECONDS.labels(cluster=cluster).set(seconds)
    CLUSTER_UP.labels(cluster=cluster).set(1 if ok else 0)


def exposition() -> bytes:
    """Every metric, in the Prometheus text format (:data:`CONTENT_TYPE`)."""
    return generate_latest(REGISTRY)


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """What the state store says, for the metrics read at scrape time."""

    open_matches: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(severity, advisory id) -> how many clusters are affected (open matches)."""
    clusters: int = 0
    """Clusters in the fleet (active in the store)."""
    unreachable: Mapping[str, datetime] = field(default_factory=dict)
    """Cluster name -> since when it cannot be read."""
    last_success: Mapping[str, datetime] = field(default_factory=dict)
    """Cluster name -> when it was last read successfully."""


class StoreCollector(Collector):
    """Metrics computed from the state store at each scrape.

    ``read`` returns the figures (it opens a transaction); when it fails, the scrape still
    answers, with ``netadvisor_store_up 0`` and none of these metrics.
    """

    def __init__(self, read: Callable[[], StoreFigures]) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        """Nothing up front: the registry must not call ``read`` when this is registered."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The store's figures as gauges."""
        up = GaugeMetricFamily(
            "netadvisor_store_up", "1 if the state store answered this scrape, else 0."
        )
        try:
            figures = self._read()
        except Exception as exc:  # the store is down: say so in the metrics, not as a 500
            log.warning("metrics: the state store did not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        matches = GaugeMetricFamily(
            "netadvisor_open_matches",
            "Clusters affected by an advisory (open matches), by severity and advisory.",
            labels=["severity", "advisory"],
        )
        for (severity, advisory), count in sorted(figures.open_matches.items()):
            matches.add_metric([severity, advisory], count)
        yield matches
        yield GaugeMetricFamily(
            "netadvisor_clusters", "Clusters in the fleet.", value=figures.clusters
        )
        yield GaugeMetricFamily(
            "netadvisor_clusters_unreachable",
            "Clusters whose last read failed (unreachable, timed out, refused).",
            value=len(figures.unreachable),
        )
        yield _per_cluster(
            "netadvisor_cluster_unreachable_since_timestamp_seconds",
            "Since when a cluster cannot be read (Unix time).",
            figures.unreachable,
        )
        yield _per_cluster(
            "netadvisor_cluster_last_successful_scan_timestamp_seconds",
            "When the cluster was last read successfully (Unix time).",
            figures.last_success,
        )
        if figures.last_success:
            yield GaugeMetricFamily(
                "netadvisor_last_successful_scan_timestamp_seconds",
                "When any cluster was last read successfully (Unix time).",
                value=max(figures.last_success.values()).timestamp(),
            )


def _per_cluster(name: str, help_text: str, moments: Mapping[str, datetime]) -> Metric:
    """A gauge of one Unix time per cluster (label ``cluster``), in the order of the names."""
    gauge = GaugeMetricFamily(name, help_text, labels=["cluster"])
    for cluster, when in sorted(moments.items()):
        gauge.add_metric([cluster], when.timestamp())
    return gauge
