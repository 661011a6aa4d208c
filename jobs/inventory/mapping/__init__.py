"""Raw Kubernetes objects -> :class:`advisories.fleet.ClusterFacts`.

The one module that decides what a cluster's objects mean, for the live API and for dumps alike
(both hand over a :class:`~jobs.inventory.port.Snapshot` of the same JSON shapes), so the same
cluster gives the same facts whichever way it was read.

One module per component: :mod:`.objects` (accessors, workload search, the fact builder),
:mod:`.kubernetes` (``/version`` and nodes), :mod:`.kube_proxy`, :mod:`.calico`,
:mod:`.spiderpool` and :mod:`.features` (cluster-wide features and Services); this package
puts them together (:func:`cluster_facts`) and says what the live adapter reads next
(:func:`follow_ups`).

Rules, per fact (vocabulary of :mod:`advisories.facts`):

- ``kubernetes``: ``/version`` gitVersion.
- ``kube-proxy``: image tag of the ``kube-proxy`` container of the kube-proxy DaemonSet in
  kube-system, else of its static pods (RKE2). With one DaemonSet per worker pool (Gardener's
  ``kube-proxy-<pool>-v<version>``), each node gets the version and mode of the one DaemonSet
  whose nodeSelector/affinity selects it (the live read lets the server select, by
  ``labelSelector``; dumps match the nodes' labels), none where none or several do; the
  cluster-level value is any of the pools'. k3s runs kube-proxy inside its binary: the node's
  k3s version, and the mode from ``--kube-proxy-arg proxy-mode=...`` in the node's
  ``k3s.io/node-args`` annotation (default iptables).
- ``proxy-mode``: ``mode`` in the file that ``--config`` names, read from the ConfigMap mounted
  there (``kube-proxy`` / ``config.conf`` on kubeadm, ``kube-proxy-config`` / ``config`` on EKS;
  empty = iptables on Linux); else ``--proxy-mode``; else iptables (kube-proxy's default).
  ``none`` only on positive evidence: no kube-proxy at all and Cilium's
  ``kube-proxy-replacement`` is ``true`` or ``strict`` (or k3s's ``--disable-kube-proxy``).
  Otherwise unknown.
- ``host-iptables-mode``: the verified default of the nodes' OS release
  (:mod:`advisories.os_defaults`), labelled ``OS default`` in the evidence; unknown for
  releases not verified, or when the nodes' defaults differ (then each node group gets its own).
- ``calico``: image tag of the ``calico-node`` container (any DaemonSet: calico-node, canal,
  rke2-canal; mirrored images such as ``rancher/mirrored-calico-node`` too), else
  ClusterInformation ``default`` spec.calicoVersion. Not installed only when the DaemonSets were
  read, none runs calico-node, and no Calico resources exist.
- ``calico-encapsulation``: enabled IPPools (ipipMode / vxlanMode); else ``none`` when Calico
  does policy only (Installation ``spec.cni.type`` AmazonVPC/GKE/AzureVNET, or calico-node's
  ``CALICO_NETWORKING_BACKEND=none``); else the operator's Installation, else (no IPPools
  served or present) ``CALICO_IPV4POOL_IPIP`` / ``CALICO_IPV4POOL_VXLAN`` on calico-node.
  IPPools that cannot be read (403) leave it unknown.
- ``calico-kube-controllers`` (feature): a Deployment runs it (replicas above 0) in
  kube-system, calico-system or calico-node's namespace; off when those were read whole.
- ``calico-iptables-backend``: ``FELIX_IPTABLESBACKEND`` on calico-node (Felix gives environment
  variables precedence over the datastore), else FelixConfiguration ``default``
  spec.iptablesBackend, else ``auto`` (Felix's default) when FelixConfigurations were read.
- ``spiderpool``: image tag of spiderpool-agent, else of spiderpool-controller.
- Features as :data:`advisories.facts.FEATURES` describes them.

Anything that cannot be read or parsed is unknown, with the reason and the raw value kept in
``evidence``; nothing here raises on malformed input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from advisories.facts import FEATURES, Facts, canonical_key, parse_fact
from advisories.fleet import ClusterFacts, ClusterStatus, FactEvidence, Node
from jobs.inventory.mapping.calico import calico_node, read_calico
from jobs.inventory.mapping.features import read_cluster_features, read_services, slim_service
from jobs.inventory.mapping.kube_proxy import (
    NODE_ARGS,
    kube_proxy_daemonsets,
    looks_built_in,
    node_selectors,
    read_kube_proxy,
)
from jobs.inventory.mapping.kubernetes import (
    read_host_iptables,
    read_kubernetes,
    read_nodes,
    slim_node,
)
from jobs.inventory.mapping.objects import (
    KUBE_SYSTEM,
    Builder,
    as_map,
    find_container,
    image_tag,
    reason_of,
    text_of,
)
from jobs.inventory.mapping.spiderpool import read_spiderpool, spiderpool_agent
from jobs.inventory.port import Listing, Snapshot

__all__ = [
    "NODE_ARGS",
    "OVERRIDE",
    "FollowUps",
    "Overrides",
    "cluster_facts",
    "failed_cluster",
    "follow_ups",
    "image_tag",
    "looks_built_in",
    "slim_node",
    "slim_service",
]

OVERRIDE: Final = "configuration override"
"""The ``object`` of the evidence of a fact stated in the configuration."""


@dataclass(frozen=True, slots=True)
class Overrides:
    """Facts and features an operator states for a cluster; they win over what is read."""

    facts: Mapping[str, str] = field(default_factory=dict)
    """Fact key -> value text (validated with :func:`advisories.facts.parse_fact`)."""
    features: Mapping[str, bool] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# What the live adapter must read after the DaemonSets


@dataclass(frozen=True, slots=True)
class FollowUps:
    """Requests that depend on the DaemonSets that were found."""

    kube_proxy_daemonset: bool
    """False: look for kube-proxy static pods."""
    deployment_namespaces: tuple[str, ...]
    """Namespaces whose Deployments hold calico-kube-controllers or spiderpool-controller."""
    spiderpool_namespace: str | None
    """Namespace of spiderpool-agent (where spiderpool-conf lives), if found."""
    node_selections: tuple[tuple[str, tuple[str, ...] | None], ...] = ()
    """With one kube-proxy DaemonSet per worker pool: each one's reference and the label
    selectors (ORed) of the nodes it runs on, for the server to answer (None: cannot be
    written as label selectors)."""


def follow_ups(daemonsets: Listing) -> FollowUps:
    """What to read next, given the DaemonSets (the same search the facts use)."""
    proxy = find_container(
        daemonsets.items, "DaemonSet", "kube-proxy", ("kube-proxy",), (KUBE_SYSTEM,)
    )
    calico = calico_node(daemonsets)
    agent = spiderpool_agent(daemonsets)
    namespaces = [KUBE_SYSTEM]
    for found in (calico, agent):
        if found is not None and found.namespace and found.namespace not in namespaces:
            namespaces.append(found.namespace)
    pools = kube_proxy_daemonsets(daemonsets)
    selections = tuple((f.ref, node_selectors(f)) for f in pools) if len(pools) > 1 else ()
    return FollowUps(
        kube_proxy_daemonset=proxy is not None,
        deployment_namespaces=tuple(namespaces),
        spiderpool_namespace=agent.namespace if agent is not None else None,
        node_selections=selections,
    )


def cluster_facts(
    snapshot: Snapshot,
    *,
    name: str,
    labels: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
    demo: bool = False,
) -> ClusterFacts:
    """Everything the snapshot says about the cluster, in the shared vocabulary."""
    out = Builder()
    read_kubernetes(snapshot, out)
    nodes = read_nodes(snapshot, out)
    read_host_iptables(nodes, out)
    per_node = read_kube_proxy(snapshot, out)
    read_calico(snapshot, out)
    read_spiderpool(snapshot, out)
    read_cluster_features(snapshot, nodes, out)
    read_services(snapshot, out)
    _apply_overrides(overrides or Overrides(), out)
    if per_node:
        stated = {canonical_key(k) for k in (overrides or Overrides()).facts}
        nodes = tuple(
            replace(
                node,
                kube_proxy=None if "kube-proxy" in stated else per_node[node.name][0],
                proxy_mode=None if "proxy-mode" in stated else per_node[node.name][1],
            )
            if node.name in per_node
            else node
            for node in nodes
        )
    namespace = snapshot.listing("namespaces").find(None, KUBE_SYSTEM)
    uid = text_of(as_map(namespace.get("metadata")).get("uid")) if namespace is not None else None
    return ClusterFacts(
        name=name,
        uid=uid,
        status=ClusterStatus.OK,
        facts=Facts(values=out.values, raw=out.raw),
        nodes=nodes,
        components=out.components,
        evidence=out.evidence,
        labels=dict(labels or {}),
        demo=demo,
        nodes_unknown=_nodes_unknown(snapshot, nodes),
    )


def _nodes_unknown(snapshot: Snapshot, nodes: Sequence[Node]) -> str | None:
    """Why the node list was not read (None when it was): a failed read is not "no nodes"."""
    listing = snapshot.listing("nodes")
    if nodes or not listing.problems:
        return None
    return reason_of(listing.problems[0], "Nodes")


def failed_cluster(
    name: str,
    status: ClusterStatus,
    reason: str,
    *,
    labels: Mapping[str, str] | None = None,
    demo: bool = False,
) -> ClusterFacts:
    """A cluster that could not be read: every fact unknown, with the reason."""
    return ClusterFacts(
        name=name,
        uid=None,
        status=status,
        facts=Facts(),
        error=reason,
        labels=dict(labels or {}),
        demo=demo,
    )


def _apply_overrides(overrides: Overrides, out: Builder) -> None:
    for key, text in overrides.facts.items():
        canonical, domain, _ = parse_fact(key, text)
        out.evidence.pop(canonical, None)  # stated facts are listed in the order stated
        out.known(canonical, domain, FactEvidence(OVERRIDE, f"overrides.{canonical}", text))
    for name, on in overrides.features.items():
        if name in FEATURES:
            out.feature(name, on, FactEvidence(OVERRIDE, f"features.{name}", str(on).lower()))
