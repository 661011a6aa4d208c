"""Clusters as the core sees them, and matching a cluster's facts against the catalog.

Inventory adapters (``jobs/inventory``) turn API objects into :class:`ClusterFacts`; the core
never sees vendor JSON. A cluster's verdict for an advisory is ``affected`` if any node is,
else ``unknown`` if any node is, else ``not_affected``; nodes with the same node facts are
evaluated once (:class:`NodeGroup`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from advisories.derive import parse_os, resolve
from advisories.engine import Engine, Result
from advisories.facts import Facts, KernelDomain, read_cluster_version
from advisories.models import Verdict
from advisories.versions import VersionError, VersionSet, parse_kernel

__all__ = [
    "ClusterFacts",
    "ClusterMatch",
    "ClusterStatus",
    "Component",
    "FactEvidence",
    "Node",
    "NodeGroup",
    "match_cluster",
    "node_facts",
]


class ClusterStatus(Enum):
    """Whether a cluster could be read."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class FactEvidence:
    """Where a fact was read (``object`` and ``field``), or why it is unknown (``reason``)."""

    object: str = ""
    """e.g. ``kube-system/ConfigMap/kube-proxy``."""
    field: str = ""
    """e.g. ``data.config.conf: mode``."""
    value: str | None = None
    """The raw value read, if any."""
    reason: str | None = None
    """Why the fact is unknown: forbidden, not found, unparseable..."""


@dataclass(frozen=True, slots=True)
class Component:
    """A component's installation state: ``installed`` is True, False or None (unknown)."""

    installed: bool | None
    version: str | None = None
    """The raw version string read (image tag, ClusterInformation...)."""
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Node:
    """One node's facts as the API reports them (raw strings kept as evidence)."""

    name: str
    kernel: str | None
    os_image: str | None
    kubelet_version: str | None = None
    container_runtime: str | None = None
    architecture: str | None = None
    roles: tuple[str, ...] = ()
    kube_proxy: str | None = None
    """kube-proxy version of this node, where it differs per node (one DaemonSet per pool)."""
    proxy_mode: str | None = None
    """kube-proxy mode of this node, where it differs per node."""


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """What inventory learnt about one cluster."""

    name: str
    uid: str | None
    status: ClusterStatus
    facts: Facts
    """Cluster-level facts (versions, modes, features) in the shared vocabulary."""
    nodes: tuple[Node, ...] = ()
    error: str | None = None
    components: Mapping[str, Component] = field(default_factory=dict)
    evidence: Mapping[str, FactEvidence] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    demo: bool = False
    """True for the bundled demo fleet; demo data is labelled everywhere and never posted."""
    nodes_unknown: str | None = None
    """Why the node list could not be read in this scan (its nodes and their facts are unknown,
    not absent); None when it was read."""


@dataclass(frozen=True, slots=True)
class NodeGroup:
    """Nodes that share kernel and OS (and kube-proxy, where it differs per node), evaluated
    together."""

    kernel: str | None
    os_image: str | None
    nodes: tuple[str, ...]
    kube_proxy: str | None = None
    proxy_mode: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterMatch:
    """A cluster's verdict for one advisory, with the nodes behind it."""

    result: Result
    """The worst node group's result (affected > unknown > not affected)."""
    verdict: Verdict
    affected_nodes: tuple[str, ...] = ()
    unknown_nodes: tuple[str, ...] = ()
    node_results: tuple[tuple[NodeGroup, Result], ...] = ()


def node_groups(nodes: Iterable[Node]) -> list[NodeGroup]:
    """Group nodes by (kernel, OS image, kube-proxy version and mode), in first-seen order."""
    groups: dict[tuple[str | None, str | None, str | None, str | None], list[str]] = {}
    for node in nodes:
        key = (node.kernel, node.os_image, node.kube_proxy, node.proxy_mode)
        groups.setdefault(key, []).append(node.name)
    return [NodeGroup(k, o, tuple(names), p, m) for (k, o, p, m), names in groups.items()]


def node_facts(cluster_facts: Facts, group: NodeGroup) -> Facts:
    """Cluster facts plus the kernel and OS of one node group (and its kube-proxy version and
    mode, where those differ per node).

    An unparseable kernel string stays unknown with the raw value kept as evidence.
    """
    facts = cluster_facts
    if group.kube_proxy is not None:
        proxy, problem = read_cluster_version(group.kube_proxy)
        if problem is None:
            facts = facts.set("kube-proxy", proxy, group.kube_proxy)
    if group.proxy_mode is not None:
        facts = facts.set("proxy-mode", frozenset({group.proxy_mode}), group.proxy_mode)
    release = parse_os(group.os_image) if group.os_image else None
    if group.kernel is not None and not facts.known("kernel"):
        try:
            kernel = parse_kernel(group.kernel)
        except VersionError:
            # Unparseable: the kernel stays unknown (the OS may still imply it); keep the raw.
            facts = Facts(facts.values, {**facts.raw, "kernel": group.kernel}, facts.os_name)
        else:
            domain = KernelDomain(VersionSet.point(kernel.key), frozenset({kernel.may_backport}))
            facts = facts.set("kernel", domain, group.kernel)
    if group.os_image is not None:
        raws = dict(facts.raw)
        raws["os"] = group.os_image
        facts = Facts(values=facts.values, raw=raws,
                      os_name=release.name if release else facts.os_name)  # fmt: skip
    return facts


def match_cluster(engine: Engine, cluster: ClusterFacts) -> list[ClusterMatch]:
    """Per advisory, the cluster's verdict over its node groups (one evaluation per group)."""
    groups = node_groups(cluster.nodes) or [NodeGroup(None, None, ())]
    per_group = [(g, engine.evaluate(resolve(node_facts(cluster.facts, g)))) for g in groups]
    matches = []
    for index in range(len(engine.advisories)):
        pairs = tuple((g, results[index]) for g, results in per_group)
        affected = tuple(n for g, r in pairs if r.verdict is Verdict.AFFECTED for n in g.nodes)
        unknown = tuple(n for g, r in pairs if r.verdict is Verdict.UNKNOWN for n in g.nodes)
        worst = max(pairs, key=lambda p: p[1].verdict.rank)[1]
        matches.append(
            ClusterMatch(
                result=worst,
                verdict=worst.verdict,
                affected_nodes=affected,
                unknown_nodes=unknown,
                node_results=pairs,
            )
        )
    return matches
