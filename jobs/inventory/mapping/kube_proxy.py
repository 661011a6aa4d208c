"""kube-proxy: its version and mode (DaemonSet or static pods, ConfigMap, flags), or what
replaces it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from advisories.facts import VersionDomain, read_cluster_version
from advisories.fleet import Component, FactEvidence
from jobs.inventory.mapping.objects import (
    KUBE_SYSTEM,
    Builder,
    Found,
    as_list,
    as_map,
    find_container,
    image_tag,
    name_of,
    reason_of,
    text_of,
    yaml_mapping,
)
from jobs.inventory.port import Listing, Snapshot

__all__ = [
    "NODE_ARGS",
    "PerNode",
    "kube_proxy_daemonsets",
    "node_selectors",
    "read_kube_proxy",
]

# -- kube-proxy -------------------------------------------------------------------------------

_PROXY_MODES: Final = ("iptables", "ipvs", "nftables")


PerNode = Mapping[str, tuple[str | None, str | None]]
"""Node name -> (kube-proxy version, mode) where they differ per node."""


def kube_proxy_daemonsets(daemonsets: Listing) -> list[Found]:
    """Every DaemonSet in kube-system that runs a ``kube-proxy`` container, in list order.

    Usually one; Gardener runs one per worker pool and Kubernetes version
    (``kube-proxy-<pool>-v<version>``), each selecting its nodes with a nodeSelector.
    """
    found = []
    for obj in daemonsets.items:
        one = find_container((obj,), "DaemonSet", "kube-proxy", (), (KUBE_SYSTEM,))
        if one is not None:
            found.append(one)
    return found


def node_selectors(found: Found) -> tuple[str, ...] | None:
    """The label selectors (ORed) that pick the nodes a DaemonSet runs on, for the API server.

    ``nodeSelector`` ANDed with each required node-affinity term; ``("",)`` is every node.
    None when the placement cannot be written as label selectors (``matchFields``, ``Gt``/``Lt``).
    """
    base = []
    for key, value in as_map(found.pod_spec.get("nodeSelector")).items():
        if not isinstance(value, str) or not _label_safe(key) or not _label_safe(value, True):
            return None
        base.append(f"{key}={value}")
    affinity = as_map(as_map(found.pod_spec.get("affinity")).get("nodeAffinity"))
    required = as_map(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    terms = as_list(required.get("nodeSelectorTerms"))
    if not terms:
        return (",".join(base),)
    selectors = []
    for term in terms:
        term = as_map(term)
        if as_list(term.get("matchFields")):
            return None
        parts = list(base)
        for expression in as_list(term.get("matchExpressions")):
            part = _requirement(as_map(expression))
            if part is None:
                return None
            parts.append(part)
        selectors.append(",".join(parts))
    return tuple(selectors)


def _label_safe(text: Any, value: bool = False) -> bool:
    if not isinstance(text, str) or (not text and not value):
        return False
    return all(c.isalnum() or c in "-_./" for c in text)


def _requirement(expression: Mapping[str, Any]) -> str | None:
    key = expression.get("key")
    operator = expression.get("operator")
    values = as_list(expression.get("values"))
    if not _label_safe(key) or not all(_label_safe(v, True) for v in values):
        return None
    if operator == "In" and values:
        return f"{key} in ({','.join(values)})"
    if operator == "NotIn" and values:
        return f"{key} notin ({','.join(values)})"
    if operator == "Exists":
        return str(key)
    if operator == "DoesNotExist":
        return f"!{key}"
    return None


def _runs_on(found: Found, labels: Mapping[str, Any]) -> bool | None:
    """Whether the DaemonSet's placement selects a node with these labels (None: cannot say)."""
    for key, value in as_map(found.pod_spec.get("nodeSelector")).items():
        if labels.get(key) != value:
            return False
    affinity = as_map(as_map(found.pod_spec.get("affinity")).get("nodeAffinity"))
    required = as_map(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    terms = as_list(required.get("nodeSelectorTerms"))
    if not terms:
        return True
    for term in terms:
        term = as_map(term)
        if as_list(term.get("matchFields")):
            return None
        results = [_holds(as_map(e), labels) for e in as_list(term.get("matchExpressions"))]
        if None in results:
            return None
        if all(results):
            return True
    return False


def _holds(expression: Mapping[str, Any], labels: Mapping[str, Any]) -> bool | None:
    key = expression.get("key")
    operator = expression.get("operator")
    values = as_list(expression.get("values"))
    if not isinstance(key, str):
        return None
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return not (key in labels and labels[key] in values)
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return None


def read_kube_proxy(snapshot: Snapshot, out: Builder) -> PerNode:
    """Set ``kube-proxy`` and ``proxy-mode``; return each node's where they differ per node."""
    daemonsets = snapshot.listing("daemonsets")
    pods = snapshot.listing("pods")
    pools = kube_proxy_daemonsets(daemonsets)
    if len(pools) > 1:
        return _per_pool(snapshot, pools, out)
    found = find_container(
        daemonsets.items, "DaemonSet", "kube-proxy", ("kube-proxy",), (KUBE_SYSTEM,)
    )
    if found is None:
        found = find_container(pods.items, "Pod", "kube-proxy", (), (KUBE_SYSTEM,))
    if found is None:
        return _kube_proxy_absent(snapshot, daemonsets, pods, out)
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
    return {}


def _per_pool(snapshot: Snapshot, pools: list[Found], out: Builder) -> PerNode:
    """One kube-proxy DaemonSet per worker pool: each node gets the version and mode of the one
    DaemonSet that runs on it; the cluster-level facts hold every pool's value."""
    nodes = snapshot.listing("nodes").items
    runs: dict[str, list[int]] = {name_of(n): [] for n in nodes}
    undecided: list[str] = []
    read: list[tuple[str | None, str | None]] = []
    for index, found in enumerate(pools):
        scratch = Builder()
        tag = image_tag(found.image) if found.image else None
        mode = _proxy_mode(snapshot, found, scratch)
        read.append((tag, mode))
        selected = snapshot.node_sets.get(found.ref)
        if selected is not None:
            if selected.problems:
                undecided.append(reason_of(selected.problems[0], f"nodes of {found.ref}"))
                continue
            for item in selected.items:
                runs.setdefault(name_of(item), []).append(index)
            continue
        for node in nodes:
            labels = as_map(as_map(node.get("metadata")).get("labels"))
            if _runs_on(found, labels):
                runs[name_of(node)].append(index)
    per_node: dict[str, tuple[str | None, str | None]] = {}
    unmatched = []
    for name, indexes in runs.items():
        # A pool whose nodes could not be listed may run on any node: decide none.
        if len(indexes) == 1 and not undecided:
            per_node[name] = read[indexes[0]]
        else:
            unmatched.append(name)
    shown = "; ".join(
        f"{found.ref}: {tag or '?'} {mode or '?'}"
        for found, (tag, mode) in zip(pools, read, strict=True)
    )
    where = f"{len(pools)} kube-proxy DaemonSets (one per worker pool)"
    tags = sorted({tag for tag, _ in read if tag})
    versions = [read_cluster_version(tag) for tag in tags]
    if tags and all(tag for tag, _ in read) and all(p is None for _, p in versions):
        domain = versions[0][0]
        for other, _ in versions[1:]:
            domain = VersionDomain(domain.versions.union(other.versions))
        out.known("kube-proxy", domain, FactEvidence(where, "image", " | ".join(tags)))
    else:
        out.unknown("kube-proxy", f"{where}: an image tag is missing or unparseable", where)
    modes = {mode for _, mode in read}
    if None in modes:
        out.unknown("proxy-mode", f"{where}: a mode cannot be read", where, "", shown)
    else:
        out.known(
            "proxy-mode",
            frozenset(m for m in modes if m is not None),
            FactEvidence(where, "mode", " | ".join(sorted(m for m in modes if m))),
        )
    if unmatched or undecided:
        reason = "; ".join(undecided) or (
            f"{len(unmatched)} node(s) run none or several of them: {', '.join(unmatched[:3])}"
        )
        out.evidence["kube-proxy-nodes"] = FactEvidence(where, "nodeSelector", shown, reason)
    details = {"objects": ", ".join(f.ref for f in pools), "per pool": shown}
    out.components["kube-proxy"] = Component(True, " | ".join(tags) or None, details)
    return per_node


def _proxy_mode(snapshot: Snapshot, found: Found, out: Builder) -> str | None:
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


def _set_mode(text: str, evidence: FactEvidence, out: Builder) -> str | None:
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


def _config_file_mode(snapshot: Snapshot, found: Found, path: str) -> FactEvidence:
    """Evidence holding the ``mode`` of the configuration file at ``path`` (reason if not)."""
    best: tuple[int, Mapping[str, Any], str] | None = None
    for mount in as_list(found.container.get("volumeMounts")):
        mount = as_map(mount)
        mount_path = text_of(mount.get("mountPath"))
        if mount_path is None:
            continue
        sub_path = text_of(mount.get("subPath"))
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
            as_map(v)
            for v in as_list(found.pod_spec.get("volumes"))
            if as_map(v).get("name") == mount.get("name")
        ),
        {},
    )
    configmap_name = text_of(as_map(volume.get("configMap")).get("name"))
    if configmap_name is None:
        return FactEvidence(found.ref, command, path, f"--config {path} is not from a ConfigMap")
    namespace = found.namespace or KUBE_SYSTEM
    obj_ref = f"{namespace}/ConfigMap/{configmap_name}"
    configmaps = snapshot.listing("configmaps")
    configmap = configmaps.find(namespace, configmap_name)
    field = f"data.{key}: mode"
    if configmap is None:
        problem = configmaps.problem_for(namespace, configmap_name)
        return FactEvidence(obj_ref, field, None, reason_of(problem, obj_ref))
    text = as_map(configmap.get("data")).get(key)
    if not isinstance(text, str):
        return FactEvidence(obj_ref, field, None, f"not found: no key {key!r} in the ConfigMap")
    document = yaml_mapping(text)
    if document is None:
        return FactEvidence(obj_ref, field, None, f"unparseable: data.{key} is not a YAML mapping")
    mode = document.get("mode")
    if mode is None or mode == "":
        return FactEvidence(obj_ref, field + " (empty: iptables)", None)
    return FactEvidence(obj_ref, field, str(mode))


def _kube_proxy_absent(
    snapshot: Snapshot, daemonsets: Listing, pods: Listing, out: Builder
) -> PerNode:
    problem = daemonsets.problem_for(KUBE_SYSTEM, "kube-proxy")
    if problem is None:
        problem = pods.problem_for(KUBE_SYSTEM)
    replaced = _cilium_replaces_kube_proxy(snapshot)
    if problem is None and replaced is not None:
        out.enum("proxy-mode", "none", replaced)
        out.unknown("kube-proxy", "kube-proxy is not installed (replaced)", replaced.object)
        out.components["kube-proxy"] = Component(False, None, {"replaced by": "cilium"})
        return {}
    if problem is None:
        built_in = _built_in(snapshot, out)
        if built_in is not None:
            return built_in
    if problem is not None:
        reason = reason_of(problem, "kube-proxy DaemonSet")
    else:
        reason = (
            "no kube-proxy DaemonSet or static pod in kube-system, and nothing says it is "
            "replaced (k3s, for one, runs kube-proxy inside its own binary)"
        )
    out.unknown("proxy-mode", reason, f"{KUBE_SYSTEM}/DaemonSet/kube-proxy")
    out.unknown("kube-proxy", reason, f"{KUBE_SYSTEM}/DaemonSet/kube-proxy")
    out.components["kube-proxy"] = Component(None)
    return {}


def _cilium_replaces_kube_proxy(snapshot: Snapshot) -> FactEvidence | None:
    configmap = snapshot.listing("configmaps").find(KUBE_SYSTEM, "cilium-config")
    if configmap is None:
        return None
    value = as_map(configmap.get("data")).get("kube-proxy-replacement")
    if isinstance(value, str) and value.strip().lower() in ("true", "strict"):
        return FactEvidence(
            f"{KUBE_SYSTEM}/ConfigMap/cilium-config", "data.kube-proxy-replacement", value
        )
    return None


NODE_ARGS: Final = ("k3s.io/node-args", "rke2.io/node-args")
"""Node annotations where k3s (and RKE2) record the server's or agent's command-line flags."""


def looks_built_in(nodes: Listing, version: Mapping[str, Any] | None) -> bool:
    """Whether the cluster is one that runs kube-proxy inside its own binary (k3s)."""
    # See: https://docs.k3s.io/networking/networking-services (kube-proxy runs in the k3s process)
    texts = [text_of(as_map(version).get("gitVersion")) or ""]
    for node in nodes.items:
        info = as_map(as_map(node.get("status")).get("nodeInfo"))
        texts.append(text_of(info.get("kubeletVersion")) or "")
    return any("+k3s" in t for t in texts)


def node_args(node: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """(annotation, flags) recorded on a node by k3s/RKE2, or None (absent or unreadable)."""
    annotations = as_map(as_map(node.get("metadata")).get("annotations"))
    for key in NODE_ARGS:
        text = annotations.get(key)
        if not isinstance(text, str):
            continue
        try:
            words = json.loads(text)
        except ValueError:
            return None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return key, words
        return None
    return None


def _flag_values(words: list[str], flag: str) -> list[str]:
    values = []
    for index, word in enumerate(words):
        if word == flag and index + 1 < len(words):
            values.append(words[index + 1])
        elif word.startswith(flag + "="):
            values.append(word[len(flag) + 1 :])
    return values


def _mode_from_args(words: list[str]) -> tuple[str, str]:
    """(mode, what says so) from k3s flags: ``--kube-proxy-arg proxy-mode=...``, else iptables."""
    if "--disable-kube-proxy" in words:
        return "none", "--disable-kube-proxy"
    mode = None
    for value in _flag_values(words, "--kube-proxy-arg"):
        key, _, setting = value.lstrip("-").partition("=")
        if key == "proxy-mode":
            mode = (setting.strip().lower(), f"--kube-proxy-arg {value}")
    # See: https://docs.k3s.io/cli/server (--kube-proxy-arg); kube-proxy's default mode is iptables
    return mode or ("iptables", "no --kube-proxy-arg proxy-mode (default iptables)")


def _built_in(snapshot: Snapshot, out: Builder) -> PerNode | None:
    """kube-proxy inside k3s: version of the node's k3s, mode from its recorded flags."""
    nodes = snapshot.listing("nodes")
    per_node: dict[str, tuple[str | None, str | None]] = {}
    evidence: list[tuple[str, str, str]] = []
    for node in nodes.items:
        recorded = node_args(node)
        if recorded is None:
            continue
        annotation, words = recorded
        read_mode, said = _mode_from_args(words)
        mode = read_mode if read_mode in (*_PROXY_MODES, "none") else None
        info = as_map(as_map(node.get("status")).get("nodeInfo"))
        kubelet = text_of(info.get("kubeletVersion"))
        per_node[name_of(node)] = (kubelet if mode != "none" else None, mode)
        evidence.append((name_of(node), annotation, said))
    if not per_node:
        return None
    first_name, annotation, said = evidence[0]
    obj = f"Node/{first_name}" if len(evidence) == 1 else f"Nodes ({len(evidence)})"
    field = f"metadata.annotations[{annotation}]"
    modes = {mode for _, mode in per_node.values()}
    if None in modes:
        out.unknown("proxy-mode", "unparseable proxy-mode in node args", obj, field, said)
    else:
        shown = " | ".join(sorted({s for _, _, s in evidence}))
        out.known("proxy-mode", frozenset(m for m in modes if m), FactEvidence(obj, field, shown))
    versions = sorted({v for v, _ in per_node.values() if v})
    if modes == {"none"}:
        out.unknown("kube-proxy", "kube-proxy is disabled (--disable-kube-proxy)", obj, field)
    elif versions and all(read_cluster_version(v)[1] is None for v in versions):
        domain = read_cluster_version(versions[0])[0]
        for other in versions[1:]:
            domain = VersionDomain(domain.versions.union(read_cluster_version(other)[0].versions))
        out.known(
            "kube-proxy",
            domain,
            FactEvidence(obj, "status.nodeInfo.kubeletVersion (built in)", " | ".join(versions)),
        )
    else:
        out.unknown("kube-proxy", "no readable k3s version on the nodes", obj)
    installed = modes != {"none"}
    out.components["kube-proxy"] = Component(
        installed, versions[0] if versions else None, {"built into": annotation.split(".")[0]}
    )
    if len(modes) == 1 and len(versions) <= 1:
        return {}
    return per_node
