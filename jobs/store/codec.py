"""Cluster facts to JSON and back, losslessly: what the store keeps of every successful scan.

Domains are written exactly (version intervals as their keys), so that facts read back give the
same verdicts as the live scan did; nodes are kept as their distinct groups (every attribute but
the name), which keeps a 5,000-node cluster to a few rows of JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from advisories.facts import Domain, Facts, KernelDomain, VersionDomain
from advisories.fleet import ClusterFacts, ClusterStatus, Component, FactEvidence, Node
from advisories.versions import VersionKey, VersionSet

__all__ = [
    "cluster_from_json",
    "cluster_to_json",
    "content_hash",
    "facts_from_json",
    "facts_to_json",
]

JSON = dict[str, Any]


def _key(key: VersionKey) -> list[list[int]]:
    return [list(key.release), list(key.pre)]


def _unkey(data: Any) -> VersionKey:
    release, pre = data
    return VersionKey(tuple(int(p) for p in release), tuple(int(p) for p in pre))


def _versions(versions: VersionSet) -> list[list[list[list[int]]]]:
    return [[_key(lo), _key(hi)] for lo, hi in versions.intervals]


def _unversions(data: Any) -> VersionSet:
    return VersionSet(tuple((_unkey(lo), _unkey(hi)) for lo, hi in data))


def domain_to_json(domain: Domain) -> JSON:
    """One domain, tagged by kind."""
    if isinstance(domain, VersionDomain):
        return {"t": "version", "v": _versions(domain.versions), "absent": domain.absent}
    if isinstance(domain, KernelDomain):
        return {"t": "kernel", "v": _versions(domain.versions), "vendor": sorted(domain.vendor)}
    items: list[object] = list(domain)
    if items and isinstance(items[0], bool):
        return {"t": "bool", "v": sorted(bool(i) for i in items)}
    sets = [i for i in items if isinstance(i, frozenset)]
    if sets:
        return {"t": "set", "v": sorted(sorted(str(v) for v in i) for i in sets)}
    return {"t": "enum", "v": sorted(str(i) for i in items)}


def domain_from_json(data: Mapping[str, Any]) -> Domain:
    """Inverse of :func:`domain_to_json`."""
    kind = data["t"]
    if kind == "version":
        return VersionDomain(_unversions(data["v"]), absent=bool(data["absent"]))
    if kind == "kernel":
        return KernelDomain(_unversions(data["v"]), frozenset(bool(v) for v in data["vendor"]))
    if kind == "bool":
        return frozenset(bool(v) for v in data["v"])
    if kind == "set":
        return frozenset(frozenset(str(v) for v in item) for item in data["v"])
    return frozenset(str(v) for v in data["v"])


def facts_to_json(facts: Facts) -> JSON:
    """Facts with their raw strings and OS release."""
    return {
        "values": {k: domain_to_json(v) for k, v in sorted(facts.values.items())},
        "raw": dict(sorted(facts.raw.items())),
        "os_name": facts.os_name,
    }


def facts_from_json(data: Mapping[str, Any]) -> Facts:
    """Inverse of :func:`facts_to_json`."""
    return Facts(
        values={k: domain_from_json(v) for k, v in data["values"].items()},
        raw=dict(data["raw"]),
        os_name=data["os_name"],
    )


def _node_groups(nodes: tuple[Node, ...]) -> list[JSON]:
    groups: dict[tuple[str | None, ...], tuple[tuple[str, ...], list[str]]] = {}
    for node in nodes:
        key = (
            node.kernel,
            node.os_image,
            node.kubelet_version,
            node.container_runtime,
            node.architecture,
            node.kube_proxy,
            node.proxy_mode,
            *node.roles,
        )
        groups.setdefault(key, (node.roles, []))[1].append(node.name)
    out = []
    for key, (roles, names) in groups.items():
        group: JSON = {
            "kernel": key[0],
            "os_image": key[1],
            "kubelet_version": key[2],
            "container_runtime": key[3],
            "architecture": key[4],
            "roles": list(roles),
            "nodes": names,
        }
        if key[5] is not None or key[6] is not None:  # kube-proxy differs per node
            group["kube_proxy"], group["proxy_mode"] = key[5], key[6]
        out.append(group)
    return out


def cluster_to_json(cluster: ClusterFacts) -> JSON:
    """Everything inventory learnt about a cluster, nodes as distinct groups."""
    return {
        "name": cluster.name,
        "uid": cluster.uid,
        "status": cluster.status.value,
        "error": cluster.error,
        "facts": facts_to_json(cluster.facts),
        "node_groups": _node_groups(cluster.nodes),
        "components": {
            name: {"installed": c.installed, "version": c.version, "details": dict(c.details)}
            for name, c in sorted(cluster.components.items())
        },
        "evidence": {
            key: {"object": e.object, "field": e.field, "value": e.value, "reason": e.reason}
            for key, e in sorted(cluster.evidence.items())
        },
        "labels": dict(sorted(cluster.labels.items())),
        "aliases": list(cluster.aliases),
        "demo": cluster.demo,
    }


def cluster_from_json(data: Mapping[str, Any]) -> ClusterFacts:
    """Inverse of :func:`cluster_to_json` (nodes come back grouped, in group order)."""
    nodes = tuple(
        Node(
            name=name,
            kernel=group["kernel"],
            os_image=group["os_image"],
            kubelet_version=group["kubelet_version"],
            container_runtime=group["container_runtime"],
            architecture=group["architecture"],
            roles=tuple(group["roles"]),
            kube_proxy=group.get("kube_proxy"),
            proxy_mode=group.get("proxy_mode"),
        )
        for group in data["node_groups"]
        for name in group["nodes"]
    )
    return ClusterFacts(
        name=data["name"],
        uid=data["uid"],
        status=ClusterStatus(data["status"]),
        facts=facts_from_json(data["facts"]),
        nodes=nodes,
        error=data["error"],
        components={
            name: Component(c["installed"], c["version"], dict(c["details"]))
            for name, c in data["components"].items()
        },
        evidence={
            key: FactEvidence(e["object"], e["field"], e["value"], e["reason"])
            for key, e in data["evidence"].items()
        },
        labels=dict(data["labels"]),
        aliases=tuple(data["aliases"]),
        demo=bool(data["demo"]),
    )


def content_hash(data: object) -> str:
    """SHA-256 of the canonical JSON form (identical facts are stored once)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
