"""The resource types inventory reads, and the read-only permissions that takes.

One table for the live adapter (what to request), the dump script (what kubectl writes), the
bundle format (its keys) and the README's permission table (what the deployment grants).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "BY_KIND",
    "PERMISSIONS",
    "RESOURCES",
    "Permission",
    "ResourceType",
    "permissions_table",
]


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One resource type inventory reads."""

    key: str
    """Key in a :class:`~jobs.inventory.port.Snapshot` and in a dump bundle."""
    group: str
    """API group; ``""`` for the core group."""
    version: str
    plural: str
    kind: str
    namespaced: bool
    why: str
    """What it tells, for the README."""

    @property
    def kubectl_name(self) -> str:
        """The name kubectl takes, fully qualified for custom resources (``ippools.crd...``)."""
        return f"{self.plural}.{self.group}" if self.group and "." in self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path (``/apis/apps/v1/namespaces/kube-system/daemonsets``)."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            root += f"/namespaces/{namespace}"
        root += f"/{self.plural}"
        if name is not None:
            root += f"/{name}"
        return root


_CALICO: Final = "crd.projectcalico.org"

RESOURCES: Final[tuple[ResourceType, ...]] = (
    ResourceType(
        "namespaces",
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        "cluster identity (UID of kube-system)",
    ),
    ResourceType(
        "nodes",
        "",
        "v1",
        "nodes",
        "Node",
        False,
        "kernel, OS image, kubelet, container runtime, roles; k3s node args; pool selection",
    ),
    ResourceType(
        "daemonsets",
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        True,
        "kube-proxy, calico-node, cilium and spiderpool-agent: versions, flags, env",
    ),
    ResourceType(
        "deployments",
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        "calico-kube-controllers and spiderpool-controller: versions, env",
    ),
    ResourceType(
        "pods",
        "",
        "v1",
        "pods",
        "Pod",
        True,
        "kube-proxy static pods (RKE2) when there is no kube-proxy DaemonSet",
    ),
    ResourceType(
        "configmaps",
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        True,
        "kube-proxy's configuration, kubeadm-config, cilium-config, spiderpool-conf",
    ),
    ResourceType(
        "services",
        "",
        "v1",
        "services",
        "Service",
        True,
        "externalIPs with externalTrafficPolicy Local; loadBalancerSourceRanges",
    ),
    ResourceType(
        "ippools",
        _CALICO,
        "v1",
        "ippools",
        "IPPool",
        False,
        "Calico encapsulation (ipipMode, vxlanMode)",
    ),
    ResourceType(
        "felixconfigurations",
        _CALICO,
        "v1",
        "felixconfigurations",
        "FelixConfiguration",
        False,
        "Felix iptablesBackend, featureDetectOverride",
    ),
    ResourceType(
        "clusterinformations",
        _CALICO,
        "v1",
        "clusterinformations",
        "ClusterInformation",
        False,
        "Calico version (calicoVersion)",
    ),
    ResourceType(
        "installations",
        "operator.tigera.io",
        "v1",
        "installations",
        "Installation",
        False,
        "Calico encapsulation set through the Tigera operator",
    ),
    ResourceType(
        "spidercoordinators",
        "spiderpool.spidernet.io",
        "v2beta1",
        "spidercoordinators",
        "SpiderCoordinator",
        False,
        "Spiderpool coordinator mode",
    ),
)
"""Every resource type inventory reads, by bundle key order."""

BY_KEY: Final = {r.key: r for r in RESOURCES}
BY_KIND: Final = {r.kind: r for r in RESOURCES}
"""Resource type by object kind (to sort the items of a plain ``kubectl get -o json`` List)."""


@dataclass(frozen=True, slots=True)
class Permission:
    """One read-only grant inventory needs."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    scope: str
    """``cluster``, a namespace, or a description of which namespaces."""
    why: str
    resource_names: tuple[str, ...] = ()
    """When set, the grant can be limited to these object names."""


PERMISSIONS: Final[tuple[Permission, ...]] = (
    Permission(
        "",
        "namespaces",
        ("get",),
        "cluster",
        "kube-system's UID identifies the cluster",
        ("kube-system",),
    ),
    Permission("", "nodes", ("list",), "cluster", BY_KEY["nodes"].why),
    Permission("", "services", ("list",), "cluster", BY_KEY["services"].why),
    Permission(
        "",
        "configmaps",
        ("list",),
        "kube-system",
        "kube-proxy / kube-proxy-config, kubeadm-config, cilium-config, spiderpool-conf",
    ),
    Permission(
        "",
        "configmaps",
        ("get",),
        "Spiderpool's namespace, when not kube-system",
        "spiderpool-conf",
        ("spiderpool-conf",),
    ),
    Permission("", "pods", ("list",), "kube-system", BY_KEY["pods"].why),
    Permission("apps", "daemonsets", ("list",), "cluster", BY_KEY["daemonsets"].why),
    Permission(
        "apps",
        "deployments",
        ("list",),
        "kube-system, calico-system and Spiderpool's namespace",
        BY_KEY["deployments"].why,
    ),
    Permission(_CALICO, "ippools", ("list",), "cluster", BY_KEY["ippools"].why),
    Permission(
        _CALICO, "felixconfigurations", ("list",), "cluster", BY_KEY["felixconfigurations"].why
    ),
    Permission(
        _CALICO, "clusterinformations", ("list",), "cluster", BY_KEY["clusterinformations"].why
    ),
    Permission(
        "operator.tigera.io", "installations", ("list",), "cluster", BY_KEY["installations"].why
    ),
    Permission(
        "spiderpool.spidernet.io",
        "spidercoordinators",
        ("list",),
        "cluster",
        BY_KEY["spidercoordinators"].why,
    ),
)
"""Everything inventory may do: ``get``/``list`` only, plus ``GET /version`` (a non-resource URL
every authenticated user may read through the default ``system:public-info-viewer`` role)."""


def permissions_table() -> str:
    """The README's table of read-only permissions (Markdown), generated from PERMISSIONS."""
    lines = ["| API group | resource | verbs | where | why |", "|---|---|---|---|---|"]
    for grant in PERMISSIONS:
        group = f"`{grant.group}`" if grant.group else '`""` (core)'
        names = (
            f" (resourceNames: `{'`, `'.join(grant.resource_names)}`)"
            if grant.resource_names
            else ""
        )
        lines.append(
            f"| {group} | `{grant.resource}` | {', '.join(grant.verbs)} | {grant.scope}{names} "
            f"| {grant.why} |"
        )
    return "\n".join(lines)
