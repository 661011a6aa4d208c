"""Raw Kubernetes objects -> :class:`advisories.fleet.ClusterFacts`.

The one module that decides what a cluster's objects mean, for the live API and for dumps alike
(both hand over a :class:`~jobs.inventory.port.Snapshot` of the same JSON shapes), so the same
cluster gives the same facts whichever way it was read.

Rules, per fact (vocabulary of :mod:`advisories.facts`):

- ``kubernetes``: ``/version`` gitVersion.
- ``kube-proxy``: image tag of the ``kube-proxy`` container of the kube-proxy DaemonSet in
  kube-system, else of its static pods (RKE2).
- ``proxy-mode``: ``mode`` in the file that ``--config`` names, read from the ConfigMap mounted
  there (``kube-proxy`` / ``config.conf`` on kubeadm, ``kube-proxy-config`` / ``config`` on EKS;
  empty = iptables on Linux); else ``--proxy-mode``; else iptables (kube-proxy's default).
  ``none`` only on positive evidence: no kube-proxy at all and Cilium's
  ``kube-proxy-replacement`` is ``true`` or ``strict``. Otherwise unknown.
- ``calico``: image tag of the ``calico-node`` container (any DaemonSet: calico-node, canal,
  rke2-canal; mirrored images such as ``rancher/mirrored-calico-node`` too), else
  ClusterInformation ``default`` spec.calicoVersion. Not installed only when the DaemonSets were
  read, none runs calico-node, and no Calico resources exist.
- ``calico-encapsulation``: enabled IPPools (ipipMode / vxlanMode), else the operator's
  Installation, else (no IPPools served or present) ``CALICO_IPV4POOL_IPIP`` /
  ``CALICO_IPV4POOL_VXLAN`` on calico-node. IPPools that cannot be read (403) leave it unknown.
- ``calico-iptables-backend``: ``FELIX_IPTABLESBACKEND`` on calico-node (Felix gives environment
  variables precedence over the datastore), else FelixConfiguration ``default``
  spec.iptablesBackend, else ``auto`` (Felix's default) when FelixConfigurations were read.
- ``spiderpool``: image tag of spiderpool-agent, else of spiderpool-controller.
- Features as :data:`advisories.facts.FEATURES` describes them.

Anything that cannot be read or parsed is unknown, with the reason and the raw value kept in
``evidence``; nothing here raises on malformed input.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from advisories.facts import (
    FEATURES,
    Domain,
    Facts,
    VersionDomain,
    parse_fact,
    read_cluster_version,
)
from advisories.fleet import ClusterFacts, ClusterStatus, Component, FactEvidence, Node
from advisories.versions import VersionSet
from jobs.inventory import raw
from jobs.inventory.port import KubeObject, Listing, ProblemKind, ReadProblem, Snapshot

__all__ = [
    "OVERRIDE",
    "FollowUps",
    "Overrides",
    "cluster_facts",
    "failed_cluster",
    "follow_ups",
    "image_tag",
    "slim_node",
    "slim_service",
]

OVERRIDE: Final = "configuration override"
"""The ``object`` of the evidence of a fact stated in the configuration."""

KUBE_SYSTEM: Final = "kube-system"
_MAX_NAMES: Final = 3
"""How many object names a feature's evidence lists."""


@dataclass(frozen=True, slots=True)
class Overrides:
    """Facts and features an operator states for a cluster; they win over what is read."""

    facts: Mapping[str, str] = field(default_factory=dict)
    """Fact key -> value text (validated with :func:`advisories.facts.parse_fact`)."""
    features: Mapping[str, bool] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Checking accessors: every value comes from outside


def _d(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _name(obj: KubeObject) -> str:
    return _s(_d(obj.get("metadata")).get("name")) or "?"


def _namespace(obj: KubeObject) -> str | None:
    return _s(_d(obj.get("metadata")).get("namespace"))


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``docker.io/calico/node:v3.19.1@sha256:...`` -> v3.19.1)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.split(":", 1)[1] or None


def _ref(kind: str, obj: KubeObject) -> str:
    namespace = _namespace(obj)
    return f"{namespace}/{kind}/{_name(obj)}" if namespace else f"{kind}/{_name(obj)}"


def _reason(problem: ReadProblem | None, what: str) -> str:
    if problem is None:
        return f"{what}: not found"
    return f"{what}: {problem.kind.value} ({problem.message})"


# ---------------------------------------------------------------------------------------------
# Shapes the live adapter keeps (the fields below are all this module reads)


def _slim_labels(labels: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in _d(labels).items():
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
    meta = _d(_d(obj).get("metadata"))
    info = _d(_d(_d(obj).get("status")).get("nodeInfo"))
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


def slim_service(obj: Any) -> raw.Service:
    """The parts of a Service this module reads."""
    meta = _d(_d(obj).get("metadata"))
    spec = _d(_d(obj).get("spec"))
    slim: raw.ServiceSpec = {}
    if isinstance(spec.get("type"), str):
        slim["type"] = spec["type"]
    if isinstance(spec.get("externalTrafficPolicy"), str):
        slim["externalTrafficPolicy"] = spec["externalTrafficPolicy"]
    if _l(spec.get("externalIPs")):
        slim["externalIPs"] = [str(v) for v in spec["externalIPs"]]
    if _l(spec.get("loadBalancerSourceRanges")):
        slim["loadBalancerSourceRanges"] = [str(v) for v in spec["loadBalancerSourceRanges"]]
    return {
        "metadata": {
            "name": str(meta.get("name", "")),
            "namespace": str(meta.get("namespace", "")),
        },
        "spec": slim,
    }


# ---------------------------------------------------------------------------------------------
# Finding workloads and their containers


@dataclass(frozen=True, slots=True)
class _Found:
    """A container of a DaemonSet, Deployment or Pod."""

    kind: str
    obj: KubeObject
    container: Mapping[str, Any]
    pod_spec: Mapping[str, Any]

    @property
    def namespace(self) -> str:
        return _namespace(self.obj) or ""

    @property
    def ref(self) -> str:
        return _ref(self.kind, self.obj)

    def field(self, path: str) -> str:
        prefix = "spec" if self.kind == "Pod" else "spec.template.spec"
        return f"{prefix}.containers[{_s(self.container.get('name')) or '?'}].{path}"

    @property
    def image(self) -> str | None:
        return _s(self.container.get("image"))

    def env(self, name: str) -> tuple[str | None, bool]:
        """(value, set): ``set`` is True when the variable exists (even from a reference)."""
        for var in _l(self.container.get("env")):
            var = _d(var)
            if var.get("name") == name:
                value = var.get("value")
                return (value if isinstance(value, str) else None), True
        return None, False

    def words(self) -> list[str]:
        """The container's command and args as separate words (``sh -c`` strings split)."""
        out: list[str] = []
        for item in [*_l(self.container.get("command")), *_l(self.container.get("args"))]:
            if not isinstance(item, str):
                continue
            if " " in item.strip():
                try:
                    out.extend(shlex.split(item))
                except ValueError:
                    out.extend(item.split())
            else:
                out.append(item)
        return out

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` or ``--name value`` in command and args."""
        words = self.words()
        for index, word in enumerate(words):
            key, equals, value = word.partition("=")
            if key != name:
                continue
            if equals:
                return value
            if index + 1 < len(words) and not words[index + 1].startswith("-"):
                return words[index + 1]
            return ""
        return None


def _pod_spec(kind: str, obj: KubeObject) -> Mapping[str, Any]:
    spec = _d(obj.get("spec"))
    if kind == "Pod":
        return spec
    return _d(_d(spec.get("template")).get("spec"))


def _find(
    items: Iterable[KubeObject],
    kind: str,
    container: str,
    names: Sequence[str] = (),
    namespaces: Sequence[str] | None = None,
    prefer_namespaces: Sequence[str] = (),
) -> _Found | None:
    """The best workload running a container named ``container``.

    Workloads named one of ``names`` win, then those in ``prefer_namespaces``; ``namespaces``
    restricts the search. Ties keep list order.
    """
    best: tuple[int, _Found] | None = None
    for obj in items:
        namespace = _namespace(obj) or ""
        if namespaces is not None and namespace not in namespaces:
            continue
        spec = _pod_spec(kind, obj)
        for item in _l(spec.get("containers")):
            item = _d(item)
            if item.get("name") != container:
                continue
            score = (2 if _name(obj) in names else 0) + (1 if namespace in prefer_namespaces else 0)
            if best is None or score > best[0]:
                best = (score, _Found(kind, obj, item, spec))
            break
    return best[1] if best else None


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


def follow_ups(daemonsets: Listing) -> FollowUps:
    """What to read next, given the DaemonSets (the same search the facts use)."""
    proxy = _find(daemonsets.items, "DaemonSet", "kube-proxy", ("kube-proxy",), (KUBE_SYSTEM,))
    calico = _calico_node(daemonsets)
    agent = _spiderpool_agent(daemonsets)
    namespaces = [KUBE_SYSTEM]
    for found in (calico, agent):
        if found is not None and found.namespace and found.namespace not in namespaces:
            namespaces.append(found.namespace)
    return FollowUps(
        kube_proxy_daemonset=proxy is not None,
        deployment_namespaces=tuple(namespaces),
        spiderpool_namespace=agent.namespace if agent is not None else None,
    )


def _calico_node(daemonsets: Listing) -> _Found | None:
    return _find(
        daemonsets.items,
        "DaemonSet",
        "calico-node",
        ("calico-node",),
        prefer_namespaces=(KUBE_SYSTEM, "calico-system"),
    )


def _spiderpool_agent(daemonsets: Listing) -> _Found | None:
    return _find(
        daemonsets.items,
        "DaemonSet",
        "spiderpool-agent",
        ("spiderpool-agent",),
        prefer_namespaces=(KUBE_SYSTEM,),
    )


# ---------------------------------------------------------------------------------------------
# The mapping


class _Builder:
    """Collects values, raw strings and evidence for one cluster."""

    def __init__(self) -> None:
        self.values: dict[str, Domain] = {}
        self.raw: dict[str, str] = {}
        self.evidence: dict[str, FactEvidence] = {}
        self.components: dict[str, Component] = {}

    def known(self, key: str, domain: Domain, evidence: FactEvidence) -> None:
        self.values[key] = domain
        if evidence.value is not None:
            self.raw[key] = evidence.value
        self.evidence[key] = evidence

    def enum(self, key: str, value: str, evidence: FactEvidence) -> None:
        self.known(key, frozenset({value}), evidence)

    def feature(self, key: str, on: bool, evidence: FactEvidence) -> None:
        self.known(key, frozenset({on}), evidence)

    def version(self, key: str, text: str, evidence: FactEvidence) -> bool:
        """Set a version fact from a string read; unparseable -> unknown, raw kept."""
        domain, problem = read_cluster_version(text)
        if problem is not None:
            self.unknown(key, f"unparseable: {problem}", evidence.object, evidence.field, text)
            return False
        self.known(key, domain, evidence)
        return True

    def unknown(
        self, key: str, reason: str, obj: str = "", field: str = "", value: str | None = None
    ) -> None:
        self.values.pop(key, None)
        if value is not None:
            self.raw[key] = value
        self.evidence[key] = FactEvidence(obj, field, value, reason)


def cluster_facts(
    snapshot: Snapshot,
    *,
    name: str,
    labels: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
    demo: bool = False,
) -> ClusterFacts:
    """Everything the snapshot says about the cluster, in the shared vocabulary."""
    out = _Builder()
    _kubernetes(snapshot, out)
    nodes = _nodes(snapshot, out)
    _kube_proxy(snapshot, out)
    _calico(snapshot, out)
    _spiderpool(snapshot, out)
    _cluster_features(snapshot, nodes, out)
    _services(snapshot, out)
    _apply_overrides(overrides or Overrides(), out)
    namespace = snapshot.listing("namespaces").find(None, KUBE_SYSTEM)
    uid = _s(_d(namespace.get("metadata")).get("uid")) if namespace is not None else None
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
    )


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


def _kubernetes(snapshot: Snapshot, out: _Builder) -> None:
    version = _d(snapshot.version)
    text = _s(version.get("gitVersion"))
    if text is None:
        reason = (
            _reason(snapshot.version_problem, "/version")
            if snapshot.version_problem
            else ("/version: no gitVersion")
        )
        out.unknown("kubernetes", reason, "/version", "gitVersion")
        return
    out.version("kubernetes", text, FactEvidence("/version", "gitVersion", text))


def _nodes(snapshot: Snapshot, out: _Builder) -> tuple[Node, ...]:
    listing = snapshot.listing("nodes")
    nodes = []
    for obj in listing.items:
        labels = _d(_d(obj.get("metadata")).get("labels"))
        info = _d(_d(obj.get("status")).get("nodeInfo"))
        roles = set()
        for key, value in labels.items():
            if isinstance(key, str) and key.startswith("node-role.kubernetes.io/"):
                role = key.removeprefix("node-role.kubernetes.io/")
                if role:
                    roles.add(role)
            elif key == "kubernetes.io/role" and _s(value):
                roles.add(str(value).strip())
        arch = _s(info.get("architecture")) or _s(labels.get("kubernetes.io/arch"))
        nodes.append(
            Node(
                name=_name(obj),
                kernel=_s(info.get("kernelVersion")),
                os_image=_s(info.get("osImage")),
                kubelet_version=_s(info.get("kubeletVersion")),
                container_runtime=_s(info.get("containerRuntimeVersion")),
                architecture=arch or _s(labels.get("beta.kubernetes.io/arch")),
                roles=tuple(sorted(roles)),
            )
        )
    if listing.problems and not nodes:
        out.evidence["nodes"] = FactEvidence(
            "Nodes", "", None, _reason(listing.problems[0], "Nodes")
        )
    return tuple(nodes)


# -- kube-proxy -------------------------------------------------------------------------------

_PROXY_MODES: Final = ("iptables", "ipvs", "nftables")


def _kube_proxy(snapshot: Snapshot, out: _Builder) -> None:
    daemonsets = snapshot.listing("daemonsets")
    pods = snapshot.listing("pods")
    found = _find(daemonsets.items, "DaemonSet", "kube-proxy", ("kube-proxy",), (KUBE_SYSTEM,))
    if found is None:
        found = _find(pods.items, "Pod", "kube-proxy", (), (KUBE_SYSTEM,))
    if found is None:
        _kube_proxy_absent(snapshot, daemonsets, pods, out)
        return
    image = found.image
    tag = image_tag(image) if image else None
    if tag is not None:
        out.version("kube-proxy", tag, FactEvidence(found.ref, found.field("image"), tag))
    else:
        out.unknown(
            "kube-proxy",
            "unparseable: the image has no tag",
            found.ref,
            found.field("image"),
            image,
        )
    mode = _proxy_mode(snapshot, found, out)
    details = {"object": found.ref}
    if mode:
        details["mode"] = mode
    out.components["kube-proxy"] = Component(True, tag, details)


def _proxy_mode(snapshot: Snapshot, found: _Found, out: _Builder) -> str | None:
    """Set ``proxy-mode`` from kube-proxy's configuration; return the mode if known."""
    config = found.flag("--config")
    flag = found.flag("--proxy-mode")
    if config:
        read = _config_file_mode(snapshot, found, config)
        if read.reason is not None:
            out.unknown("proxy-mode", read.reason, read.object, read.field, read.value)
            return None
        if read.value:
            return _set_mode(read.value, read, out)
        if not flag:
            # See: https://kubernetes.io/docs/reference/config-api/kube-proxy-config.v1alpha1/
            # (an empty mode is iptables on Linux)
            return _set_mode("iptables", read, out)
    if flag:
        return _set_mode(
            flag, FactEvidence(found.ref, found.field("command: --proxy-mode"), flag), out
        )
    field = found.field("command")
    return _set_mode(
        "iptables",
        FactEvidence(found.ref, field + " (no --config, no --proxy-mode: default iptables)"),
        out,
    )


def _set_mode(text: str, evidence: FactEvidence, out: _Builder) -> str | None:
    mode = text.strip().strip('"').lower()
    if mode not in _PROXY_MODES:
        out.unknown(
            "proxy-mode",
            f"unparseable: {text!r} is not a Linux proxy mode",
            evidence.object,
            evidence.field,
            text,
        )
        return None
    out.enum("proxy-mode", mode, evidence)
    return mode


def _config_file_mode(snapshot: Snapshot, found: _Found, path: str) -> FactEvidence:
    """Evidence holding the ``mode`` of the configuration file at ``path`` (reason if not)."""
    best: tuple[int, Mapping[str, Any], str] | None = None
    for mount in _l(found.container.get("volumeMounts")):
        mount = _d(mount)
        mount_path = _s(mount.get("mountPath"))
        if mount_path is None:
            continue
        sub_path = _s(mount.get("subPath"))
        if sub_path and path == mount_path:
            key = sub_path
        elif path.startswith(mount_path.rstrip("/") + "/"):
            key = path[len(mount_path.rstrip("/")) + 1 :]
        else:
            continue
        if best is None or len(mount_path) > best[0]:
            best = (len(mount_path), mount, key)
    command = found.field("command: --config")
    if best is None or "/" in best[2]:
        return FactEvidence(found.ref, command, path, f"--config {path} is not from a ConfigMap")
    _, mount, key = best
    volume = next(
        (
            _d(v)
            for v in _l(found.pod_spec.get("volumes"))
            if _d(v).get("name") == mount.get("name")
        ),
        {},
    )
    configmap_name = _s(_d(volume.get("configMap")).get("name"))
    if configmap_name is None:
        return FactEvidence(found.ref, command, path, f"--config {path} is not from a ConfigMap")
    namespace = found.namespace or KUBE_SYSTEM
    obj_ref = f"{namespace}/ConfigMap/{configmap_name}"
    configmaps = snapshot.listing("configmaps")
    configmap = configmaps.find(namespace, configmap_name)
    field = f"data.{key}: mode"
    if configmap is None:
        problem = configmaps.problem_for(namespace, configmap_name)
        return FactEvidence(obj_ref, field, None, _reason(problem, obj_ref))
    text = _d(configmap.get("data")).get(key)
    if not isinstance(text, str):
        return FactEvidence(obj_ref, field, None, f"not found: no key {key!r} in the ConfigMap")
    document = _yaml_mapping(text)
    if document is None:
        return FactEvidence(obj_ref, field, None, f"unparseable: data.{key} is not a YAML mapping")
    mode = document.get("mode")
    if mode is None or mode == "":
        return FactEvidence(obj_ref, field + " (empty: iptables)", None)
    return FactEvidence(obj_ref, field, str(mode))


def _yaml_mapping(text: str) -> Mapping[str, Any] | None:
    try:
        document = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    return document if isinstance(document, Mapping) else None


def _kube_proxy_absent(
    snapshot: Snapshot, daemonsets: Listing, pods: Listing, out: _Builder
) -> None:
    problem = daemonsets.problem_for(KUBE_SYSTEM, "kube-proxy")
    if problem is None:
        problem = pods.problem_for(KUBE_SYSTEM)
    replaced = _cilium_replaces_kube_proxy(snapshot)
    if problem is None and replaced is not None:
        out.enum("proxy-mode", "none", replaced)
        out.unknown("kube-proxy", "kube-proxy is not installed (replaced)", replaced.object)
        out.components["kube-proxy"] = Component(False, None, {"replaced by": "cilium"})
        return
    if problem is not None:
        reason = _reason(problem, "kube-proxy DaemonSet")
    else:
        reason = (
            "no kube-proxy DaemonSet or static pod in kube-system, and nothing says it is "
            "replaced (k3s, for one, runs kube-proxy inside its own binary)"
        )
    out.unknown("proxy-mode", reason, f"{KUBE_SYSTEM}/DaemonSet/kube-proxy")
    out.unknown("kube-proxy", reason, f"{KUBE_SYSTEM}/DaemonSet/kube-proxy")
    out.components["kube-proxy"] = Component(None)


def _cilium_replaces_kube_proxy(snapshot: Snapshot) -> FactEvidence | None:
    configmap = snapshot.listing("configmaps").find(KUBE_SYSTEM, "cilium-config")
    if configmap is None:
        return None
    value = _d(configmap.get("data")).get("kube-proxy-replacement")
    if isinstance(value, str) and value.strip().lower() in ("true", "strict"):
        return FactEvidence(
            f"{KUBE_SYSTEM}/ConfigMap/cilium-config", "data.kube-proxy-replacement", value
        )
    return None


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


def _calico(snapshot: Snapshot, out: _Builder) -> None:
    daemonsets = snapshot.listing("daemonsets")
    found = _calico_node(daemonsets)
    information = snapshot.listing("clusterinformations").find(None, "default")
    info_version = _s(_d(information.get("spec")).get("calicoVersion")) if information else None
    details: dict[str, str] = {}
    if information is not None:
        details["clusterinformation"] = info_version or "?"
    controllers = _find(
        snapshot.listing("deployments").items,
        "Deployment",
        "calico-kube-controllers",
        ("calico-kube-controllers",),
    )
    if controllers is not None and controllers.image:
        details["calico-kube-controllers"] = image_tag(controllers.image) or controllers.image
    felix = snapshot.listing("felixconfigurations").find(None, "default")
    detect = _s(_d(felix.get("spec")).get("featureDetectOverride")) if felix else None
    if detect:
        details["featureDetectOverride"] = detect

    if found is None:
        pools = snapshot.listing("ippools").items
        problem = daemonsets.problem_for(None, "calico-node")
        if problem is not None:
            reason = _reason(problem, "calico-node DaemonSet")
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
            return
        out.unknown("calico", reason, "DaemonSets", "containers[calico-node]")
        out.components["calico"] = Component(None, info_version, details)
        _encapsulation(snapshot, None, out)
        _iptables_backend(snapshot, None, out)
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


def _encapsulation(snapshot: Snapshot, node: _Found | None, out: _Builder) -> None:
    key = "calico-encapsulation"
    pools = snapshot.listing("ippools")
    enabled = [p for p in pools.items if _bool(_d(p.get("spec")).get("disabled")) is not True]
    chosen = enabled or list(pools.items)
    if chosen:
        values: set[str] = set()
        for pool in chosen:
            spec = _d(pool.get("spec"))
            found, problem = _pool_encapsulation(spec)
            raw_modes = f"ipipMode={spec.get('ipipMode', '')} vxlanMode={spec.get('vxlanMode', '')}"
            if problem is not None:
                out.unknown(
                    key,
                    f"unparseable: {problem}",
                    f"IPPool/{_name(pool)}",
                    "spec.ipipMode, spec.vxlanMode",
                    raw_modes,
                )
                return
            values.update(found)
        value = ",".join(sorted(values))
        names = ", ".join(_name(p) for p in chosen)
        out.known(
            key,
            frozenset({frozenset(values)}),
            FactEvidence(f"IPPool/{names}", "spec.ipipMode, spec.vxlanMode", value),
        )
        return
    blocked = next((p for p in pools.problems if p.kind is not ProblemKind.NOT_SERVED), None)
    installation = _installation_encapsulation(snapshot)
    if installation is not None:
        values_text, evidence = installation
        out.known(key, frozenset({frozenset(values_text)}), evidence)
        return
    if blocked is not None:
        out.unknown(key, _reason(blocked, "IPPools"), "IPPools")
        return
    if node is not None:
        env = _env_encapsulation(node)
        if env is not None:
            values_env, evidence = env
            out.known(key, frozenset({frozenset(values_env)}), evidence)
            return
    out.unknown(key, "no IPPool, Installation or CALICO_IPV4POOL_* variable says", "IPPools")


def _installation_encapsulation(snapshot: Snapshot) -> tuple[set[str], FactEvidence] | None:
    installation = snapshot.listing("installations").find(None, "default")
    if installation is None:
        return None
    network = _d(_d(installation.get("spec")).get("calicoNetwork"))
    values: set[str] = set()
    raws = []
    for pool in _l(network.get("ipPools")):
        text = _s(_d(pool).get("encapsulation"))
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


def _env_encapsulation(node: _Found) -> tuple[set[str], FactEvidence] | None:
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


def _iptables_backend(snapshot: Snapshot, node: _Found | None, out: _Builder) -> None:
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
        value = _d(default.get("spec")).get("iptablesBackend")
        if isinstance(value, str) and value.strip():
            _set_backend(
                value,
                FactEvidence("FelixConfiguration/default", "spec.iptablesBackend", value),
                out,
            )
            return
    problem = felix.problem_for(None, "default")
    if problem is not None:
        out.unknown(key, _reason(problem, "FelixConfiguration default"), "FelixConfigurations")
        return
    # See: https://docs.tigera.io/calico/latest/reference/resources/felixconfig (default Auto)
    out.enum(
        key,
        "auto",
        FactEvidence("FelixConfiguration/default", "spec.iptablesBackend (not set: Auto)", None),
    )


def _set_backend(text: str, evidence: FactEvidence, out: _Builder) -> None:
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


# -- Spiderpool -------------------------------------------------------------------------------

_SPIDERPOOL_FEATURES: Final = (
    "spiderpool-kubevirt-static-ip-disabled",
    "spiderpool-ip-gc-disabled",
    "spiderpool-coordinator-overlay",
    "spiderpool-multus-disabled",
    "spiderpool-subnet-enabled",
)


def _spiderpool(snapshot: Snapshot, out: _Builder) -> None:
    daemonsets = snapshot.listing("daemonsets")
    agent = _spiderpool_agent(daemonsets)
    deployments = snapshot.listing("deployments")
    namespaces = (agent.namespace,) if agent is not None else None
    controller = _find(
        deployments.items,
        "Deployment",
        "spiderpool-controller",
        ("spiderpool-controller",),
        namespaces,
    )
    if agent is None and controller is None:
        problem = daemonsets.problem_for(None, "spiderpool-agent")
        if problem is None:
            out.known(
                "spiderpool",
                VersionDomain(VersionSet.empty(), absent=True),
                FactEvidence("DaemonSets", "containers[spiderpool-agent]", "none"),
            )
            out.components["spiderpool"] = Component(False)
            reason = "Spiderpool is not installed"
        else:
            reason = _reason(problem, "spiderpool-agent DaemonSet")
            out.unknown("spiderpool", reason, "DaemonSets", "containers[spiderpool-agent]")
            out.components["spiderpool"] = Component(None)
        for feature in _SPIDERPOOL_FEATURES:
            out.unknown(feature, reason)
        return
    main = agent or controller
    assert main is not None
    details: dict[str, str] = {}
    version: str | None = None
    for found in (agent, controller):
        if found is None or not found.image:
            continue
        details[_s(found.container.get("name")) or "?"] = found.image
        tag = image_tag(found.image)
        if version is None and tag is not None and read_cluster_version(tag)[1] is None:
            version = tag
            out.version("spiderpool", tag, FactEvidence(found.ref, found.field("image"), tag))
    if version is None:
        out.known(
            "spiderpool",
            VersionDomain(VersionSet.everything()),
            FactEvidence(main.ref, "image", None, "unparseable: no version in the image tags"),
        )
    namespace = main.namespace or KUBE_SYSTEM
    out.components["spiderpool"] = Component(True, version, details)
    _spiderpool_conf(snapshot, namespace, controller, out)
    _spiderpool_gc(deployments, controller, out)
    _spiderpool_coordinator(snapshot, out)


def _spiderpool_conf(
    snapshot: Snapshot, namespace: str, controller: _Found | None, out: _Builder
) -> None:
    configmaps = snapshot.listing("configmaps")
    obj_ref = f"{namespace}/ConfigMap/spiderpool-conf"
    configmap = configmaps.find(namespace, "spiderpool-conf")
    document: Mapping[str, Any] | None = None
    reason = ""
    if configmap is None:
        reason = _reason(configmaps.problem_for(namespace, "spiderpool-conf"), obj_ref)
    else:
        text = _d(configmap.get("data")).get("conf.yml")
        document = _yaml_mapping(text) if isinstance(text, str) else None
        if document is None:
            reason = "unparseable: data.conf.yml is not a YAML mapping"
    # The agent decodes conf.yml into a Go struct: a missing key is false.
    for feature, setting, on_when in (
        ("spiderpool-kubevirt-static-ip-disabled", "enableKubevirtStaticIP", False),
        ("spiderpool-subnet-enabled", "enableSpiderSubnet", True),
    ):
        field = f"data.conf.yml: {setting}"
        if document is None:
            out.unknown(feature, reason, obj_ref, field)
            continue
        value = document.get(setting)
        flag = False if value is None else _bool(value)
        if flag is None:
            out.unknown(feature, f"unparseable: {value!r}", obj_ref, field, str(value))
            continue
        shown = str(value).lower() if value is not None else None
        where = field if value is not None else field + " (not set: false)"
        out.feature(feature, flag is on_when, FactEvidence(obj_ref, where, shown))
    _spiderpool_multus(controller, document, obj_ref, reason, out)


def _spiderpool_multus(
    controller: _Found | None,
    document: Mapping[str, Any] | None,
    obj_ref: str,
    reason: str,
    out: _Builder,
) -> None:
    """Multus configuration: the controller's SPIDERPOOL_MULTUS_CONFIG_ENABLED (what the chart's
    ``multus.enableMultusConfig`` sets), else ``enableMultusConfig`` in spiderpool-conf."""
    feature = "spiderpool-multus-disabled"
    if controller is not None:
        value, present = controller.env("SPIDERPOOL_MULTUS_CONFIG_ENABLED")
        if present:
            field = controller.field("env.SPIDERPOOL_MULTUS_CONFIG_ENABLED")
            flag = _bool(value)
            if flag is None:
                out.unknown(feature, f"unparseable: {value!r}", controller.ref, field, value)
            else:
                out.feature(feature, not flag, FactEvidence(controller.ref, field, str(value)))
            return
    field = "data.conf.yml: enableMultusConfig"
    value = document.get("enableMultusConfig") if document is not None else None
    flag = _bool(value)
    if flag is None:
        why = reason or (
            "not set (neither SPIDERPOOL_MULTUS_CONFIG_ENABLED on "
            "spiderpool-controller nor enableMultusConfig)"
        )
        if value is not None:
            why = f"unparseable: {value!r}"
        out.unknown(feature, why, obj_ref, field, None if value is None else str(value))
        return
    out.feature(feature, not flag, FactEvidence(obj_ref, field, str(value).lower()))


def _spiderpool_gc(deployments: Listing, controller: _Found | None, out: _Builder) -> None:
    feature = "spiderpool-ip-gc-disabled"
    if controller is None:
        problem = deployments.problem_for(None, "spiderpool-controller")
        out.unknown(feature, _reason(problem, "spiderpool-controller Deployment"))
        return
    value, present = controller.env("SPIDERPOOL_GC_IP_ENABLED")
    field = controller.field("env.SPIDERPOOL_GC_IP_ENABLED")
    if not present:
        out.feature(feature, False, FactEvidence(controller.ref, field + " (not set: true)", None))
        return
    flag = _bool(value)
    if flag is None:
        out.unknown(feature, f"unparseable: {value!r}", controller.ref, field, value)
        return
    out.feature(feature, not flag, FactEvidence(controller.ref, field, str(value)))


def _spiderpool_coordinator(snapshot: Snapshot, out: _Builder) -> None:
    feature = "spiderpool-coordinator-overlay"
    listing = snapshot.listing("spidercoordinators")
    coordinator = listing.find(None, "default")
    if coordinator is None:
        out.unknown(
            feature,
            _reason(listing.problem_for(None, "default"), "SpiderCoordinator default"),
            "SpiderCoordinator/default",
        )
        return
    mode = _d(coordinator.get("spec")).get("mode")
    text = mode.strip().lower() if isinstance(mode, str) else ""
    evidence = FactEvidence("SpiderCoordinator/default", "spec.mode", str(mode))
    if text in ("auto", "overlay"):
        out.feature(feature, True, evidence)
    elif text in ("underlay", "disabled"):
        out.feature(feature, False, evidence)
    else:
        out.unknown(
            feature,
            f"unparseable: mode {mode!r}",
            evidence.object,
            evidence.field,
            None if mode is None else str(mode),
        )


# -- Features of the whole cluster ------------------------------------------------------------


def _cluster_features(snapshot: Snapshot, nodes: Sequence[Node], out: _Builder) -> None:
    daemonsets = snapshot.listing("daemonsets")
    cilium = _find(daemonsets.items, "DaemonSet", "cilium-agent", ("cilium",), (KUBE_SYSTEM,))
    if cilium is not None:
        out.feature("cilium", True, FactEvidence(cilium.ref, cilium.field("image"), cilium.image))
    else:
        problem = daemonsets.problem_for(KUBE_SYSTEM, "cilium")
        if problem is None:
            out.feature(
                "cilium", False, FactEvidence(f"{KUBE_SYSTEM}/DaemonSet/cilium", "", "not found")
            )
        else:
            out.unknown("cilium", _reason(problem, "DaemonSets"), f"{KUBE_SYSTEM}/DaemonSet/cilium")

    version = _s(_d(snapshot.version).get("gitVersion"))
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
            out.unknown("kubeadm-config-absent", _reason(problem, "ConfigMaps"), obj_ref)


def _services(snapshot: Snapshot, out: _Builder) -> None:
    listing = snapshot.listing("services")
    if listing.problems:
        reason = _reason(listing.problems[0], "Services")
        out.unknown("externalips-etp-local", reason, "Services")
        out.unknown("lb-source-ranges", reason, "Services")
        return
    external = []
    ranges = []
    for obj in listing.items:
        spec = _d(obj.get("spec"))
        ref = f"{_namespace(obj) or ''}/{_name(obj)}"
        if _l(spec.get("externalIPs")) and spec.get("externalTrafficPolicy") in (
            "Local",
            "OnlyLocal",
        ):
            external.append(ref)
        if spec.get("type") == "LoadBalancer" and _l(spec.get("loadBalancerSourceRanges")):
            ranges.append(ref)
    for feature, refs, where in (
        ("externalips-etp-local", external, "spec.externalIPs + externalTrafficPolicy: Local"),
        ("lb-source-ranges", ranges, "type LoadBalancer + spec.loadBalancerSourceRanges"),
    ):
        shown = ", ".join(refs[:_MAX_NAMES]) + (", ..." if len(refs) > _MAX_NAMES else "")
        value = f"{len(refs)} Service{'s' if len(refs) != 1 else ''}" + (
            f": {shown}" if refs else ""
        )
        out.feature(feature, bool(refs), FactEvidence("Services", where, value))


def _apply_overrides(overrides: Overrides, out: _Builder) -> None:
    for key, text in overrides.facts.items():
        canonical, domain, _ = parse_fact(key, text)
        out.known(canonical, domain, FactEvidence(OVERRIDE, f"overrides.{canonical}", text))
    for name, on in overrides.features.items():
        if name in FEATURES:
            out.feature(name, on, FactEvidence(OVERRIDE, f"features.{name}", str(on).lower()))
