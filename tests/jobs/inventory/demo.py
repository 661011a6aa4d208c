"""The bundled demo fleet (``jobs/demo/*.json``): made here from realistic scenarios.

Each demo cluster is served by the fake API server, read through the live adapter and written
as a dump bundle, so the demo data has exactly the shapes inventory reads. Regenerate with::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/jobs/inventory/test_demo.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from jobs.inventory.dumps import bundle_from_snapshot
from jobs.inventory.kube import kubeconfig_reader
from jobs.inventory.port import ReadContext
from tests.jobs.inventory import scenarios as s
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig

JSON = dict[str, Any]
DEMO_DIR = Path(__file__).resolve().parents[3] / "jobs" / "demo"


def _with_nodes(scenario: JSON, prefix: str, groups: list[tuple[int, dict[str, Any]]]) -> JSON:
    """Replace the scenario's nodes with groups of (count, realistic_node arguments)."""
    objects = [o for o in scenario["objects"] if o["kind"] != "Node"]
    index = 0
    for count, kwargs in groups:
        for _ in range(count):
            roles = ["control-plane"] if kwargs.get("control_plane") else []
            args = {k: v for k, v in kwargs.items() if k != "control_plane"}
            name = f"{prefix}-{'cp' if roles else 'node'}-{index:02d}"
            objects.append(s.realistic_node(name, roles=roles, images=4, **args))
            index += 1
    return {**scenario, "objects": objects}


def demo_prod_centos() -> JSON:
    el7 = {
        "os_image": "CentOS Linux 7 (Core)",
        "kubelet": "v1.23.17",
        "runtime": "docker://20.10.24",
    }
    scenario = s.kubeadm_centos_ipvs_calico()
    scenario["objects"][0] = s.namespace("kube-system", s.uid_of("demo-prod-centos"))
    return _with_nodes(
        scenario,
        "prod",
        [
            (3, {**el7, "kernel": "3.10.0-1160.el7.x86_64", "control_plane": True}),
            (4, {**el7, "kernel": "3.10.0-1160.el7.x86_64"}),
            (2, {**el7, "kernel": "3.10.0-1160.119.1.el7.x86_64"}),
        ],
    )


def demo_web_ubuntu() -> JSON:
    jammy = {
        "os_image": "Ubuntu 22.04.4 LTS",
        "kubelet": "v1.29.4",
        "runtime": "containerd://1.7.12",
    }
    scenario = s.ubuntu_nftables_lb_ranges()
    scenario["objects"][0] = s.namespace("kube-system", s.uid_of("demo-web-ubuntu"))
    return _with_nodes(
        scenario,
        "web",
        [
            (1, {**jammy, "kernel": "5.15.0-105-generic", "control_plane": True}),
            (3, {**jammy, "kernel": "5.15.0-105-generic"}),
            (2, {**jammy, "kernel": "6.8.0-40-generic"}),
        ],
    )


def demo_edge_rke2() -> JSON:
    scenario = s.rke2_spiderpool_openeuler()
    scenario["objects"][0] = s.namespace("kube-system", s.uid_of("demo-edge-rke2"))
    return scenario


def demo_eks() -> JSON:
    scenario = s.eks_kube_proxy_config()
    scenario["objects"][0] = s.namespace("kube-system", s.uid_of("demo-eks"))
    al2 = {
        "os_image": "Amazon Linux 2",
        "kubelet": "v1.29.3-eks-ae9a62a",
        "runtime": "containerd://1.7.11",
    }
    al2023 = {
        "os_image": "Amazon Linux 2023.5.20240701",
        "kubelet": "v1.29.3-eks-ae9a62a",
        "runtime": "containerd://1.7.11",
        "arch": "arm64",
    }
    for obj in scenario["objects"]:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "kube-proxy-config":
            obj["data"]["config"] = obj["data"]["config"].replace(
                'mode: "ipvs"', 'mode: "iptables"'
            )
    return _with_nodes(
        scenario,
        "ip-10-0",
        [
            (3, {**al2, "kernel": "5.10.219-208.866.amzn2.x86_64"}),
            (2, {**al2023, "kernel": "6.1.94-99.176.amzn2023.aarch64"}),
        ],
    )


DEMO = {
    "demo-prod-centos": demo_prod_centos,
    "demo-web-ubuntu": demo_web_ubuntu,
    "demo-edge-rke2": demo_edge_rke2,
    "demo-eks": demo_eks,
}

_VOLATILE = ("creationTimestamp", "resourceVersion", "managedFields", "generation", "selfLink")


def _tidy(value: Any) -> Any:
    """Drop what changes from run to run (timestamps, resource versions)."""
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def demo_bundle(name: str, tmp: Path) -> JSON:
    """Serve one demo cluster, read it live, and return its bundle."""
    with KubeAPIServer(DEMO[name](), token="demo-token") as server:
        kubeconfig = write_kubeconfig(tmp / f"{name}.yaml", [(name, server, "demo-token")])
        reader = kubeconfig_reader(str(kubeconfig), name)
        snapshot = reader.read(ReadContext(deadline=time.monotonic() + 30))
    bundle = _tidy(bundle_from_snapshot(snapshot, context=name))
    bundle["demo"] = True
    return bundle


def render(bundle: JSON) -> str:
    return json.dumps(bundle, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
