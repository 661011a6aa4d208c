"""Inventory through the real ``kubernetes`` client against fake API servers on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from advisories.facts import FEATURES, VersionDomain
from advisories.fleet import ClusterFacts, ClusterStatus
from jobs.inventory.kube import KubeReader, kubeconfig_reader, list_contexts
from jobs.inventory.mapping import cluster_facts
from jobs.inventory.resources import PERMISSIONS
from jobs.inventory.run import ClusterTarget, FleetError, read_fleet
from tests.jobs.inventory.conftest import Fleet, closed_port_url, new_token, read_snapshot
from tests.jobs.inventory.scenarios import EXPECTED, SCENARIOS, kubeadm_centos_ipvs_calico
from tests.servers.kubeapi import KubeAPIServer, exec_plugin, write_kubeconfig


def observed(cluster: ClusterFacts, key: str) -> Any:
    """What inventory says about a fact, as the scenarios' EXPECTED writes it."""
    domain = cluster.facts.values.get(key)
    if domain is None:
        return None
    if key in FEATURES:
        assert isinstance(domain, frozenset) and len(domain) == 1
        return next(iter(domain))
    if isinstance(domain, VersionDomain):
        if domain.absent and not domain.versions:
            return "none"
        return cluster.facts.raw[key]
    if len(domain) > 1:  # one of several values (kube-proxy mode per worker pool)
        return "+".join(sorted(str(v) for v in domain))
    (value,) = domain
    return "+".join(sorted(value)) if isinstance(value, frozenset) else value


def read(fleet: Fleet, *names: str, timeout: float = 20.0) -> dict[str, ClusterFacts]:
    targets = [ClusterTarget(n, kubeconfig_reader(str(fleet.kubeconfig), n)) for n in names]
    return {c.name: c for c in read_fleet(targets, concurrency=4, timeout=timeout)}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_reads_the_facts_its_installer_leaves(fleet: Fleet, scenario: str) -> None:
    cluster = read(fleet, scenario)[scenario]
    assert cluster.status is ClusterStatus.OK, cluster.error
    for key, expected in EXPECTED[scenario].items():
        assert observed(cluster, key) == expected, (key, cluster.evidence.get(key))
    assert cluster.uid is not None
    assert cluster.nodes and all(
        n.kernel and n.os_image and n.kubelet_version for n in cluster.nodes
    )


def test_the_kube_system_uid_identifies_the_cluster(fleet: Fleet) -> None:
    clusters = read(fleet, *SCENARIOS)
    uids = {c.uid for c in clusters.values()}
    assert len(uids) == len(SCENARIOS)
    assert (
        clusters["centos"].uid
        == (fleet.servers["centos"].scenario["objects"][0]["metadata"]["uid"])
    )


def test_nodes_carry_kernel_os_kubelet_runtime_and_roles_from_the_table_cells(
    fleet: Fleet,
) -> None:
    cluster = read(fleet, "centos")["centos"]
    first = cluster.nodes[0]
    assert first.name == "centos-cp-0"
    assert first.roles == ("control-plane",)
    assert first.kernel == "3.10.0-1160.el7.x86_64"
    assert first.os_image == "CentOS Linux 7 (Core)"
    assert first.kubelet_version == "v1.23.17"
    assert first.container_runtime == "docker://20.10.24"
    assert first.architecture is None  # not in the cells, and no advisory needs it
    assert cluster.nodes[1].roles == ()


def test_nodes_are_read_as_a_table_and_the_rest_as_raw_json(fleet: Fleet) -> None:
    server = fleet.servers["rke2"]
    server.clear_requests()
    read(fleet, "rke2")
    accepts = {r.path: r.headers.get("Accept", "") for r in server.requests}
    assert "as=Table" in accepts["/api/v1/nodes"]
    nodes = next(r for r in server.requests if r.path == "/api/v1/nodes")
    assert nodes.query["includeObject"] == "None"  # the Roles cell, not the labels
    assert accepts["/apis/apps/v1/daemonsets"] == "application/json"


def test_a_server_without_tables_gives_the_same_nodes(tmp_path: Path) -> None:
    token = new_token()
    scenario = kubeadm_centos_ipvs_calico()
    with (
        KubeAPIServer(scenario, token=token) as tables,
        KubeAPIServer({**scenario, "table": False}, token=token) as plain,
    ):
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("t", tables, token), ("p", plain, token)])
        with_table = cluster_facts(read_snapshot(kubeconfig_reader(str(kubeconfig), "t")), name="x")
        without = cluster_facts(read_snapshot(kubeconfig_reader(str(kubeconfig), "p")), name="x")
        assert plain.requests[2].path == "/api/v1/nodes"
    assert with_table.nodes == without.nodes
    assert with_table == without


def test_lists_are_paginated_with_limit_and_continue(tmp_path: Path) -> None:
    token = new_token()
    with KubeAPIServer(kubeadm_centos_ipvs_calico(), token=token) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("c", server, token)])
        paged = kubeconfig_reader(str(kubeconfig), "c")
        small = KubeReader(paged._connect, paged.origin, page_size=3)
        snapshot = read_snapshot(small)
        node_requests = [r for r in server.requests if r.path == "/api/v1/nodes"]
        whole = read_snapshot(kubeconfig_reader(str(kubeconfig), "c"))
    assert [r.query.get("limit") for r in node_requests] == ["3", "3"]
    assert "continue" not in node_requests[0].query
    assert node_requests[1].query["continue"]
    assert len(snapshot.listing("nodes").items) == 4
    assert cluster_facts(snapshot, name="c") == cluster_facts(whole, name="c")


def test_an_expired_continue_token_restarts_the_list_once_then_reports_it(tmp_path: Path) -> None:
    token = new_token()
    scenario = {**kubeadm_centos_ipvs_calico(), "expire_continue": True}
    with KubeAPIServer(scenario, token=token) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("c", server, token)])
        paged = kubeconfig_reader(str(kubeconfig), "c")
        cluster = cluster_facts(
            read_snapshot(KubeReader(paged._connect, paged.origin, page_size=3)), name="c"
        )
        statuses = [r.status for r in server.requests if r.path == "/api/v1/nodes"]
    assert statuses == [200, 410, 200, 410]
    assert cluster.status is ClusterStatus.OK
    assert cluster.nodes == ()
    assert "HTTP 410" in (cluster.evidence["nodes"].reason or "")


def test_inventory_only_gets_and_lists_what_the_readme_grants(fleet: Fleet) -> None:
    granted = {(p.group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    for server in fleet.servers.values():
        server.clear_requests()
    read(fleet, *SCENARIOS)
    for name, server in fleet.servers.items():
        used = {tuple(r) for r in server.rbac_requests()}
        assert used <= granted, (name, used - granted)
        assert {r.method for r in server.requests} == {"GET"}


def test_forbidden_calico_resources_make_calico_facts_unknown_not_the_cluster(
    fleet: Fleet,
) -> None:
    cluster = read(fleet, "forbidden")["forbidden"]
    assert cluster.status is ClusterStatus.OK
    assert cluster.components["calico"].installed is True
    assert observed(cluster, "calico") == "v3.26.1"
    for key in ("calico-encapsulation", "calico-iptables-backend"):
        assert key not in cluster.facts.values
        reason = cluster.evidence[key].reason or ""
        assert "forbidden" in reason and "crd.projectcalico.org" in reason


def test_exec_plugin_credentials_work_and_a_failing_plugin_is_reported(
    fleet: Fleet, tmp_path: Path
) -> None:
    assert read(fleet, "eks")["eks"].status is ClusterStatus.OK
    failing = exec_plugin(tmp_path / "fail.py", "x", exit_code=1)
    kubeconfig = write_kubeconfig(tmp_path / "kc", [("f", fleet.servers["eks"], failing)])
    targets = [ClusterTarget("f", kubeconfig_reader(str(kubeconfig), "f"))]
    (cluster,) = read_fleet(targets, timeout=10)
    assert cluster.status is ClusterStatus.ERROR
    assert "exec: process returned 1" in (cluster.error or "")


def _processes_running(needle: str) -> list[int]:
    """Live processes (not zombies) whose command line mentions ``needle``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # ended while we looked
        if needle in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_a_hung_credential_plugin_is_killed_with_its_process_group_at_the_deadline(
    fleet: Fleet, tmp_path: Path
) -> None:
    plugin = exec_plugin(tmp_path / "sleeps-60s.py", fleet.tokens["eks"], hang_seconds=60)
    # The plugin starts a child of its own that would outlive it as an orphan.
    script = (tmp_path / "sleeps-60s.py").read_text()
    script = script.replace(
        "time.sleep(",
        "import subprocess; subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(60)', 'sleeps-60s-child'])\ntime.sleep(",
        1,
    )
    (tmp_path / "sleeps-60s.py").write_text(script)
    kubeconfig = write_kubeconfig(tmp_path / "kc", [("hung", fleet.servers["eks"], plugin)])
    targets = [ClusterTarget("hung", kubeconfig_reader(str(kubeconfig), "hung"))]
    started = time.monotonic()
    (cluster,) = read_fleet(targets, timeout=2)
    assert time.monotonic() - started < 3.5
    assert cluster.status is ClusterStatus.TIMEOUT
    assert cluster.error == (
        "no answer within 2 s (while loading credentials (kubeconfig, exec plugin))"
    )
    assert _processes_running("sleeps-60s") == []


def test_a_credential_plugin_that_does_not_exist_is_named_not_taken_for_a_401(
    fleet: Fleet, tmp_path: Path
) -> None:
    plugin = exec_plugin(tmp_path / "p.py", "unused")
    plugin["exec"] = {**plugin["exec"], "command": "aws-iam-authenticator-missing", "args": []}
    kubeconfig = write_kubeconfig(tmp_path / "kc", [("c", fleet.servers["eks"], plugin)])
    (cluster,) = read_fleet([ClusterTarget("c", kubeconfig_reader(str(kubeconfig), "c"))])
    assert cluster.status is ClusterStatus.ERROR
    assert cluster.error == (
        "exec credential plugin: command 'aws-iam-authenticator-missing' was not found: install "
        "it or correct users[].user.exec.command in the kubeconfig"
    )


def test_a_cluster_with_its_own_ca_is_read_over_tls_and_an_unknown_ca_is_a_tls_failure(
    fleet: Fleet, tmp_path: Path
) -> None:
    server = fleet.servers["ubuntu"]
    assert server.url.startswith("https://")
    assert read(fleet, "ubuntu")["ubuntu"].status is ClusterStatus.OK
    kubeconfig = write_kubeconfig(
        tmp_path / "kc", [("no-ca", server, fleet.tokens["ubuntu"])], embed_ca=False
    )
    (cluster,) = read_fleet([ClusterTarget("no-ca", kubeconfig_reader(str(kubeconfig), "no-ca"))])
    assert cluster.status is ClusterStatus.ERROR
    assert cluster.error is not None and cluster.error.startswith("TLS failure")
    assert "certificate verify failed" in cluster.error


def test_rejected_credentials_unreachable_servers_and_hangs_are_reported_per_cluster(
    fleet: Fleet, tmp_path: Path
) -> None:
    hanging_plugin = exec_plugin(tmp_path / "hang.py", fleet.tokens["centos"], hang_seconds=20)
    with KubeAPIServer({"hang": True}, token="t") as hung:
        kubeconfig = write_kubeconfig(
            tmp_path / "kc",
            [
                ("good", fleet.servers["centos"], fleet.tokens["centos"]),
                ("wrong-token", fleet.servers["rke2"], new_token()),
                ("refused", closed_port_url(), "t"),
                ("plugin-hangs", fleet.servers["centos"], hanging_plugin),
                ("server-hangs", hung, "t"),
            ],
        )
        names = ["good", "wrong-token", "refused", "plugin-hangs", "server-hangs"]
        targets = [ClusterTarget(n, kubeconfig_reader(str(kubeconfig), n)) for n in names]
        started = time.monotonic()
        clusters = {c.name: c for c in read_fleet(targets, concurrency=5, timeout=2.5)}
        elapsed = time.monotonic() - started
    assert elapsed < 4.5, "the timeout must bound every cluster, plugins included"
    assert clusters["good"].status is ClusterStatus.OK
    assert clusters["wrong-token"].status is ClusterStatus.ERROR
    assert "rejected the credentials (401" in (clusters["wrong-token"].error or "")
    assert clusters["refused"].status is ClusterStatus.UNREACHABLE
    assert "Connection refused" in (clusters["refused"].error or "")
    assert clusters["plugin-hangs"].status is ClusterStatus.TIMEOUT
    assert "exec plugin" in (clusters["plugin-hangs"].error or "")
    assert clusters["server-hangs"].status is ClusterStatus.TIMEOUT
    assert "GET /version" in (clusters["server-hangs"].error or "")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            "redirect https://sso.example.com/oauth2/start",
            "redirected to https://sso.example.com/oauth2/start: an authenticating proxy? "
            "(reading namespace kube-system, the cluster's identity)",
        ),
        (
            "html",
            "answered HTML (HTTP 200), not the Kubernetes API: a sign-in page or a proxy in "
            "front of it? (reading namespace kube-system, the cluster's identity)",
        ),
        (
            500,
            "HTTP 500: Internal error occurred: injected fault (reading namespace kube-system, "
            "the cluster's identity)",
        ),
        (
            403,
            'namespaces "kube-system" is forbidden: User "system:anonymous" cannot get resource '
            '"namespaces" in API group "" at the cluster scope (reading namespace kube-system, '
            "the cluster's identity); grant get on namespaces/kube-system "
            "(deploy/overlays/watched-cluster)",
        ),
    ],
)
def test_a_cluster_that_answers_nothing_usable_is_unreadable_with_the_reason(
    tmp_path: Path, fault: object, reason: str
) -> None:
    token = new_token()
    scenario = {**kubeadm_centos_ipvs_calico(), "faults": {"*": fault}}
    with KubeAPIServer(scenario, token=token) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("behind-sso", server, token)])
        reader = kubeconfig_reader(str(kubeconfig), "behind-sso")
        (cluster,) = read_fleet([ClusterTarget("behind-sso", reader)], timeout=10)
        paths = [r.path for r in server.requests]
    assert (cluster.status, cluster.uid, cluster.error) == (ClusterStatus.ERROR, None, reason)
    assert token not in reason
    # Nothing past the identity is asked: the answers could not be told from a cluster's.
    assert paths == ["/version", "/api/v1/namespaces/kube-system"]


def test_a_redirect_or_html_page_on_one_path_makes_only_its_facts_unknown(
    tmp_path: Path,
) -> None:
    token = new_token()
    scenario = {
        **kubeadm_centos_ipvs_calico(),
        "faults": {
            "/apis/crd.projectcalico.org/*": "redirect https://sso.example.com/login?state=s3cr3t",
            "/version": "html",
        },
    }
    with KubeAPIServer(scenario, token=token) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("c", server, token)])
        (cluster,) = read_fleet([ClusterTarget("c", kubeconfig_reader(str(kubeconfig), "c"))])
    assert cluster.status is ClusterStatus.OK and cluster.uid is not None
    assert "kubernetes" not in cluster.facts.values
    assert "answered HTML (HTTP 200)" in (cluster.evidence["kubernetes"].reason or "")
    assert "calico-encapsulation" not in cluster.facts.values
    encapsulation = cluster.evidence["calico-encapsulation"].reason or ""
    assert "redirected to https://sso.example.com/login: an authenticating proxy?" in encapsulation
    assert "s3cr3t" not in encapsulation
    assert observed(cluster, "proxy-mode") == "ipvs"


def test_two_contexts_of_one_cluster_are_read_once_and_shown_as_aliases(
    fleet: Fleet, tmp_path: Path
) -> None:
    server = fleet.servers["eks"]
    token = fleet.tokens["eks"]
    kubeconfig = write_kubeconfig(
        tmp_path / "kc", [("eks-admin", server, token), ("eks-readonly", server, token)]
    )
    server.clear_requests()
    targets = [
        ClusterTarget(n, kubeconfig_reader(str(kubeconfig), n))
        for n in ("eks-admin", "eks-readonly")
    ]
    clusters = read_fleet(targets, concurrency=1)
    assert [(c.name, c.aliases) for c in clusters] == [("eks-admin", ("eks-readonly",))]
    node_lists = [r for r in server.requests if r.path == "/api/v1/nodes"]
    assert len(node_lists) == 1


def test_two_clusters_with_one_name_are_a_clear_error(fleet: Fleet) -> None:
    reader = kubeconfig_reader(str(fleet.kubeconfig), "centos")
    with pytest.raises(FleetError, match="two clusters are named 'prod'"):
        read_fleet([ClusterTarget("prod", reader), ClusterTarget("prod", reader)])


def test_contexts_of_a_kubeconfig_are_listed(fleet: Fleet) -> None:
    names, current = list_contexts(str(fleet.kubeconfig))
    assert names == list(SCENARIOS)
    assert current == "centos"


def test_clusters_are_read_concurrently(tmp_path: Path) -> None:
    token = new_token()
    slow = {**kubeadm_centos_ipvs_calico(), "latency": 0.05}
    servers = [KubeAPIServer(slow, token=token) for _ in range(4)]
    try:
        kubeconfig = write_kubeconfig(
            tmp_path / "kc", [(f"c{i}", s, token) for i, s in enumerate(servers)]
        )
        targets = [
            ClusterTarget(f"c{i}", kubeconfig_reader(str(kubeconfig), f"c{i}")) for i in range(4)
        ]
        started = time.monotonic()
        sequential = read_fleet(targets[:1], concurrency=1)
        one = time.monotonic() - started
        started = time.monotonic()
        clusters = read_fleet(targets, concurrency=4)
        four = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
    assert sequential[0].status is ClusterStatus.OK
    assert all(c.status is ClusterStatus.OK for c in clusters)
    assert four < 2.5 * one
