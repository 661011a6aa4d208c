"""Spiderpool: version and the features its configuration decides."""

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
    as_map,
    bool_of,
    find_container,
    image_tag,
    reason_of,
    text_of,
    yaml_mapping,
)
from jobs.inventory.port import Listing, Snapshot

__all__ = ["read_spiderpool", "spiderpool_agent"]


def spiderpool_agent(daemonsets: Listing) -> Found | None:
    """The spiderpool-agent DaemonSet's container."""
    return find_container(
        daemonsets.items,
        "DaemonSet",
        "spiderpool-agent",
        ("spiderpool-agent",),
        prefer_namespaces=(KUBE_SYSTEM,),
    )


# -- Spiderpool -------------------------------------------------------------------------------

_SPIDERPOOL_FEATURES: Final = (
    "spiderpool-kubevirt-static-ip-disabled",
    "spiderpool-ip-gc-disabled",
    "spiderpool-coordinator-overlay",
    "spiderpool-multus-disabled",
    "spiderpool-subnet-enabled",
)


def read_spiderpool(snapshot: Snapshot, out: Builder) -> None:
    """Set ``spiderpool`` and the Spiderpool features."""
    daemonsets = snapshot.listing("daemonsets")
    agent = spiderpool_agent(daemonsets)
    deployments = snapshot.listing("deployments")
    namespaces = (agent.namespace,) if agent is not None else None
    controller = find_container(
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
            reason = reason_of(problem, "spiderpool-agent DaemonSet")
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
        details[text_of(found.container.get("name")) or "?"] = found.image
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
    snapshot: Snapshot, namespace: str, controller: Found | None, out: Builder
) -> None:
    configmaps = snapshot.listing("configmaps")
    obj_ref = f"{namespace}/ConfigMap/spiderpool-conf"
    configmap = configmaps.find(namespace, "spiderpool-conf")
    document: Mapping[str, Any] | None = None
    reason = ""
    if configmap is None:
        reason = reason_of(configmaps.problem_for(namespace, "spiderpool-conf"), obj_ref)
    else:
        text = as_map(configmap.get("data")).get("conf.yml")
        document = yaml_mapping(text) if isinstance(text, str) else None
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
        flag = False if value is None else bool_of(value)
        if flag is None:
            out.unknown(feature, f"unparseable: {value!r}", obj_ref, field, str(value))
            continue
        shown = str(value).lower() if value is not None else None
        where = field if value is not None else field + " (not set: false)"
        out.feature(feature, flag is on_when, FactEvidence(obj_ref, where, shown))
    _spiderpool_multus(controller, document, obj_ref, reason, out)


def _spiderpool_multus(
    controller: Found | None,
    document: Mapping[str, Any] | None,
    obj_ref: str,
    reason: str,
    out: Builder,
) -> None:
    """Multus configuration: the controller's SPIDERPOOL_MULTUS_CONFIG_ENABLED (what the chart's
    ``multus.enableMultusConfig`` sets), else ``enableMultusConfig`` in spiderpool-conf."""
    feature = "spiderpool-multus-disabled"
    if controller is not None:
        value, present = controller.env("SPIDERPOOL_MULTUS_CONFIG_ENABLED")
        if present:
            field = controller.field("env.SPIDERPOOL_MULTUS_CONFIG_ENABLED")
            flag = bool_of(value)
            if flag is None:
                out.unknown(feature, f"unparseable: {value!r}", controller.ref, field, value)
            else:
                out.feature(feature, not flag, FactEvidence(controller.ref, field, str(value)))
            return
    field = "data.conf.yml: enableMultusConfig"
    value = document.get("enableMultusConfig") if document is not None else None
    flag = bool_of(value)
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


def _spiderpool_gc(deployments: Listing, controller: Found | None, out: Builder) -> None:
    feature = "spiderpool-ip-gc-disabled"
    if controller is None:
        problem = deployments.problem_for(None, "spiderpool-controller")
        out.unknown(feature, reason_of(problem, "spiderpool-controller Deployment"))
        return
    value, present = controller.env("SPIDERPOOL_GC_IP_ENABLED")
    field = controller.field("env.SPIDERPOOL_GC_IP_ENABLED")
    if not present:
        out.feature(feature, False, FactEvidence(controller.ref, field + " (not set: true)", None))
        return
    flag = bool_of(value)
    if flag is None:
        out.unknown(feature, f"unparseable: {value!r}", controller.ref, field, value)
        return
    out.feature(feature, not flag, FactEvidence(controller.ref, field, str(value)))


def _spiderpool_coordinator(snapshot: Snapshot, out: Builder) -> None:
    feature = "spiderpool-coordinator-overlay"
    listing = snapshot.listing("spidercoordinators")
    coordinator = listing.find(None, "default")
    if coordinator is None:
        out.unknown(
            feature,
            reason_of(listing.problem_for(None, "default"), "SpiderCoordinator default"),
            "SpiderCoordinator/default",
        )
        return
    mode = as_map(coordinator.get("spec")).get("mode")
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
