"""Reading a fleet: clusters concurrently, each within its own time budget, failures per cluster.

Each cluster is read in its own daemon thread, at most ``concurrency`` at a time. The runner
waits for a cluster until its deadline and then stops waiting: it reports the cluster as
``timeout`` and frees the slot even when the thread is stuck where no timeout reaches (an exec
credential plugin that never returns, a server that trickles bytes). An abandoned thread ends
by itself at its next check of the deadline; being a daemon thread it never delays the exit.

Identity: the reader reports the kube-system namespace UID as soon as it has it; a second target
with the same UID stops there and is shown as an alias of the first (read once).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from advisories.fleet import ClusterFacts, ClusterStatus
from jobs import metrics
from jobs.inventory.mapping import Overrides, cluster_facts, failed_cluster
from jobs.inventory.port import (
    ClusterReader,
    DuplicateCluster,
    InventoryError,
    ReadContext,
)
from jobs.logctx import about

__all__ = ["ClusterTarget", "FleetError", "Progress", "read_fleet"]


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """One cluster to read: its display name, its reader and what the configuration adds."""

    name: str
    reader: ClusterReader
    labels: Mapping[str, str] = field(default_factory=dict)
    overrides: Overrides = field(default_factory=Overrides)
    demo: bool = False

    @property
    def origin(self) -> str:
        """Where it is read, for people."""
        return self.reader.origin


class FleetError(ValueError):
    """The fleet is ill-defined (two clusters with one name); the message names both."""


Progress = Callable[[int, int, ClusterFacts], None]
"""Called with (clusters done, clusters in all, the cluster just done)."""


def check_names(targets: Sequence[ClusterTarget]) -> None:
    """Raise FleetError when two targets share a name."""
    seen: dict[str, ClusterTarget] = {}
    for target in targets:
        other = seen.get(target.name)
        if other is not None:
            raise FleetError(
                f"two clusters are named {target.name!r}: {other.origin} and {target.origin}; "
                "give them different names"
            )
        seen[target.name] = target


def read_fleet(
    targets: Sequence[ClusterTarget],
    *,
    concurrency: int = 16,
    timeout: float = 30.0,
    progress: Progress | None = None,
) -> list[ClusterFacts]:
    """Read every target; one ClusterFacts per cluster, in target order, aliases merged.

    Never raises for a cluster's failure: it is that cluster's ``status`` and ``error``. Raises
    FleetError when two targets share a name.
    """
    check_names(targets)
    if not targets:
        return []
    done: queue.Queue[tuple[int, ClusterFacts | DuplicateCluster]] = queue.Queue()
    claims: dict[str, int] = {}
    lock = threading.Lock()
    results: dict[int, ClusterFacts | DuplicateCluster] = {}
    running: dict[int, ReadContext] = {}
    started: dict[int, float] = {}
    pending = list(range(len(targets)))
    pending.reverse()

    def claim(index: int, uid: str) -> None:
        with lock:
            owner = claims.setdefault(uid, index)
        if owner != index:
            raise DuplicateCluster(uid)

    def finish(index: int, result: ClusterFacts | DuplicateCluster) -> None:
        results[index] = result
        running.pop(index, None)
        if isinstance(result, ClusterFacts):
            seconds = time.monotonic() - started[index]
            metrics.observe_cluster(result.name, seconds, result.status is ClusterStatus.OK)
        if progress is not None and isinstance(result, ClusterFacts):
            progress(len(results), len(targets), result)

    while pending or running:
        while pending and len(running) < max(1, concurrency):
            index = pending.pop()
            context = ReadContext(
                deadline=time.monotonic() + timeout,
                budget=timeout,
                claim=functools.partial(claim, index),
            )
            running[index] = context
            started[index] = time.monotonic()
            thread = threading.Thread(
                target=_read_one,
                args=(targets[index], index, context, done),
                name=f"inventory-{targets[index].name}",
                daemon=True,
            )
            thread.start()
        nearest = min(c.deadline for c in running.values())
        try:
            index, result = done.get(timeout=max(0.0, nearest - time.monotonic()) + 0.01)
        except queue.Empty:
            now = time.monotonic()
            for index, context in list(running.items()):
                if context.deadline <= now:
                    context.cancelled.set()
                    target = targets[index]
                    finish(
                        index,
                        failed_cluster(
                            target.name,
                            ClusterStatus.TIMEOUT,
                            context.timeout_message(),
                            labels=target.labels,
                            demo=target.demo,
                        ),
                    )
            continue
        if index in running:
            finish(index, result)
    return _merge_aliases(targets, results, claims)


def _read_one(
    target: ClusterTarget,
    index: int,
    context: ReadContext,
    done: queue.Queue[tuple[int, ClusterFacts | DuplicateCluster]],
) -> None:
    result: ClusterFacts | DuplicateCluster
    try:
        with about(cluster=target.name):
            snapshot = target.reader.read(context)
        context.check()
        result = cluster_facts(
            snapshot,
            name=target.name,
            labels=target.labels,
            overrides=target.overrides,
            demo=target.demo,
        )
    except DuplicateCluster as duplicate:
        result = duplicate
    except InventoryError as exc:
        result = failed_cluster(
            target.name, exc.status, exc.reason, labels=target.labels, demo=target.demo
        )
    except Exception as exc:  # a bug must cost one cluster, never the run
        result = failed_cluster(
            target.name,
            ClusterStatus.ERROR,
            f"internal error while {context.stage}: {type(exc).__name__}",
            labels=target.labels,
            demo=target.demo,
        )
    done.put((index, result))


def _merge_aliases(
    targets: Sequence[ClusterTarget],
    results: Mapping[int, ClusterFacts | DuplicateCluster],
    claims: Mapping[str, int],
) -> list[ClusterFacts]:
    aliases: dict[int, list[str]] = {}
    for index in range(len(targets)):
        result = results[index]
        if isinstance(result, DuplicateCluster):
            aliases.setdefault(claims[result.uid], []).append(targets[index].name)
    out = []
    for index in range(len(targets)):
        result = results[index]
        if isinstance(result, DuplicateCluster):
            continue
        if index in aliases:
            result = replace(result, aliases=(*result.aliases, *aliases[index]))
        out.append(result)
    return out
