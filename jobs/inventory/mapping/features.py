"""Features of the whole cluster (Cilium, RKE2, kubeadm) and of its Services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from advisories.fleet import FactEvidence, Node
from jobs.inventory import raw
from jobs.inventory.mapping.objects import (
    KUBE_SYSTEM,
    MAX_NAMES,
    Builder,
    as_list,
    as_map,
    find_container,
    name_of,
    namespace_of,
    reason_of,
    text_of,
)
from jobs.inventory.port import Snapshot

__all__ = ["read_cluster_features", "read_services", "slim_service"]


def slim_service(obj: Any) -> raw.Service:
    """The parts of a Service this module reads."""
    meta = as_map(as_map(obj).get("metadata"))
    spec = as_map(as_map(obj).get("spec"))
    slim: raw.ServiceSpec = {}
    if isinstance(spec.get("type"), str):
        slim["type"] = spec["type"]
    if isinstance(spec.get("externalTrafficPolicy"), str):
        slim["externalTrafficPolicy"] = spec["externalTrafficPolicy"]
    if as_list(spec.get("externalIPs")):
        slim["externalIPs"] = [str(v) for v in spec["externalIPs"]]
    if as_list(spec.get("loadBalancerSourceRanges")):
        slim["loadBalancerSourceRanges"] = [str(v) for v in spec["loadBalancerSourceRanges"]]
    return {
        "metadata": {
            "name": str(meta.get("name", "")),
            "namespace": str(meta.get("namespace", "")),
        },
        "spec": slim,
    }


# -- Features of the whole cluster ------------------------------------------------------------


def read_cluster_features(snapshot: Snapshot, nodes: Sequence[Node], out: Builder) -> None:
    """Set the ``cilium``, ``rke2`` and ``kubeadm-config-absent`` features."""
    daemonsets = snapshot.listing("daemonsets")
    cilium = find_container(
        daemonsets.items, "DaemonSet", "cilium-agent", ("cilium",), (KUBE_SYSTEM,)
    )
    if cilium is not None:
        out.feature("cilium", True, FactEvidence(cilium.ref, cilium.field("image"), cilium.image))
    else:
        problem = daemonsets.problem_for(KUBE_SYSTEM, "cilium")
        if problem is None:
            out.feature(
                "cilium", False, FactEvidence(f"{KUBE_SYSTEM}/DaemonSet/cilium", "", "not found")
            )
        else:
            out.unknown(
                "cilium", reason_of(problem, "DaemonSets"), f"{KUBE_SYSTEM}/DaemonSet/cilium"
            )

    version = text_of(as_map(snapshot.version).get("gitVersion"))
    kubelets = [n.kubelet_version for n in nodes if n.kubelet_version]
    rke2_node = next((n for n in nodes if n.kubelet_version and "rke2" in n.kubelet_version), None)
    if version is not None and "rke2" in version.lower():
        out.feature("rke2", True, FactEvidence("/version", "gitVersion", version))
    elif rke2_node is not None:
        out.feature(
            "rke2",
            True,
            FactEvidence(
                f"Node/{rke2_node.name}",
                "status.nodeInfo.kubeletVersion",
                rke2_node.kubelet_version,
            ),
        )
    elif version is not None:
        out.feature("rke2", False, FactEvidence("/version", "gitVersion", version))
    elif kubelets:
        out.feature(
            "rke2", False, FactEvidence("Nodes", "status.nodeInfo.kubeletVersion", kubelets[0])
        )
    else:
        out.unknown("rke2", "neither /version nor the nodes could be read", "/version")

    configmaps = snapshot.listing("configmaps")
    obj_ref = f"{KUBE_SYSTEM}/ConfigMap/kubeadm-config"
    if configmaps.find(KUBE_SYSTEM, "kubeadm-config") is not None:
        out.feature("kubeadm-config-absent", False, FactEvidence(obj_ref, "", "present"))
    else:
        problem = configmaps.problem_for(KUBE_SYSTEM, "kubeadm-config")
        if problem is None:
            out.feature("kubeadm-config-absent", True, FactEvidence(obj_ref, "", "not found"))
        else:
            out.unknown("kubeadm-config-absent", reason_of(problem, "ConfigMaps"), obj_ref)


def read_services(snapshot: Snapshot, out: Builder) -> None:
    """Set the features that Services decide."""
    listing = snapshot.listing("services")
    if listing.problems:
        reason = reason_of(listing.problems[0], "Services")
        out.unknown("externalips-etp-local", reason, "Services")
        out.unknown("lb-source-ranges", reason, "Services")
        return
    external = []
    ranges = []
    for obj in listing.items:
        spec = as_map(obj.get("spec"))
        ref = f"{namespace_of(obj) or ''}/{name_of(obj)}"
        if as_list(spec.get("externalIPs")) and spec.get("externalTrafficPolicy") in (
            "Local",
            "OnlyLocal",
        ):
            external.append(ref)
        if spec.get("type") == "LoadBalancer" and as_list(spec.get("loadBalancerSourceRanges")):
            ranges.append(ref)
    for feature, refs, where in (
        ("externalips-etp-local", external, "spec.externalIPs + externalTrafficPolicy: Local"),
        ("lb-source-ranges", ranges, "type LoadBalancer + spec.loadBalancerSourceRanges"),
    ):
        shown = ", ".join(refs[:MAX_NAMES]) + (", ..." if len(refs) > MAX_NAMES else "")
        value = f"{len(refs)} Service{'s' if len(refs) != 1 else ''}" + (
            f": {shown}" if refs else ""
        )
        out.feature(feature, bool(refs), FactEvidence("Services", where, value))
