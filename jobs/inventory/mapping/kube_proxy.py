"""kube-proxy: its version and mode (DaemonSet or static pods, ConfigMap, flags), or what
replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from advisories.fleet import Component, FactEvidence
from jobs.inventory.mapping.objects import (
    KUBE_SYSTEM,
    Builder,
    Found,
    as_list,
    as_map,
    find_container,
    image_tag,
    reason_of,
    text_of,
    yaml_mapping,
)
from jobs.inventory.port import Listing, Snapshot

__all__ = ["read_kube_proxy"]

# -- kube-proxy -------------------------------------------------------------------------------

_PROXY_MODES: Final = ("iptables", "ipvs", "nftables")


def read_kube_proxy(snapshot: Snapshot, out: Builder) -> None:
    """Set ``kube-proxy`` and ``proxy-mode``."""
    daemonsets = snapshot.listing("daemonsets")
    pods = snapshot.listing("pods")
    found = find_container(
        daemonsets.items, "DaemonSet", "kube-proxy", ("kube-proxy",), (KUBE_SYSTEM,)
    )
    if found is None:
        found = find_container(pods.items, "Pod", "kube-proxy", (), (KUBE_SYSTEM,))
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
        reason = reason_of(problem, "kube-proxy DaemonSet")
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
    value = as_map(configmap.get("data")).get("kube-proxy-replacement")
    if isinstance(value, str) and value.strip().lower() in ("true", "strict"):
        return FactEvidence(
            f"{KUBE_SYSTEM}/ConfigMap/cilium-config", "data.kube-proxy-replacement", value
        )
    return None
