"""Scan = inventory + match, and the JSON shapes of inventory and scan (documented in the README).

Pure functions over :class:`advisories.fleet.ClusterFacts`; the command line prints them and
later the Slack app and the state store use the same shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from advisories.engine import Engine
from advisories.facts import FEATURES, VersionDomain
from advisories.fleet import ClusterFacts, ClusterMatch, ClusterStatus, match_cluster
from advisories.models import Verdict
from advisories.serialize import describe_domain, facts_to_json

__all__ = [
    "ClusterScan",
    "cluster_to_json",
    "inventory_to_json",
    "scan_fleet",
    "scan_to_json",
]

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClusterScan:
    """One cluster's facts and, when it could be read, its verdict for every advisory."""

    cluster: ClusterFacts
    matches: tuple[ClusterMatch, ...] = ()

    def count(self, verdict: Verdict) -> int:
        """How many advisories have this verdict."""
        return sum(1 for m in self.matches if m.verdict is verdict)


def scan_fleet(clusters: Sequence[ClusterFacts], engine: Engine) -> list[ClusterScan]:
    """Match every readable cluster against the engine's advisories."""
    out = []
    for cluster in clusters:
        if cluster.status is ClusterStatus.OK:
            out.append(ClusterScan(cluster, tuple(match_cluster(engine, cluster))))
        else:
            out.append(ClusterScan(cluster))
    return out


def _feature(cluster: ClusterFacts, name: str) -> bool | None:
    domain = cluster.facts.values.get(name)
    if isinstance(domain, frozenset) and len(domain) == 1:
        value = next(iter(domain))
        return value if isinstance(value, bool) else None
    return None


def _component(cluster: ClusterFacts, name: str) -> JSON:
    component = cluster.components.get(name)
    if component is None:
        return {"installed": None, "version": None}
    out: JSON = {"installed": component.installed, "version": component.version}
    if component.details:
        out["details"] = dict(component.details)
    return out


def _value(cluster: ClusterFacts, key: str) -> Any:
    domain = cluster.facts.values.get(key)
    if domain is None:
        return None
    described = describe_domain(key, domain)
    if isinstance(domain, frozenset) and isinstance(described, list) and len(described) == 1:
        return described[0]
    return described


def _identity(cluster: ClusterFacts) -> JSON:
    """The fields that open a cluster in every report: who it is and whether it was read."""
    return {
        "name": cluster.name,
        "uid": cluster.uid,
        "status": cluster.status.value,
        "error": cluster.error,
        "demo": cluster.demo,
        "aliases": list(cluster.aliases),
        "labels": dict(cluster.labels),
    }


def cluster_to_json(cluster: ClusterFacts) -> JSON:
    """One cluster as ``inventory --json`` prints it."""
    version = cluster.facts.values.get("kubernetes")
    calico = _component(cluster, "calico")
    calico["encapsulation"] = _value(cluster, "calico-encapsulation")
    calico["iptables_backend"] = _value(cluster, "calico-iptables-backend")
    return {
        **_identity(cluster),
        "kubernetes_version": cluster.facts.raw.get("kubernetes")
        if isinstance(version, VersionDomain)
        else None,
        "proxy_mode": _value(cluster, "proxy-mode"),
        "kube_proxy": _component(cluster, "kube-proxy"),
        "calico": calico,
        "spiderpool": _component(cluster, "spiderpool"),
        "features": {name: _feature(cluster, name) for name in FEATURES},
        "facts": facts_to_json(cluster.facts),
        "evidence": {
            key: {"object": e.object, "field": e.field, "value": e.value, "reason": e.reason}
            for key, e in cluster.evidence.items()
        },
        "nodes": [
            {
                "name": n.name,
                "roles": list(n.roles),
                "kernel": n.kernel,
                "os_image": n.os_image,
                "kubelet_version": n.kubelet_version,
                "container_runtime": n.container_runtime,
                "architecture": n.architecture,
            }
            for n in cluster.nodes
        ],
    }


def inventory_to_json(clusters: Sequence[ClusterFacts]) -> JSON:
    """The whole ``inventory --json`` document."""
    return {
        "demo": any(c.demo for c in clusters),
        "clusters": [cluster_to_json(c) for c in clusters],
    }


def _match_to_json(match: ClusterMatch, language: str) -> JSON:
    result = match.result
    advisory = result.advisory
    return {
        "id": advisory.id,
        "title": advisory.title,
        "component": advisory.component,
        "verdict": match.verdict.value,
        "severity": result.severity.value if result.severity else None,
        "nodes": list(match.affected_nodes),
        "unknown_nodes": list(match.unknown_nodes),
        "impact": result.impact(language),
        "recommendation": advisory.recommendation.get(language),
        "depends_on": list(result.depends_on),
        "depends_text": result.depends_text(),
        "evidence": dict(result.evidence),
    }


def scan_to_json(scans: Sequence[ClusterScan], catalog_version: str, language: str = "en") -> JSON:
    """The whole ``scan --json`` document: one entry per cluster, one result per advisory."""
    clusters = []
    for scan in scans:
        cluster = scan.cluster
        clusters.append(
            {
                **_identity(cluster),
                "summary": {v.value: scan.count(v) for v in Verdict},
                "results": [_match_to_json(m, language) for m in scan.matches],
            }
        )
    return {
        "catalog_version": catalog_version,
        "demo": any(s.cluster.demo for s in scans),
        "clusters": clusters,
    }
