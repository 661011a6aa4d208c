"""The Kubernetes version (``/version``) and the nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from advisories.derive import parse_os
from advisories.fleet import FactEvidence, Node
from advisories.os_defaults import OS_DEFAULT, iptables_default
from jobs.inventory import raw
from jobs.inventory.mapping.objects import (
    Builder,
    as_map,
    name_of,
    reason_of,
    text_of,
)
from jobs.inventory.port import Snapshot

__all__ = ["read_host_iptables", "read_kubernetes", "read_nodes", "slim_node"]

# ---------------------------------------------------------------------------------------------
# Shapes the live adapter keeps (the fields below are all this module reads)


def _slim_labels(labels: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in as_map(labels).items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        if key.startswith("node-role.kubernetes.io/") or key in (
            "kubernetes.io/role",
            "kubernetes.io/arch",
            "beta.kubernetes.io/arch",
        ):
            out[key] = value
    return out


def slim_node(obj: Any) -> raw.Node:
    """The parts of a Node this module reads (keeps a 5,000-node list small in memory)."""
    meta = as_map(as_map(obj).get("metadata"))
    info = as_map(as_map(as_map(obj).get("status")).get("nodeInfo"))
    node_info: raw.NodeInfo = {}
    for key in (
        "kernelVersion",
        "osImage",
        "kubeletVersion",
        "containerRuntimeVersion",
        "architecture",
    ):
        value = info.get(key)
        if isinstance(value, str):
            node_info[key] = value
    return {
        "metadata": {"name": str(meta.get("name", "")), "labels": _slim_labels(meta.get("labels"))},
        "status": {"nodeInfo": node_info},
    }


def read_kubernetes(snapshot: Snapshot, out: Builder) -> None:
    """Set ``kubernetes`` from ``/version``."""
    version = as_map(snapshot.version)
    text = text_of(version.get("gitVersion"))
    if text is None:
        reason = (
            reason_of(snapshot.version_problem, "/version")
            if snapshot.version_problem
            else ("/version: no gitVersion")
        )
        out.unknown("kubernetes", reason, "/version", "gitVersion")
        return
    out.version("kubernetes", text, FactEvidence("/version", "gitVersion", text))


def read_nodes(snapshot: Snapshot, out: Builder) -> tuple[Node, ...]:
    """The nodes as :class:`Node` values (versions, kernel, OS image, roles)."""
    listing = snapshot.listing("nodes")
    nodes = []
    for obj in listing.items:
        labels = as_map(as_map(obj.get("metadata")).get("labels"))
        info = as_map(as_map(obj.get("status")).get("nodeInfo"))
        roles = set()
        for key, value in labels.items():
            if isinstance(key, str) and key.startswith("node-role.kubernetes.io/"):
                role = key.removeprefix("node-role.kubernetes.io/")
                if role:
                    roles.add(role)
            elif key == "kubernetes.io/role" and text_of(value):
                roles.add(str(value).strip())
        nodes.append(
            Node(
                name=name_of(obj),
                kernel=text_of(info.get("kernelVersion")),
                os_image=text_of(info.get("osImage")),
                kubelet_version=text_of(info.get("kubeletVersion")),
                container_runtime=text_of(info.get("containerRuntimeVersion")),
                # Not read: no advisory uses it, and the live read (Table cells, no row
                # metadata) does not carry it; dumps must give the same facts.
                architecture=None,
                roles=tuple(sorted(roles)),
            )
        )
    if listing.problems and not nodes:
        out.evidence["nodes"] = FactEvidence(
            "Nodes", "", None, reason_of(listing.problems[0], "Nodes")
        )
    return tuple(nodes)


def read_host_iptables(nodes: Sequence[Node], out: Builder) -> None:
    """Set ``host-iptables-mode`` from the nodes' OS images: the distribution's verified default
    (labelled "OS default", not read), when every node has the same one; else say why not."""
    key = "host-iptables-mode"
    images = sorted({n.os_image or "" for n in nodes})
    if not images:
        out.unknown(key, "no nodes were read", "Nodes", "status.nodeInfo.osImage")
        return
    defaults = {}
    missing = []
    for image in images:
        release = parse_os(image) if image else None
        default = iptables_default(release.name if release else None)
        if default is None:
            missing.append(image or "(no OS image)")
        else:
            defaults[image] = default
    field = "status.nodeInfo.osImage"
    if missing:
        out.unknown(
            key,
            f"no verified iptables default for {', '.join(missing[:3])}",
            "Nodes",
            field,
            ", ".join(missing[:3]),
        )
        return
    modes = {d.mode for d in defaults.values()}
    names = ", ".join(sorted({d.os_name for d in defaults.values()}))
    if len(modes) > 1:
        out.unknown(key, f"the nodes' OS defaults differ ({names}): read per node", "Nodes", field)
        return
    (mode,) = modes
    sources = " ".join(sorted({d.source for d in defaults.values()}))
    out.known(
        key,
        frozenset({mode}),
        FactEvidence(OS_DEFAULT, f"Node {field} ({sources})", f"{mode} ({OS_DEFAULT}: {names})"),
    )
