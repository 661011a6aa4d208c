"""Calico: version, encapsulation and Felix's iptables backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from advisories.facts import (
    VersionDomain,
    read_cluster_version,
)
from advisories.fleet import Component, FactEvidence
from advisories.versions import VersionSet
from jobs.inventory.mapping.objects import (
    KUBE_SYSTEM,
    Builder,
    Found,
    as_list,
    as_map,
    bool_of,
    find_container,
    image_tag,
    name_of,
    reason_of,
    text_of,
)
from jobs.inventory.port import Listing, ProblemKind, Snapshot

__all__ = ["calico_node", "read_calico"]


def calico_node(daemonsets: Listing) -> Found | None:
    """The calico-node container of a DaemonSet (calico-node, canal, rke2-canal, ...)."""
    return find_container(
        daemonsets.items,
        "DaemonSet",
        "calico-node",
        ("calico-node",),
        prefer_namespaces=(KUBE_SYSTEM, "calico-system"),
    )


# -- Calico -----------------------------------------------------------------------------------

_POOL_MODES: Final = {"always": "", "crosssubnet": "-crosssubnet"}
_OPERATOR_ENCAPSULATION: Final = {
    "ipip": "ipip",
    "ipipcrosssubnet": "ipip-crosssubnet",
    "vxlan": "vxlan",
    "vxlancrosssubnet": "vxlan-crosssubnet",
    "none": "none",
}
_BACKENDS: Final = ("auto", "nft", "legacy")


def read_calico(snapshot: Snapshot, out: Builder) -> None:
    """Set ``calico``, ``calico-encapsulation``, ``calico-iptables-backend`` and the
    ``calico-kube-controllers`` feature."""
    daemonsets = snapshot.listing("daemonsets")
    found = calico_node(daemonsets)
    information = snapshot.listing("clusterinformations").find(None, "default")
    info_version = (
        text_of(as_map(information.get("spec")).get("calicoVersion")) if information else None
    )
    details: dict[str, str] = {}
    if information is not None:
        details["clusterinformation"] = info_version or "?"
    controllers = find_container(
        snapshot.listing("deployments").items,
        "Deployment",
        "calico-kube-controllers",
        ("calico-kube-controllers",),
    )
    if controllers is not None and controllers.image:
        details["calico-kube-controllers"] = image_tag(controllers.image) or controllers.image
    felix = snapshot.listing("felixconfigurations").find(None, "default")
    detect = text_of(as_map(felix.get("spec")).get("featureDetectOverride")) if felix else None
    if detect:
        details["featureDetectOverride"] = detect

    if found is None:
        pools = snapshot.listing("ippools").items
        problem = daemonsets.problem_for(None, "calico-node")
        if problem is not None:
            reason = reason_of(problem, "calico-node DaemonSet")
        elif information is not None or pools:
            reason = "Calico resources exist but no DaemonSet runs calico-node"
        else:
            out.known(
                "calico",
                VersionDomain(VersionSet.empty(), absent=True),
                FactEvidence("DaemonSets", "containers[calico-node]", "none", None),
            )
            out.components["calico"] = Component(False, None, details)
            for key in ("calico-encapsulation", "calico-iptables-backend"):
                out.unknown(key, "Calico is not installed")
            _kube_controllers(snapshot, None, out)
            return
        out.unknown("calico", reason, "DaemonSets", "containers[calico-node]")
        out.components["calico"] = Component(None, info_version, details)
        _encapsulation(snapshot, None, out)
        _iptables_backend(snapshot, None, out)
        _kube_controllers(snapshot, None, out)
        return

    details["object"] = found.ref
    image = found.image
    tag = image_tag(image) if image else None
    version: str | None = None
    if tag is not None and read_cluster_version(tag)[1] is None:
        version = tag
        out.version("calico", tag, FactEvidence(found.ref, found.field("image"), tag))
    elif info_version is not None and read_cluster_version(info_version)[1] is None:
        version = info_version
        out.version(
            "calico",
            info_version,
            FactEvidence("ClusterInformation/default", "spec.calicoVersion", info_version),
        )
    else:
        # Installed, version unknown: every version, but not "absent".
        out.known(
            "calico",
            VersionDomain(VersionSet.everything()),
            FactEvidence(
                found.ref,
                found.field("image"),
                image,
                "unparseable: no version in the image tag or ClusterInformation",
            ),
        )
        out.raw.pop("calico", None)
        if image:
            out.raw["calico"] = image
    out.components["calico"] = Component(True, version or tag, details)
    _encapsulation(snapshot, found, out)
    _iptables_backend(snapshot, found, out)
    _kube_controllers(snapshot, found, out)


_CONTROLLERS: Final = "calico-kube-controllers"


def _kube_controllers(snapshot: Snapshot, node: Found | None, out: Builder) -> None:
    """The ``calico-kube-controllers`` feature: a Deployment runs it with replicas above 0.

    Looked for in kube-system, calico-system and calico-node's namespace (the manifests, the
    operator and charts such as rke2-canal, which deploys it only when
    ``calico.calicoKubeControllers`` is set). Off only when those namespaces were read whole.
    """
    namespaces = [KUBE_SYSTEM, "calico-system"]
    if node is not None and node.namespace and node.namespace not in namespaces:
        namespaces.append(node.namespace)
    deployments = snapshot.listing("deployments")
    found = find_container(
        deployments.items, "Deployment", _CONTROLLERS, (_CONTROLLERS,), tuple(namespaces)
    )
    if found is not None:
        replicas = as_map(found.obj.get("spec")).get("replicas", 1)
        on = not (isinstance(replicas, int) and replicas == 0)
        out.feature(_CONTROLLERS, on, FactEvidence(found.ref, "spec.replicas", str(replicas)))
        return
    problem = next(
        (p for ns in namespaces if (p := deployments.problem_for(ns, _CONTROLLERS)) is not None),
        None,
    )
    if problem is not None:
        out.unknown(_CONTROLLERS, reason_of(problem, "Deployments"), "Deployments")
        return
    out.feature(
        _CONTROLLERS,
        False,
        FactEvidence(
            "Deployments", f"containers[{_CONTROLLERS}] in {', '.join(namespaces)}", "none"
        ),
    )


def _pool_encapsulation(spec: Mapping[str, Any]) -> tuple[set[str], str | None]:
    """The encapsulations of one IPPool, or a reason when a mode is unreadable."""
    values: set[str] = set()
    for field_name, base in (("ipipMode", "ipip"), ("vxlanMode", "vxlan")):
        mode = spec.get(field_name)
        if mode is None or mode == "":
            continue
        if not isinstance(mode, str):
            return set(), f"{field_name} {mode!r}"
        lowered = mode.strip().lower()
        if lowered in _POOL_MODES:
            values.add(base + _POOL_MODES[lowered])
        elif lowered not in ("never", "off"):
            return set(), f"{field_name} {mode!r}"
    return values or {"none"}, None


def _encapsulation(snapshot: Snapshot, node: Found | None, out: Builder) -> None:
    key = "calico-encapsulation"
    pools = snapshot.listing("ippools")
    enabled = [p for p in pools.items if bool_of(as_map(p.get("spec")).get("disabled")) is not True]
    chosen = enabled or list(pools.items)
    if chosen:
        values: set[str] = set()
        for pool in chosen:
            spec = as_map(pool.get("spec"))
            found, problem = _pool_encapsulation(spec)
            raw_modes = f"ipipMode={spec.get('ipipMode', '')} vxlanMode={spec.get('vxlanMode', '')}"
            if problem is not None:
                out.unknown(
                    key,
                    f"unparseable: {problem}",
                    f"IPPool/{name_of(pool)}",
                    "spec.ipipMode, spec.vxlanMode",
                    raw_modes,
                )
                return
            values.update(found)
        value = ",".join(sorted(values))
        names = ", ".join(name_of(p) for p in chosen)
        out.known(
            key,
            frozenset({frozenset(values)}),
            FactEvidence(f"IPPool/{names}", "spec.ipipMode, spec.vxlanMode", value),
        )
        return
    policy_only = _policy_only(snapshot, node)
    if policy_only is not None:
        # Calico enforces policy only: another CNI moves the packets, Calico encapsulates none.
        out.known(key, frozenset({frozenset({"none"})}), policy_only)
        return
    blocked = next((p for p in pools.problems if p.kind is not ProblemKind.NOT_SERVED), None)
    installation = _installation_encapsulation(snapshot)
    if installation is not None:
        values_text, evidence = installation
        out.known(key, frozenset({frozenset(values_text)}), evidence)
        return
    if blocked is not None:
        out.unknown(key, reason_of(blocked, "IPPools"), "IPPools")
        return
    if node is not None:
        env = _env_encapsulation(node)
        if env is not None:
            values_env, evidence = env
            out.known(key, frozenset({frozenset(values_env)}), evidence)
            return
    out.unknown(key, "no IPPool, Installation or CALICO_IPV4POOL_* variable says", "IPPools")


_POLICY_ONLY_CNI: Final = ("amazonvpc", "gke", "azurevnet")
"""Installation ``spec.cni.type`` values where Calico does policy only (``Calico`` networks)."""


def _policy_only(snapshot: Snapshot, node: Found | None) -> FactEvidence | None:
    """Evidence that Calico does no networking, or None.

    The operator's Installation with a non-Calico ``spec.cni.type`` (AmazonVPC, GKE, AzureVNET),
    or calico-node with ``CALICO_NETWORKING_BACKEND=none`` (the policy-only manifests, such as
    the one the Amazon VPC CNI ships for EKS).
    """
    # See: https://docs.tigera.io/calico/latest/reference/installation/api#cni (CNIPluginType)
    installation = snapshot.listing("installations").find(None, "default")
    cni = text_of(as_map(as_map(as_map(installation).get("spec")).get("cni")).get("type"))
    if installation is not None and cni is not None and cni.lower() in _POLICY_ONLY_CNI:
        return FactEvidence("Installation/default", "spec.cni.type (policy only)", cni)
    if node is not None:
        value, _ = node.env("CALICO_NETWORKING_BACKEND")
        if value is not None and value.strip().lower() == "none":
            return FactEvidence(
                node.ref, node.field("env.CALICO_NETWORKING_BACKEND (policy only)"), value
            )
    return None


def _installation_encapsulation(snapshot: Snapshot) -> tuple[set[str], FactEvidence] | None:
    installation = snapshot.listing("installations").find(None, "default")
    if installation is None:
        return None
    network = as_map(as_map(installation.get("spec")).get("calicoNetwork"))
    values: set[str] = set()
    raws = []
    for pool in as_list(network.get("ipPools")):
        text = text_of(as_map(pool).get("encapsulation"))
        if text is None:
            return None
        mapped = _OPERATOR_ENCAPSULATION.get(text.lower())
        if mapped is None:
            return None
        values.add(mapped)
        raws.append(text)
    if not values:
        return None
    return values, FactEvidence(
        "Installation/default", "spec.calicoNetwork.ipPools[].encapsulation", ",".join(raws)
    )


def _env_encapsulation(node: Found) -> tuple[set[str], FactEvidence] | None:
    values: set[str] = set()
    shown = []
    for variable, base in (("CALICO_IPV4POOL_IPIP", "ipip"), ("CALICO_IPV4POOL_VXLAN", "vxlan")):
        value, present = node.env(variable)
        if not present:
            continue
        if value is None:
            return None
        lowered = value.strip().lower()
        if lowered in _POOL_MODES:
            values.add(base + _POOL_MODES[lowered])
        elif lowered not in ("never", "off", ""):
            return None
        shown.append(f"{variable}={value}")
    if not shown:
        return None
    return values or {"none"}, FactEvidence(node.ref, node.field("env"), " ".join(shown))


def _iptables_backend(snapshot: Snapshot, node: Found | None, out: Builder) -> None:
    key = "calico-iptables-backend"
    if node is not None:
        value, present = node.env("FELIX_IPTABLESBACKEND")
        if present:
            evidence = FactEvidence(node.ref, node.field("env.FELIX_IPTABLESBACKEND"), value)
            if value is None:
                out.unknown(
                    key,
                    "FELIX_IPTABLESBACKEND is set from a reference",
                    evidence.object,
                    evidence.field,
                )
            else:
                _set_backend(value, evidence, out)
            return
    felix = snapshot.listing("felixconfigurations")
    default = felix.find(None, "default")
    if default is not None:
        value = as_map(default.get("spec")).get("iptablesBackend")
        if isinstance(value, str) and value.strip():
            _set_backend(
                value,
                FactEvidence("FelixConfiguration/default", "spec.iptablesBackend", value),
                out,
            )
            return
    problem = felix.problem_for(None, "default")
    if problem is not None:
        out.unknown(key, reason_of(problem, "FelixConfiguration default"), "FelixConfigurations")
        return
    # See: https://docs.tigera.io/calico/latest/reference/resources/felixconfig (default Auto)
    out.enum(
        key,
        "auto",
        FactEvidence("FelixConfiguration/default", "spec.iptablesBackend (not set: Auto)", None),
    )


def _set_backend(text: str, evidence: FactEvidence, out: Builder) -> None:
    lowered = text.strip().lower()
    if lowered not in _BACKENDS:
        out.unknown(
            "calico-iptables-backend",
            f"unparseable: {text!r} (Legacy, NFT or Auto)",
            evidence.object,
            evidence.field,
            text,
        )
        return
    out.enum("calico-iptables-backend", lowered, evidence)
