"""Clusters and their matches, built over the real catalog, for the tracking tests.

``cluster(...)`` gives the ClusterFacts an inventory adapter would produce; ``scan(...)`` pairs
each with its matches as ``advisories.fleet.match_cluster`` computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from advisories.catalog import Catalog, load_catalog
from advisories.engine import Engine
from advisories.facts import Facts, parse_fact
from advisories.fleet import ClusterFacts, ClusterMatch, ClusterStatus, Node, match_cluster

__all__ = ["IPVS", "catalog", "cluster", "engine", "scan", "unreadable"]

IPVS = "KP-IPVS-CONN-REUSE"
"""Affected with IPVS on kernels below 5.9 (Kubernetes >= 1.22 decides the case)."""


@cache
def catalog() -> Catalog:
    """The built-in catalog (loaded once)."""
    return load_catalog()


@cache
def engine() -> Engine:
    """An engine over the built-in catalog."""
    return Engine(catalog().advisories)


def _facts(stated: Mapping[str, str]) -> Facts:
    values = {}
    raw = {}
    for key, text in stated.items():
        canonical, domain, _ = parse_fact(key, text)
        values[canonical] = domain
        raw[canonical] = text
    return Facts(values=values, raw=raw)


def cluster(
    name: str = "prod-1",
    uid: str | None = None,
    *,
    kernels: Sequence[str] = ("5.4.0-150-generic",) * 3,
    mode: str | None = "ipvs",
    kubernetes: str | None = "v1.28.3",
    labels: Mapping[str, str] | None = None,
    demo: bool = False,
    facts: Mapping[str, str] | None = None,
) -> ClusterFacts:
    """A readable cluster, one node per kernel (``<name>-node-<i>``); no Calico, no Spiderpool."""
    stated = {"calico": "none", "spiderpool": "none"}
    if mode is not None:
        stated["proxy-mode"] = mode
    if kubernetes is not None:
        stated["kubernetes"] = kubernetes
    stated.update(facts or {})
    nodes = tuple(
        Node(f"{name}-node-{i}", kernel, "Ubuntu 20.04.6 LTS", kubernetes)
        for i, kernel in enumerate(kernels, start=1)
    )
    return ClusterFacts(
        name=name,
        uid=uid or f"uid-{name}",
        status=ClusterStatus.OK,
        facts=_facts(stated),
        nodes=nodes,
        labels=dict(labels or {}),
        demo=demo,
    )


def unreadable(
    name: str = "prod-1",
    uid: str | None = None,
    status: ClusterStatus = ClusterStatus.UNREACHABLE,
    error: str = "connection refused",
) -> ClusterFacts:
    """A cluster that could not be read (``uid`` None: not even kube-system)."""
    return ClusterFacts(name=name, uid=uid, status=status, facts=Facts(), error=error)


def scan(*clusters: ClusterFacts) -> list[tuple[ClusterFacts, list[ClusterMatch]]]:
    """Each cluster with its matches (none for unreadable clusters)."""
    return [
        (c, match_cluster(engine(), c) if c.status is ClusterStatus.OK else []) for c in clusters
    ]
