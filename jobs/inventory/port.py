"""The inventory port: what an adapter reads from one cluster, and how it fails.

An adapter (:mod:`jobs.inventory.kube` for the API, :mod:`jobs.inventory.dumps` for files)
implements :class:`ClusterReader`: it returns a :class:`Snapshot`, the raw Kubernetes objects of
the resource types in :mod:`jobs.inventory.resources`, each with the problems met while reading
it. One shared module (:mod:`jobs.inventory.mapping`, a package) turns any snapshot into
:class:`advisories.fleet.ClusterFacts`, so a dump and the live API give the same facts.

Errors, one family for the port (each carries the cluster's status and a reason fit to show)::

    InventoryError                  the cluster could not be read at all
     ├── ClusterUnreachable         status unreachable: refused, no route, DNS, connect timeout
     ├── ClusterTimeout             status timeout: the cluster's time budget ran out
     ├── ClusterAccessError         status error: credentials rejected, TLS, kubeconfig, plugin
     └── DumpError                  status error: a dump file cannot be read
    DuplicateCluster                not a failure: another target already reads this cluster

A resource that cannot be read (403, not served, 500) is not an error of the cluster: it is a
:class:`ReadProblem` in that resource's :class:`Listing`, and the facts it decides are unknown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from advisories.fleet import ClusterStatus

__all__ = [
    "ClusterAccessError",
    "ClusterReader",
    "ClusterTimeout",
    "ClusterUnreachable",
    "DumpError",
    "DuplicateCluster",
    "InventoryError",
    "KubeObject",
    "Listing",
    "ProblemKind",
    "ReadContext",
    "ReadProblem",
    "Snapshot",
]

KubeObject = Mapping[str, Any]
"""A Kubernetes object as JSON (see :mod:`jobs.inventory.raw` for the fields inventory reads)."""


class ProblemKind(Enum):
    """Why (part of) a resource type could not be read."""

    FORBIDDEN = "forbidden"
    """HTTP 403: the credentials may not read it."""
    NOT_SERVED = "not served"
    """The cluster does not serve this resource type (a CRD that is not installed)."""
    NOT_FOUND = "not found"
    """A named object does not exist."""
    NOT_COLLECTED = "not collected"
    """The dump does not carry it."""
    FAILED = "failed"
    """Any other failure (HTTP 5xx, unreadable data)."""


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """A part of a resource type that could not be read.

    ``namespace`` and ``name`` narrow what it covers (None: every namespace / every object).
    """

    kind: ProblemKind
    message: str
    """Short and free of credentials, e.g. the API server's Status message."""
    namespace: str | None = None
    name: str | None = None

    def covers(self, namespace: str | None, name: str | None) -> bool:
        """Whether this problem may hide the object ``namespace``/``name``."""
        if self.namespace is not None and namespace is not None and self.namespace != namespace:
            return False
        return not (self.name is not None and name is not None and self.name != name)


@dataclass(frozen=True, slots=True)
class Listing:
    """The objects of one resource type that were read, and the parts that could not be."""

    items: tuple[KubeObject, ...] = ()
    problems: tuple[ReadProblem, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every part was read (an object not in ``items`` does not exist)."""
        return not self.problems

    def find(self, namespace: str | None, name: str) -> KubeObject | None:
        """The object with this namespace (None: cluster-scoped or any) and name."""
        for item in self.items:
            meta = item.get("metadata")
            if not isinstance(meta, Mapping) or meta.get("name") != name:
                continue
            if namespace is None or meta.get("namespace") == namespace:
                return item
        return None

    def problem_for(self, namespace: str | None, name: str | None = None) -> ReadProblem | None:
        """The first problem that may hide ``namespace``/``name``, or None."""
        for problem in self.problems:
            if problem.covers(namespace, name):
                return problem
        return None

    @staticmethod
    def merge(parts: Iterable[Listing]) -> Listing:
        """One listing from several parts (objects met twice are kept once)."""
        items: list[KubeObject] = []
        problems: list[ReadProblem] = []
        seen: set[tuple[object, object, object]] = set()
        for part in parts:
            for item in part.items:
                meta = item.get("metadata")
                key = (
                    (item.get("kind"), meta.get("namespace"), meta.get("name"))
                    if isinstance(meta, Mapping)
                    else (id(item), None, None)
                )
                if key in seen and key[2] is not None:
                    continue
                seen.add(key)
                items.append(item)
            problems.extend(part.problems)
        return Listing(tuple(items), tuple(problems))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The raw objects read from one cluster (or a dump of it)."""

    version: Mapping[str, Any] | None
    """The ``/version`` answer, or None."""
    version_problem: ReadProblem | None = None
    resources: Mapping[str, Listing] = field(default_factory=dict)
    """Resource key (see :mod:`jobs.inventory.resources`) -> what was read."""
    origin: str = ""
    """Where it was read: ``kubeconfig ~/.kube/config, context prod`` or ``dump x.json``."""
    node_sets: Mapping[str, Listing] = field(default_factory=dict)
    """Workload reference (``kube-system/DaemonSet/kube-proxy-a``) -> the nodes its placement
    selects, as the API server answered a ``labelSelector`` list (names only). Absent: the
    mapping matches the placement against the nodes' labels itself (dumps carry them)."""

    def listing(self, resource: str) -> Listing:
        """What was read of one resource type; not collected when the snapshot lacks it."""
        found = self.resources.get(resource)
        if found is not None:
            return found
        return Listing((), (ReadProblem(ProblemKind.NOT_COLLECTED, f"{resource} not read"),))


class InventoryError(Exception):
    """A cluster could not be read; ``reason`` is fit to show (no credentials)."""

    status = ClusterStatus.ERROR

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClusterUnreachable(InventoryError):
    """No connection to the API server: refused, no route, DNS, connect timeout."""

    status = ClusterStatus.UNREACHABLE


class ClusterTimeout(InventoryError):
    """The cluster's time budget ran out."""

    status = ClusterStatus.TIMEOUT


class ClusterAccessError(InventoryError):
    """Connected but not allowed in: credentials rejected, TLS failure, bad kubeconfig, plugin."""


class DumpError(InventoryError):
    """A dump file cannot be read (missing, not JSON, not a bundle or List)."""


class DuplicateCluster(Exception):
    """Another target already reads the cluster with this ``uid`` (an alias of it)."""

    def __init__(self, uid: str) -> None:
        super().__init__(f"cluster {uid} is already read under another name")
        self.uid = uid


@dataclass(slots=True)
class ReadContext:
    """What a reader needs while it reads one cluster: its deadline and identity claims.

    ``stage`` says what the reader is doing (shown when it times out); ``claim`` is called with
    the cluster's identity (the kube-system namespace UID) as soon as it is known and raises
    :class:`DuplicateCluster` when another target has claimed it.
    """

    deadline: float
    """``time.monotonic()`` value at which the cluster's time is up."""
    budget: float = 0.0
    """The cluster's time budget in seconds (for messages)."""
    claim: Callable[[str], None] = lambda uid: None
    stage: str = "starting"
    cancelled: threading.Event = field(default_factory=threading.Event)
    """Set by the runner when it stops waiting for this cluster."""

    def remaining(self) -> float:
        """Seconds left (may be negative)."""
        return self.deadline - time.monotonic()

    def check(self) -> float:
        """Raise ClusterTimeout when the time is up or the runner gave up; else seconds left."""
        left = self.remaining()
        if left <= 0 or self.cancelled.is_set():
            raise ClusterTimeout(self.timeout_message())
        return left

    def timeout_message(self) -> str:
        """``no answer within 30 s (while listing nodes)``."""
        within = f"within {self.budget:g} s" if self.budget > 0 else "in time"
        return f"no answer {within} (while {self.stage})"


class ClusterReader(Protocol):
    """Reads the raw objects of one cluster (the port every inventory adapter implements)."""

    @property
    def origin(self) -> str:
        """Where it reads, for people: ``kubeconfig a.yaml, context prod``; never a secret."""
        ...

    def read(self, context: ReadContext) -> Snapshot:
        """Read the cluster before ``context.deadline``; raise an :class:`InventoryError`."""
        ...
