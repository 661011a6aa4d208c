"""The parts of Kubernetes JSON that inventory reads, as TypedDicts.

These shapes stay inside :mod:`jobs.inventory`; the core only sees
:class:`advisories.fleet.ClusterFacts`. All fields are optional (``total=False``) and every value
comes from outside, so :mod:`jobs.inventory.mapping` reads them through checking accessors and
never trusts their types.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "ConfigMap",
    "Container",
    "EnvVar",
    "Node",
    "NodeInfo",
    "ObjectMeta",
    "PodSpec",
    "Service",
    "Volume",
    "VolumeMount",
    "Workload",
]


class ObjectMeta(TypedDict, total=False):
    """``metadata`` of any object."""

    name: str
    namespace: str
    uid: str
    labels: dict[str, str]


class EnvVar(TypedDict, total=False):
    """``spec.containers[].env[]``."""

    name: str
    value: str
    valueFrom: dict[str, Any]


class VolumeMount(TypedDict, total=False):
    """``spec.containers[].volumeMounts[]``."""

    name: str
    mountPath: str
    subPath: str


class Container(TypedDict, total=False):
    """``spec.containers[]``."""

    name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[EnvVar]
    volumeMounts: list[VolumeMount]


class ConfigMapVolumeSource(TypedDict, total=False):
    """``spec.volumes[].configMap``."""

    name: str


class Volume(TypedDict, total=False):
    """``spec.volumes[]``."""

    name: str
    configMap: ConfigMapVolumeSource


class PodSpec(TypedDict, total=False):
    """A Pod's ``spec`` (also a workload's ``spec.template.spec``)."""

    containers: list[Container]
    initContainers: list[Container]
    volumes: list[Volume]


class PodTemplate(TypedDict, total=False):
    """``spec.template`` of a DaemonSet or Deployment."""

    spec: PodSpec


class WorkloadSpec(TypedDict, total=False):
    """``spec`` of a DaemonSet or Deployment."""

    template: PodTemplate


class Workload(TypedDict, total=False):
    """A DaemonSet or Deployment."""

    kind: str
    metadata: ObjectMeta
    spec: WorkloadSpec


class NodeInfo(TypedDict, total=False):
    """``status.nodeInfo`` of a Node (``kubeProxyVersion`` is deprecated and not read)."""

    kernelVersion: str
    osImage: str
    kubeletVersion: str
    containerRuntimeVersion: str
    architecture: str


class NodeStatus(TypedDict, total=False):
    """``status`` of a Node."""

    nodeInfo: NodeInfo


class Node(TypedDict, total=False):
    """A Node."""

    metadata: ObjectMeta
    status: NodeStatus


class ServiceSpec(TypedDict, total=False):
    """``spec`` of a Service."""

    type: str
    externalIPs: list[str]
    externalTrafficPolicy: str
    loadBalancerSourceRanges: list[str]


class Service(TypedDict, total=False):
    """A Service."""

    metadata: ObjectMeta
    spec: ServiceSpec


class ConfigMap(TypedDict, total=False):
    """A ConfigMap."""

    metadata: ObjectMeta
    data: dict[str, str]
