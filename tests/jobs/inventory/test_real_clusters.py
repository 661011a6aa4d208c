"""Issue 13: clusters rebuilt from real manifests are read right, live and from dumps.

The scenarios (``tests/jobs/inventory/scenarios.py``) cite the upstream file each follows; the
generic tests in ``test_kube.py`` and ``test_dumps.py`` check their facts live and from kubectl
dumps. These tests check what each one is for: the verdicts the facts lead to, the per-node
values, and the requests that read them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisories.catalog import load_catalog
from advisories.engine import Engine
from advisories.facts import read_cluster_version
from advisories.fleet import ClusterFacts, match_cluster, node_facts, node_groups
from advisories.models import Verdict
from jobs.inventory.dumps import bundle_from_snapshot, snapshot_from_document
from jobs.inventory.kube import kubeconfig_reader
from jobs.inventory.mapping import cluster_facts
from tests.jobs.inventory.conftest import Fleet, read_snapshot
from tests.jobs.inventory.scenarios import SCENARIOS, gardener_pools
from tests.jobs.inventory.test_mapping import snapshot
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig

ENGINE = Engine(load_catalog().advisories)


def live(fleet: Fleet, name: str) -> ClusterFacts:
    reader = kubeconfig_reader(str(fleet.kubeconfig), name)
    return cluster_facts(read_snapshot(reader), name=name)


def verdicts(cluster: ClusterFacts) -> dict[str, Verdict]:
    matches = match_cluster(ENGINE, cluster)
    return {a.id: m.verdict for a, m in zip(ENGINE.advisories, matches, strict=True)}


# -- 1. policy-only Calico ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["eks-policy", "operator-policy"])
def test_policy_only_calico_has_no_encapsulation_so_vxlan_and_ipip_advisories_do_not_apply(
    fleet: Fleet, name: str
) -> None:
    cluster = live(fleet, name)
    assert cluster.facts.values["calico-encapsulation"] == frozenset({frozenset({"none"})})
    assert "policy only" in cluster.evidence["calico-encapsulation"].field
    found = verdicts(cluster)
    for advisory in ("CALICO-VXLAN-OFFLOAD", "CALICO-VXLAN-PARENT-ROUTES", "CALICO-IPIP-CHECKSUM"):
        assert found[advisory] is Verdict.NOT_AFFECTED, advisory


def test_an_installation_with_calico_cni_is_not_policy_only() -> None:
    objects = [
        *SCENARIOS["operator-policy"]()["objects"],
    ]
    for obj in objects:
        if obj["kind"] == "Installation":
            obj["spec"]["cni"] = {"type": "Calico"}
    cluster = cluster_facts(snapshot(objects), name="c")
    assert "calico-encapsulation" not in cluster.facts.values
    assert "no IPPool" in (cluster.evidence["calico-encapsulation"].reason or "")


# -- 2. one kube-proxy DaemonSet per worker pool -----------------------------------------------


def test_each_node_gets_the_version_and_mode_of_its_pools_kube_proxy(fleet: Fleet) -> None:
    cluster = live(fleet, "gardener")
    by_node = {n.name: (n.kube_proxy, n.proxy_mode) for n in cluster.nodes}
    assert by_node["shoot--core--prod-cpu-z1-0"] == ("v1.28.10", "ipvs")
    assert by_node["shoot--core--prod-gpu-z1-1"] == ("v1.29.4", "iptables")
    # A node no pool's DaemonSet selects keeps neither: unknown, with the reason.
    assert by_node["shoot--core--prod-spare-z1-0"] == (None, None)
    assert "none or several" in (cluster.evidence["kube-proxy-nodes"].reason or "")
    groups = {g.nodes[0]: g for g in node_groups(cluster.nodes)}
    cpu = node_facts(cluster.facts, groups["shoot--core--prod-cpu-z1-0"])
    assert cpu.domain("proxy-mode") == frozenset({"ipvs"})
    assert cpu.domain("kube-proxy") == read_cluster_version("v1.28.10")[0]
    assert cpu.raw["kube-proxy"] == "v1.28.10"


def test_the_server_selects_each_pools_nodes_by_label_names_only(fleet: Fleet) -> None:
    server = fleet.servers["gardener"]
    server.clear_requests()
    live(fleet, "gardener")
    selectors = sorted(
        r.query["labelSelector"]
        for r in server.requests
        if r.path == "/api/v1/nodes" and "labelSelector" in r.query
    )
    assert selectors == [
        "worker.gardener.cloud/pool=cpu,worker.gardener.cloud/kubernetes-version=1.28.10",
        "worker.gardener.cloud/pool=gpu,worker.gardener.cloud/kubernetes-version=1.29.4",
    ]
    node_lists = [r for r in server.requests if r.path == "/api/v1/nodes"]
    assert all(r.query.get("includeObject") == "None" for r in node_lists)


def test_node_affinity_terms_become_ored_label_selectors(tmp_path: Path) -> None:
    scenario = gardener_pools()
    for obj in scenario["objects"]:
        if obj["kind"] == "DaemonSet" and obj["metadata"]["name"].startswith("kube-proxy-gpu"):
            spec = obj["spec"]["template"]["spec"]
            spec.pop("nodeSelector")
            spec["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "worker.gardener.cloud/pool",
                                        "operator": "In",
                                        "values": ["gpu", "spare"],
                                    }
                                ]
                            }
                        ]
                    }
                }
            }
    with KubeAPIServer(scenario, token="t0ken-affinity") as server:
        kubeconfig = write_kubeconfig(tmp_path / "k.yaml", [("g", server, "t0ken-affinity")])
        read = read_snapshot(kubeconfig_reader(str(kubeconfig), "g"))
        queries = [r.query.get("labelSelector") for r in server.requests]
    assert "worker.gardener.cloud/pool in (gpu,spare)" in queries
    cluster = cluster_facts(read, name="g")
    by_node = {n.name: n.kube_proxy for n in cluster.nodes}
    assert by_node["shoot--core--prod-spare-z1-0"] == "v1.29.4"
    # The same from the objects themselves (a kubectl dump carries the labels).
    offline = cluster_facts(snapshot(scenario["objects"], version="v1.29.4"), name="g")
    assert {n.name: n.kube_proxy for n in offline.nodes} == by_node


def test_a_bundle_keeps_the_servers_node_selections(fleet: Fleet) -> None:
    read = read_snapshot(kubeconfig_reader(str(fleet.kubeconfig), "gardener"))
    bundle = json.loads(json.dumps(bundle_from_snapshot(read)))
    assert sorted(bundle["nodeSelections"]) == [
        "kube-system/DaemonSet/kube-proxy-cpu-v1.28.10",
        "kube-system/DaemonSet/kube-proxy-gpu-v1.29.4",
    ]
    again = snapshot_from_document(bundle, "bundle")
    assert cluster_facts(again, name="g").nodes == cluster_facts(read, name="g").nodes


# -- 3. calico-kube-controllers present or not -------------------------------------------------


def test_the_leak_is_not_reported_where_calico_kube_controllers_does_not_run(
    fleet: Fleet,
) -> None:
    cluster = live(fleet, "canal")
    assert cluster.facts.values["calico-kube-controllers"] == frozenset({False})
    assert verdicts(cluster)["CALICO-KUBE-CONTROLLERS-LEAK"] is Verdict.NOT_AFFECTED


def test_the_leak_is_reported_where_calico_kube_controllers_runs_an_affected_version() -> None:
    objects = SCENARIOS["canal"]()["objects"]
    objects.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "rke2-canal-kube-controllers", "namespace": "kube-system"},
            "spec": {
                "replicas": 1,
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "calico-kube-controllers",
                                "image": "rancher/hardened-calico:v3.25.0-build20230406",
                            }
                        ]
                    }
                },
            },
        }
    )
    cluster = cluster_facts(snapshot(objects, version="v1.27.13+rke2r1"), name="c")
    assert cluster.facts.values["calico-kube-controllers"] == frozenset({True})
    assert verdicts(cluster)["CALICO-KUBE-CONTROLLERS-LEAK"] is Verdict.AFFECTED


def test_a_deployment_scaled_to_zero_does_not_run_and_unreadable_deployments_are_unknown() -> None:
    from tests.jobs.inventory import scenarios as s
    from tests.jobs.inventory.test_mapping import FORBIDDEN

    objects = s.kubeadm_centos_ipvs_calico()["objects"]
    for obj in objects:
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] = 0
    assert cluster_facts(snapshot(objects), name="c").facts.values[
        "calico-kube-controllers"
    ] == frozenset({False})
    blocked = cluster_facts(snapshot(objects, {"deployments": FORBIDDEN}), name="c")
    assert "calico-kube-controllers" not in blocked.facts.values


# -- 4. host iptables mode from the OS default -------------------------------------------------


def test_the_os_default_settles_the_host_iptables_mode_and_is_labelled_as_such(
    fleet: Fleet,
) -> None:
    cluster = live(fleet, "buster")
    assert cluster.facts.values["host-iptables-mode"] == frozenset({"nft"})
    evidence = cluster.evidence["host-iptables-mode"]
    assert evidence.object == "OS default"
    assert evidence.value == "nft (OS default: Debian 10)"
    found = verdicts(cluster)
    assert found["KP-IPTABLES-BACKEND"] is Verdict.AFFECTED
    assert found["CALICO-IPTABLES-BACKEND"] is Verdict.AFFECTED
    (match,) = [
        m
        for a, m in zip(ENGINE.advisories, match_cluster(ENGINE, cluster), strict=True)
        if a.id == "KP-IPTABLES-BACKEND"
    ]
    assert "OS default" in match.result.evidence["host-iptables-mode"]


def test_an_unverified_distribution_leaves_the_host_iptables_mode_unknown(fleet: Fleet) -> None:
    cluster = live(fleet, "operator-policy")
    assert "host-iptables-mode" not in cluster.facts.values
    reason = cluster.evidence["host-iptables-mode"].reason or ""
    assert "no verified iptables default for Amazon Linux 2023" in reason


# -- 5. k3s ------------------------------------------------------------------------------------


def test_k3s_kube_proxy_mode_comes_from_each_nodes_recorded_flags(fleet: Fleet) -> None:
    server = fleet.servers["k3s"]
    server.clear_requests()
    cluster = live(fleet, "k3s")
    by_node = {n.name: (n.kube_proxy, n.proxy_mode) for n in cluster.nodes}
    assert by_node == {
        "k3s-server-0": ("v1.29.4+k3s1", "ipvs"),
        "k3s-agent-0": ("v1.29.4+k3s1", "iptables"),
    }
    assert cluster.evidence["proxy-mode"].field == "metadata.annotations[k3s.io/node-args]"
    metadata = [r for r in server.requests if "PartialObjectMetadata" in r.headers["Accept"]]
    assert [r.path for r in metadata] == ["/api/v1/nodes"]


@pytest.mark.parametrize(
    ("args", "mode"),
    [
        (["server"], "iptables"),
        (["server", "--kube-proxy-arg=proxy-mode=nftables"], "nftables"),
        (["server", "--kube-proxy-arg", "--proxy-mode=ipvs"], "ipvs"),
        (["server", "--disable-kube-proxy"], "none"),
    ],
)
def test_k3s_node_args_are_read_as_k3s_writes_them(args: list[str], mode: str) -> None:
    from tests.servers.kubeapi import realistic_node

    node = realistic_node(
        "k", kubelet="v1.30.2+k3s1", annotations={"k3s.io/node-args": json.dumps(args)}
    )
    cluster = cluster_facts(snapshot([node], version="v1.30.2+k3s1"), name="k")
    assert cluster.facts.values["proxy-mode"] == frozenset({mode})


# -- 6. bands narrowed by release dates --------------------------------------------------------


def test_a_release_published_before_the_backport_was_merged_is_affected(fleet: Fleet) -> None:
    cluster = live(fleet, "hwe")
    assert verdicts(cluster)["KP-IPVS-CONN-REUSE"] is Verdict.AFFECTED


# -- 7. the leaner node read -------------------------------------------------------------------


def test_a_large_node_list_is_read_from_table_cells_page_by_page(fleet: Fleet) -> None:
    server = fleet.servers["many"]
    server.clear_requests()
    cluster = live(fleet, "many")
    assert len(cluster.nodes) == 1200
    assert sum(1 for n in cluster.nodes if n.roles == ("control-plane",)) == 3
    pages = [r for r in server.requests if r.path == "/api/v1/nodes"]
    assert len(pages) == 3
    assert all(r.query["includeObject"] == "None" and r.query["limit"] == "500" for r in pages)


def test_the_state_store_keeps_each_nodes_kube_proxy(fleet: Fleet) -> None:
    from jobs.store.codec import cluster_from_json, cluster_to_json

    cluster = live(fleet, "gardener")
    again = cluster_from_json(json.loads(json.dumps(cluster_to_json(cluster))))
    assert {n.name: (n.kube_proxy, n.proxy_mode) for n in again.nodes} == {
        n.name: (n.kube_proxy, n.proxy_mode) for n in cluster.nodes
    }


def _pool_objects(second_version: str = "1.29.4") -> list[dict[str, object]]:
    scenario = gardener_pools()
    objects = [o for o in scenario["objects"] if o["kind"] not in ("DaemonSet", "ConfigMap")]
    from tests.jobs.inventory.scenarios import _gardener_pool

    return [
        *objects,
        *_gardener_pool("cpu", "1.28.10", "iptables"),
        *_gardener_pool("gpu", second_version, "iptables"),
    ]


def test_pools_on_one_version_give_the_cluster_that_version() -> None:
    objects = _pool_objects("1.28.10")
    for obj in objects:
        if obj["kind"] == "Node" and "gpu" in obj["metadata"]["name"]:  # type: ignore[index]
            obj["metadata"]["labels"]["worker.gardener.cloud/kubernetes-version"] = "1.28.10"  # type: ignore[index]
    cluster = cluster_facts(snapshot(objects), name="g")
    assert cluster.facts.raw["kube-proxy"] == "v1.28.10"
    assert cluster.facts.values["proxy-mode"] == frozenset({"iptables"})


def test_a_pool_whose_nodes_cannot_be_listed_leaves_every_node_undecided() -> None:
    from dataclasses import replace

    from jobs.inventory.port import Listing, ProblemKind, ReadProblem

    read = snapshot(_pool_objects())
    failed = Listing((), (ReadProblem(ProblemKind.FORBIDDEN, "nodes is forbidden"),))
    ok = Listing(({"metadata": {"name": "shoot--core--prod-cpu-z1-0"}},))
    sets = {
        "kube-system/DaemonSet/kube-proxy-cpu-v1.28.10": ok,
        "kube-system/DaemonSet/kube-proxy-gpu-v1.29.4": failed,
    }
    cluster = cluster_facts(replace(read, node_sets=sets), name="g")
    assert all(n.kube_proxy is None for n in cluster.nodes)
    assert "forbidden" in (cluster.evidence["kube-proxy-nodes"].reason or "")


def test_placements_that_are_not_label_selectors_are_said_so() -> None:
    from jobs.inventory.mapping.kube_proxy import kube_proxy_daemonsets, node_selectors
    from jobs.inventory.port import Listing

    objects = _pool_objects()
    pools = [o for o in objects if o["kind"] == "DaemonSet"]
    spec = pools[0]["spec"]["template"]["spec"]  # type: ignore[index]
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}
                ]
            }
        }
    }
    found = kube_proxy_daemonsets(Listing(tuple(pools)))  # type: ignore[arg-type]
    assert node_selectors(found[0]) is None
    assert node_selectors(found[1]) == (
        "worker.gardener.cloud/pool=gpu,worker.gardener.cloud/kubernetes-version=1.29.4",
    )
