"""Tests of the fake Kubernetes API server, driven by the real ``kubernetes`` client and kubectl."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from tests.servers.kubeapi import (
    KubeAPIServer,
    RBACAttributes,
    exec_plugin,
    human_duration,
    rbac_attributes,
    realistic_node,
    write_kubeconfig,
)

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
KUBECTL_TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
KERNELS = ["5.15.0-1064-aws", "6.1.0-21-amd64", "4.18.0-513.el8.x86_64", "5.10.0-28", "6.8.0-1"]


def _configmap(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": data}  # fmt: skip


def _pod(ns: str, name: str, labels: dict[str, str], node: str = "node-0") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox:1.36"}]},
        "status": {
            "phase": "Running",
            "podIP": "192.168.1.7",
            "containerStatuses": [
                {
                    "name": "main",
                    "ready": True,
                    "restartCount": 2,
                    "image": "busybox:1.36",
                    "imageID": "",
                    "state": {"running": {}},
                }
            ],
        },
    }


def _scenario() -> dict[str, Any]:
    nodes = [
        realistic_node(
            f"node-{i}",
            kernel=KERNELS[i],
            roles=["control-plane"] if i == 0 else [],
            external_ip="203.0.113.10" if i == 1 else None,
        )
        for i in range(5)
    ]
    calico_node = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": "calico-system",
                     "labels": {"k8s-app": "calico-node"}},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "calico-node"}},
            "template": {"spec": {"containers": [
                {"name": "calico-node", "image": "docker.io/calico/node:v3.27.3"}]}},
        },
        "status": {"desiredNumberScheduled": 5, "currentNumberScheduled": 5, "numberReady": 5,
                   "updatedNumberScheduled": 5, "numberAvailable": 5, "numberMisscheduled": 0},
    }  # fmt: skip
    return {
        "version": {"gitVersion": "v1.29.6", "platform": "linux/amd64"},
        "objects": [
            *nodes,
            _configmap("kube-system", "kube-proxy", {"config.conf": "mode: ipvs\n"}),
            _configmap("kube-system", "kubeadm-config", {"ClusterConfiguration": "{}"}),
            _configmap("default", "kube-root-ca.crt", {"ca.crt": "x"}),
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "kubernetes", "namespace": "default"},
             "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1",
                      "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}},
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "kube-dns", "namespace": "kube-system"},
             "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}},
            calico_node,
            _pod("kube-system", "kube-proxy-a", {"k8s-app": "kube-proxy", "tier": "node"}),
            _pod("kube-system", "kube-proxy-b", {"k8s-app": "kube-proxy", "tier": "node"},
                 "node-1"),
            _pod("kube-system", "coredns-1", {"k8s-app": "kube-dns"}),
            _pod("calico-system", "calico-node-x", {"k8s-app": "calico-node"}),
            {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
             "metadata": {"name": "default-ipv4-ippool"},
             "spec": {"cidr": "192.168.0.0/16", "ipipMode": "Always", "natOutgoing": True}},
            {"apiVersion": "crd.projectcalico.org/v1", "kind": "FelixConfiguration",
             "metadata": {"name": "default"}, "spec": {"bpfEnabled": False}},
            {"apiVersion": "crd.projectcalico.org/v1", "kind": "ClusterInformation",
             "metadata": {"name": "default"},
             "spec": {"calicoVersion": "v3.27.3", "datastoreReady": True}},
            {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
             "metadata": {"name": "default"},
             "spec": {"calicoNetwork": {"linuxDataplane": "Iptables"}}},
            {"apiVersion": "spiderpool.spidernet.io/v2beta1", "kind": "SpiderCoordinator",
             "metadata": {"name": "default"}, "spec": {"mode": "auto", "podCIDRType": "calico"}},
        ],
    }  # fmt: skip


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(_scenario(), token="t0k3n") as srv:
        yield srv


@contextmanager
def api_client(
    srv: KubeAPIServer, tmp_path: Path, user: Any = "t0k3n"
) -> Iterator[client.ApiClient]:
    """A real kubernetes ApiClient loaded from a kubeconfig written for ``srv``."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", [("test", srv, user)])
    with config.new_client_from_config(config_file=str(kubeconfig), context="test") as api:
        yield api


def _get(
    srv: KubeAPIServer, path: str, accept: str | None = None, token: str | None = "t0k3n"
) -> tuple[int, str, Any]:
    """A raw GET: (status, content type, decoded JSON body)."""
    headers = {}
    if accept:
        headers["Accept"] = accept
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib3.PoolManager() as pool:
        resp = pool.request("GET", srv.url + path, headers=headers, retries=False)
        return resp.status, resp.headers.get("Content-Type", ""), json.loads(resp.data)


# ---------------------------------------------------------------------------------------------
# The real kubernetes client
# ---------------------------------------------------------------------------------------------


def test_version(server: KubeAPIServer, tmp_path: Path) -> None:
    with api_client(server, tmp_path) as api:
        info = client.VersionApi(api).get_code()
    assert (info.major, info.minor, info.git_version) == ("1", "29", "v1.29.6")
    assert info.platform == "linux/amd64"
    assert info.go_version


def test_list_nodes_with_pagination(server: KubeAPIServer, tmp_path: Path) -> None:
    names: list[str] = []
    remaining: list[int | None] = []
    with api_client(server, tmp_path) as api:
        core = client.CoreV1Api(api)
        token = None
        while True:
            page = core.list_node(limit=2, _continue=token)
            names += [n.metadata.name for n in page.items]
            remaining.append(page.metadata.remaining_item_count)
            token = page.metadata._continue
            if not token:
                break
    assert names == [f"node-{i}" for i in range(5)]
    assert remaining == [3, 1, None]
    assert page.items[0].status.node_info.kernel_version == KERNELS[4]
    assert page.items[0].status.node_info.kube_proxy_version == "v1.30.4"


def test_list_items_are_typed_like_the_real_server(server: KubeAPIServer) -> None:
    status, ctype, nodes = _get(server, "/api/v1/nodes")
    assert (status, ctype) == (200, "application/json")
    assert (nodes["kind"], nodes["apiVersion"]) == ("NodeList", "v1")
    assert "kind" not in nodes["items"][0] and "apiVersion" not in nodes["items"][0]
    _, _, pools = _get(server, "/apis/crd.projectcalico.org/v1/ippools")
    assert pools["kind"] == "IPPoolList"
    assert pools["items"][0]["kind"] == "IPPool"  # unstructured lists keep them
    _, _, node = _get(server, "/api/v1/nodes/node-3")
    assert (node["kind"], node["apiVersion"]) == ("Node", "v1")


def test_get_configmap_and_namespaced_lists(server: KubeAPIServer, tmp_path: Path) -> None:
    with api_client(server, tmp_path) as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        cm = core.read_namespaced_config_map("kube-proxy", "kube-system")
        assert cm.data == {"config.conf": "mode: ipvs\n"}
        assert [c.metadata.name for c in core.list_namespaced_config_map("kube-system").items] == [
            "kube-proxy",
            "kubeadm-config",
        ]
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_config_map("nope", "kube-system")
        assert missing.value.status == 404
        assert json.loads(missing.value.body)["message"] == 'configmaps "nope" not found'
        services = core.list_service_for_all_namespaces()
        assert [(s.metadata.namespace, s.metadata.name) for s in services.items] == [
            ("default", "kubernetes"),
            ("kube-system", "kube-dns"),
        ]
        assert core.read_namespace("calico-system").status.phase == "Active"
        ds = apps.read_namespaced_daemon_set("calico-node", "calico-system")
        assert ds.status.number_ready == 5
        assert len(apps.list_daemon_set_for_all_namespaces().items) == 1
        assert apps.list_namespaced_daemon_set("kube-system").items == []


def test_custom_objects(server: KubeAPIServer, tmp_path: Path) -> None:
    with api_client(server, tmp_path) as api:
        custom = client.CustomObjectsApi(api)
        pools = custom.list_cluster_custom_object("crd.projectcalico.org", "v1", "ippools")
        assert [p["spec"]["cidr"] for p in pools["items"]] == ["192.168.0.0/16"]
        felix = custom.get_cluster_custom_object(
            "crd.projectcalico.org", "v1", "felixconfigurations", "default"
        )
        assert felix["spec"] == {"bpfEnabled": False}
        inst = custom.get_cluster_custom_object(
            "operator.tigera.io", "v1", "installations", "default"
        )
        assert inst["spec"]["calicoNetwork"]["linuxDataplane"] == "Iptables"
        coordinators = custom.list_cluster_custom_object(
            "spiderpool.spidernet.io", "v2beta1", "spidercoordinators"
        )
        assert coordinators["items"][0]["spec"]["mode"] == "auto"
        with pytest.raises(ApiException) as absent:
            custom.list_cluster_custom_object("cilium.io", "v2", "ciliumnodes")
        assert absent.value.status == 404
        body = json.loads(absent.value.body)
        assert (body["kind"], body["reason"]) == ("Status", "NotFound")


def test_forbidden_is_a_403_api_exception(tmp_path: Path) -> None:
    scenario = {**_scenario(), "forbidden": {("", "configmaps"), ("crd.projectcalico.org", "*")}}
    with KubeAPIServer(scenario, token="t0k3n") as srv, api_client(srv, tmp_path) as api:
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(api).list_namespaced_config_map("kube-system")
        assert exc.value.status == 403
        body = json.loads(exc.value.body)
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "configmaps is forbidden: User "
            '"system:serviceaccount:netadvisor:netadvisor" '
            'cannot list resource "configmaps" in API group "" in the namespace "kube-system"',
            "reason": "Forbidden",
            "details": {"kind": "configmaps"},
            "code": 403,
        }
        with pytest.raises(ApiException) as exc:
            client.CustomObjectsApi(api).get_cluster_custom_object(
                "crd.projectcalico.org", "v1", "ippools", "default-ipv4-ippool"
            )
        assert exc.value.status == 403
        assert json.loads(exc.value.body)["message"].startswith(
            'ippools.crd.projectcalico.org "default-ipv4-ippool" is forbidden: User '
        )
        assert json.loads(exc.value.body)["message"].endswith(
            'cannot get resource "ippools" in API group "crd.projectcalico.org" '
            "at the cluster scope"
        )
        assert client.CoreV1Api(api).list_node().items  # the rest is allowed


def test_wrong_or_missing_token_is_401(server: KubeAPIServer, tmp_path: Path) -> None:
    unauthorized = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert _get(server, "/version", token=None) == (401, "application/json", unauthorized)
    assert _get(server, "/api/v1/nodes", token="wrong")[::2] == (401, unauthorized)
    with api_client(server, tmp_path, user="wrong") as api, pytest.raises(ApiException) as exc:
        client.CoreV1Api(api).list_node()
    assert exc.value.status == 401


def test_tls_with_ca_from_generated_kubeconfig(tmp_path: Path) -> None:
    with KubeAPIServer(_scenario(), token="t0k3n", tls=True) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        assert srv.ca_pem is not None and srv.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
        assert srv.ca_file is not None and srv.ca_file.read_text() == srv.ca_pem
        with api_client(srv, tmp_path) as api:
            assert client.VersionApi(api).get_code().git_version == "v1.29.6"
            assert len(client.CoreV1Api(api).list_node().items) == 5
        kubeconfig = (tmp_path / "kubeconfig").read_text()
        assert "certificate-authority-data:" in kubeconfig
        assert "insecure-skip-tls-verify" not in kubeconfig
        # A client that does not trust the CA is refused; one that does gets through.
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(srv.url + "/version", context=ssl.create_default_context())
        trusting = ssl.create_default_context(cafile=str(srv.ca_file))
        request = urllib.request.Request(
            srv.url + "/version", headers={"Authorization": "Bearer t0k3n"}
        )
        with urllib.request.urlopen(request, context=trusting) as resp:
            assert json.load(resp)["gitVersion"] == "v1.29.6"


def test_exec_plugin_credentials(server: KubeAPIServer, tmp_path: Path) -> None:
    calls = tmp_path / "calls.log"
    user = exec_plugin(tmp_path / "plugin.py", "t0k3n", calls_file=calls)
    with api_client(server, tmp_path, user=user) as api:
        assert len(client.CoreV1Api(api).list_node().items) == 5
    assert calls.read_text().count("\n") == 1
    assert json.loads(calls.read_text())["kind"] == "ExecCredential"  # KUBERNETES_EXEC_INFO
    assert server.requests[-1].headers["Authorization"] == "Bearer t0k3n"
    # A plugin handing out the wrong token gets 401s.
    bad = exec_plugin(tmp_path / "bad.py", "nope")
    with api_client(server, tmp_path, user=bad) as api, pytest.raises(ApiException) as exc:
        client.CoreV1Api(api).list_node()
    assert exc.value.status == 401


def test_exec_plugin_script_output_hang_and_failure(tmp_path: Path) -> None:
    entry = exec_plugin(tmp_path / "p.py", "abc", expires_in=600)["exec"]
    out = subprocess.run(
        [entry["command"], *entry["args"]], capture_output=True, text=True, check=True, timeout=30
    )
    cred = json.loads(out.stdout)
    assert cred["apiVersion"] == entry["apiVersion"] == "client.authentication.k8s.io/v1"
    assert cred["kind"] == "ExecCredential"
    assert cred["status"]["token"] == "abc"
    assert cred["status"]["expirationTimestamp"].endswith("Z")
    assert entry["command"] == sys.executable
    assert (tmp_path / "p.py").read_text().startswith(f"#!{sys.executable}\n")

    hanging = exec_plugin(tmp_path / "hang.py", "abc", hang_seconds=60)["exec"]
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([hanging["command"], *hanging["args"]], capture_output=True, timeout=0.5)

    failing = exec_plugin(tmp_path / "fail.py", "abc", exit_code=3)["exec"]
    res = subprocess.run([failing["command"], *failing["args"]], capture_output=True, timeout=30)
    assert res.returncode == 3 and res.stdout == b"" and b"error" in res.stderr


# ---------------------------------------------------------------------------------------------
# kubectl
# ---------------------------------------------------------------------------------------------

KUBECTL = shutil.which("kubectl")
# In CI (CI=true) a missing kubectl is a failure, never a silent skip.
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None and os.environ.get("CI") != "true", reason="kubectl is not installed"
)


def _kubectl(kubeconfig: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_kubectl
def test_kubectl_get_nodes_wide(tmp_path: Path) -> None:
    with KubeAPIServer(_scenario(), token="t0k3n", tls=True) as srv:
        user = exec_plugin(tmp_path / "plugin.py", "t0k3n")
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", [("prod", srv, user)])
        res = _kubectl(kubeconfig, tmp_path, "get", "nodes", "-o", "wide")
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        header = lines[0].split()
        assert header == [
            "NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP",
            "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME",
        ]  # fmt: skip
        assert len(lines) == 6
        for i, line in enumerate(lines[1:]):
            assert line.startswith(f"node-{i} ")
            assert KERNELS[i] in line
            assert "containerd://1.7.13" in line
        assert " control-plane " in lines[1] and "203.0.113.10" in lines[2]
        node_lists = [r for r in srv.requests if r.path == "/api/v1/nodes"]
        assert node_lists and node_lists[-1].headers["Accept"] == KUBECTL_TABLE_ACCEPT
        assert node_lists[-1].status == 200
        assert ("", "nodes", "list") in srv.rbac_requests()


@needs_kubectl
def test_kubectl_custom_resources_and_forbidden(tmp_path: Path) -> None:
    scenario = {**_scenario(), "forbidden": [("", "configmaps")]}
    with KubeAPIServer(scenario) as srv:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", [("plain", srv, None)])
        res = _kubectl(kubeconfig, tmp_path, "get", "ippools.crd.projectcalico.org")
        assert res.returncode == 0, res.stderr
        assert res.stdout.split()[:3] == ["NAME", "AGE", "default-ipv4-ippool"]
        res = _kubectl(kubeconfig, tmp_path, "get", "configmaps", "-n", "kube-system")
        assert res.returncode != 0
        assert 'configmaps is forbidden: User "system:serviceaccount:' in res.stderr


# ---------------------------------------------------------------------------------------------
# Table form, selectors, discovery, faults
# ---------------------------------------------------------------------------------------------


def test_table_form(server: KubeAPIServer) -> None:
    status, ctype, table = _get(server, "/api/v1/nodes?limit=3", KUBECTL_TABLE_ACCEPT)
    assert (status, ctype) == (200, "application/json")
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0),
        ("Internal-IP", 1), ("External-IP", 1), ("OS-Image", 1), ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ]  # fmt: skip
    assert table["metadata"]["remainingItemCount"] == 2 and table["metadata"]["continue"]
    row = table["rows"][0]
    assert row["cells"][:3] == ["node-0", "Ready", "control-plane"]
    assert row["cells"][8] == KERNELS[0]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"
    assert "spec" not in row["object"]

    _, _, full = _get(server, "/api/v1/nodes?includeObject=Object", TABLE_ACCEPT)
    assert full["rows"][1]["object"]["kind"] == "Node"
    assert full["rows"][1]["object"]["status"]["nodeInfo"]["kernelVersion"] == KERNELS[1]
    _, _, bare = _get(server, "/api/v1/nodes?includeObject=None", TABLE_ACCEPT)
    assert all("object" not in r for r in bare["rows"]) and len(bare["rows"]) == 5

    _, _, generic = _get(server, "/apis/crd.projectcalico.org/v1/ippools", TABLE_ACCEPT)
    assert [c["name"] for c in generic["columnDefinitions"]] == ["Name", "Age"]
    assert generic["rows"][0]["cells"][0] == "default-ipv4-ippool"

    _, _, one = _get(server, "/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node",
                     TABLE_ACCEPT)  # fmt: skip
    assert one["kind"] == "Table" and one["rows"][0]["cells"][:4] == ["calico-node", 5, 5, 5]
    # Without a Table in Accept, the plain list.
    assert _get(server, "/api/v1/nodes")[2]["kind"] == "NodeList"


def test_server_without_table_support(tmp_path: Path) -> None:
    with KubeAPIServer({**_scenario(), "table": False}) as srv:
        status, ctype, body = _get(srv, "/api/v1/nodes", KUBECTL_TABLE_ACCEPT, token=None)
        assert (status, ctype, body["kind"]) == (200, "application/json", "NodeList")
        status, _, body = _get(srv, "/api/v1/nodes", TABLE_ACCEPT, token=None)
        assert (status, body["reason"]) == (406, "NotAcceptable")
        if KUBECTL is not None:  # kubectl falls back to its own NAME/AGE printing
            kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", [("plain", srv, None)])
            res = _kubectl(kubeconfig, tmp_path, "get", "nodes")
            assert res.returncode == 0, res.stderr
            assert res.stdout.split()[:2] == ["NAME", "AGE"]


def test_label_and_field_selectors(server: KubeAPIServer, tmp_path: Path) -> None:
    with api_client(server, tmp_path) as api:
        core = client.CoreV1Api(api)

        def pods(**kw: Any) -> list[str]:
            return [p.metadata.name for p in core.list_namespaced_pod("kube-system", **kw).items]

        assert pods(label_selector="k8s-app=kube-proxy,tier=node") == [
            "kube-proxy-a",
            "kube-proxy-b",
        ]
        assert pods(label_selector="k8s-app in (kube-dns, other)") == ["coredns-1"]
        assert pods(label_selector="k8s-app notin (kube-proxy)") == ["coredns-1"]
        assert pods(label_selector="!tier") == ["coredns-1"]
        assert pods(label_selector="tier,k8s-app!=kube-proxy") == []
        assert pods(field_selector="spec.nodeName=node-1") == ["kube-proxy-b"]
        assert pods(label_selector="tier=node", limit=1) == ["kube-proxy-a"]
        all_pods = core.list_pod_for_all_namespaces(label_selector="k8s-app")
        assert [p.metadata.namespace for p in all_pods.items] == [
            "calico-system", "kube-system", "kube-system", "kube-system",
        ]  # fmt: skip
        nodes = core.list_node(field_selector="metadata.name=node-2")
        assert [n.metadata.name for n in nodes.items] == ["node-2"]
        with pytest.raises(ApiException) as exc:
            core.list_node(field_selector="spec.bogus=1")
        assert exc.value.status == 400
        assert json.loads(exc.value.body)["message"] == "field label not supported: spec.bogus"


def test_pagination_with_selector_and_continue_expiry(server: KubeAPIServer) -> None:
    _, _, first = _get(server, "/api/v1/pods?labelSelector=k8s-app&limit=3")
    assert len(first["items"]) == 3
    assert "remainingItemCount" not in first["metadata"]  # unknown when filtering
    token = first["metadata"]["continue"]
    _, _, rest = _get(server, f"/api/v1/pods?labelSelector=k8s-app&limit=3&continue={token}")
    assert [p["metadata"]["name"] for p in rest["items"]] == ["kube-proxy-b"]
    assert "continue" not in rest["metadata"]
    assert _get(server, "/api/v1/nodes?continue=garbage")[0] == 400

    server.update_scenario(expire_continue=True)
    status, _, gone = _get(server, f"/api/v1/pods?limit=1&continue={token}")
    assert (status, gone["reason"], gone["code"]) == (410, "Expired", 410)
    inconsistent = gone["metadata"]["continue"]
    status, _, resumed = _get(server, f"/api/v1/pods?labelSelector=k8s-app&continue={inconsistent}")
    assert status == 200 and [p["metadata"]["name"] for p in resumed["items"]] == ["kube-proxy-b"]


def test_discovery(server: KubeAPIServer) -> None:
    _, _, api = _get(server, "/api")
    assert (api["kind"], api["versions"]) == ("APIVersions", ["v1"])
    _, _, groups = _get(server, "/apis")
    by_name = {g["name"]: g for g in groups["groups"]}
    assert {
        "apps",
        "crd.projectcalico.org",
        "operator.tigera.io",
        "spiderpool.spidernet.io",
    } <= set(by_name)
    assert "cilium.io" not in by_name
    assert by_name["spiderpool.spidernet.io"]["preferredVersion"] == {
        "groupVersion": "spiderpool.spidernet.io/v2beta1",
        "version": "v2beta1",
    }
    _, _, calico = _get(server, "/apis/crd.projectcalico.org/v1")
    resources = {r["name"]: r for r in calico["resources"]}
    assert set(resources) == {"ippools", "felixconfigurations", "clusterinformations"}
    assert resources["ippools"]["kind"] == "IPPool"
    assert resources["ippools"]["singularName"] == "ippool"
    assert resources["ippools"]["namespaced"] is False
    assert "list" in resources["ippools"]["verbs"]
    _, _, core = _get(server, "/api/v1")
    nodes = next(r for r in core["resources"] if r["name"] == "nodes")
    assert (nodes["kind"], nodes["namespaced"]) == ("Node", False)
    status, _, missing = _get(server, "/apis/cilium.io/v2")
    assert (status, missing["reason"]) == (404, "NotFound")
    assert _get(server, "/apis/cilium.io/v2/ciliumnodes")[0] == 404
    _, _, crds = _get(server, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert "ippools.crd.projectcalico.org" in {c["metadata"]["name"] for c in crds["items"]}


def test_registered_resources_without_objects() -> None:
    scenario = {
        "resources": [
            {"group": "cilium.io", "version": "v2", "kind": "CiliumNode"},
            {"group": "example.com", "version": "v1alpha1", "kind": "Widget", "namespaced": True},
        ]
    }
    with KubeAPIServer(scenario) as srv:
        status, _, body = _get(srv, "/apis/cilium.io/v2/ciliumnodes", token=None)
        assert (status, body["kind"], body["items"]) == (200, "CiliumNodeList", [])
        status, _, body = _get(srv, "/apis/example.com/v1alpha1/namespaces/x/widgets", token=None)
        assert (status, body["items"]) == (200, [])
        assert _get(srv, "/apis/example.com/v1alpha1/widgets/x", token=None)[0] == 404


def test_injected_errors_and_latency(tmp_path: Path) -> None:
    scenario = {
        **_scenario(),
        "errors": {"/api/v1/nodes": 500, "/apis/crd.projectcalico.org/*": 503},
    }
    with KubeAPIServer(scenario, token="t0k3n") as srv, api_client(srv, tmp_path) as api:
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(api).list_node()
        assert exc.value.status == 500
        assert json.loads(exc.value.body)["reason"] == "InternalError"
        with pytest.raises(ApiException) as exc:
            client.CustomObjectsApi(api).list_cluster_custom_object(
                "crd.projectcalico.org", "v1", "ippools"
            )
        assert exc.value.status == 503
        assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"

        srv.update_scenario(latency=0.3, errors={})
        start = time.monotonic()
        assert client.VersionApi(api).get_code().minor == "29"
        assert time.monotonic() - start >= 0.3


def test_faults_answer_like_a_proxy_in_front_or_a_server_broken_everywhere() -> None:
    with KubeAPIServer(_scenario(), token="t0k3n") as srv, urllib3.PoolManager() as pool:

        def get(path: str) -> urllib3.BaseHTTPResponse:
            return pool.request("GET", srv.url + path, retries=False, redirect=False)

        srv.update_scenario(faults={"*": "redirect https://sso.example.com/oauth2/start"})
        answer = get("/api/v1/nodes")
        assert answer.status == 302
        assert answer.headers["Location"] == "https://sso.example.com/oauth2/start?rd=/api/v1/nodes"
        assert answer.headers["Content-Type"].startswith("text/html")
        assert answer.data.startswith(b'<a href="https://sso.example.com/oauth2/start?rd=')

        srv.update_scenario(faults={"*": "html"})
        answer = get("/version")
        assert (answer.status, answer.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
        assert b"<title>Sign in</title>" in answer.data

        srv.update_scenario(faults={"*": 403})
        node_list = json.loads(get("/api/v1/nodes").data)
        assert node_list["reason"] == "Forbidden"
        assert node_list["message"] == (
            'nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API '
            'group "" at the cluster scope'
        )
        version = json.loads(get("/version").data)
        assert (version["code"], version["message"]) == (
            403,
            'forbidden: User "system:anonymous" cannot get path "/version"',
        )

        # One path only: the others answer as before, before and regardless of the token.
        srv.update_scenario(faults={"/api/v1/nodes": 500})
        assert json.loads(get("/api/v1/nodes").data)["reason"] == "InternalError"
        assert get("/version").status == 401
        assert _get(srv, "/version")[0] == 200

    with pytest.raises(ValueError, match="is not a fault"):
        KubeAPIServer({"faults": {"*": "teapot"}})


def test_hang_times_out_and_stop_is_prompt(tmp_path: Path) -> None:
    with KubeAPIServer({**_scenario(), "hang": True}, token="t0k3n") as srv:
        with api_client(srv, tmp_path) as api:
            start = time.monotonic()
            # The client retries 3 times (urllib3's default) before giving up.
            with pytest.raises(urllib3.exceptions.MaxRetryError) as exc:
                client.CoreV1Api(api).list_node(_request_timeout=0.3)
            assert isinstance(exc.value.reason, urllib3.exceptions.ReadTimeoutError)
            assert time.monotonic() - start < 5
        # A request still hanging when the server stops is cut off, not waited for.
        outcome: list[BaseException] = []

        def call() -> None:
            try:
                with urllib3.PoolManager() as pool:
                    pool.request("GET", srv.url + "/version", retries=False)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.2)
        start = time.monotonic()
        srv.stop()
        thread.join(10)
        assert not thread.is_alive()
        assert time.monotonic() - start < 5
        assert outcome and isinstance(outcome[0], urllib3.exceptions.HTTPError)


def test_hang_paths_only() -> None:
    with KubeAPIServer({"hang_paths": ["/api/v1/nodes"]}) as srv:
        assert _get(srv, "/version", token=None)[0] == 200
        with urllib3.PoolManager() as pool, pytest.raises(urllib3.exceptions.ReadTimeoutError):
            pool.request("GET", srv.url + "/api/v1/nodes", timeout=0.3, retries=False)


def test_watch(server: KubeAPIServer, tmp_path: Path) -> None:
    with api_client(server, tmp_path) as api:
        events = list(
            watch.Watch().stream(
                client.CoreV1Api(api).list_namespaced_config_map, "kube-system", timeout_seconds=1
            )
        )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "kube-proxy"),
        ("ADDED", "kubeadm-config"),
    ]
    assert ("", "configmaps", "watch") in server.rbac_requests()


# ---------------------------------------------------------------------------------------------
# Recording and RBAC mapping
# ---------------------------------------------------------------------------------------------


def test_recorded_requests_map_to_rbac(server: KubeAPIServer, tmp_path: Path) -> None:
    with api_client(server, tmp_path) as api:
        client.VersionApi(api).get_code()
        client.CoreV1Api(api).list_node(limit=3)
        client.CoreV1Api(api).read_namespaced_config_map("kube-proxy", "kube-system")
        client.AppsV1Api(api).list_namespaced_daemon_set("calico-system")
        client.CustomObjectsApi(api).list_cluster_custom_object(
            "crd.projectcalico.org", "v1", "ippools"
        )
        client.CustomObjectsApi(api).get_cluster_custom_object(
            "operator.tigera.io", "v1", "installations", "default"
        )
    assert server.rbac_requests() == [
        ("", "nodes", "list"),
        ("", "configmaps", "get"),
        ("apps", "daemonsets", "list"),
        ("crd.projectcalico.org", "ippools", "list"),
        ("operator.tigera.io", "installations", "get"),
    ]
    first = server.requests[0]
    assert (first.method, first.path, first.status, first.rbac) == ("GET", "/version/", 200, None)
    nodes = server.requests[1]
    assert nodes.query == {"limit": "3"}
    assert nodes.headers["Accept"] == "application/json"
    assert nodes.headers["User-Agent"].startswith("OpenAPI-Generator/")
    server.clear_requests()
    assert server.requests == []


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/nodes", {}, ("", "nodes", "list")),
        ("GET", "/api/v1/nodes/n1", {}, ("", "nodes", "get")),
        ("GET", "/api/v1/nodes", {"watch": "true"}, ("", "nodes", "watch")),
        ("GET", "/api/v1/watch/namespaces/a/pods", {}, ("", "pods", "watch")),
        ("GET", "/api/v1/namespaces/kube-system", {}, ("", "namespaces", "get")),
        ("GET", "/api/v1/namespaces/kube-system/status", {}, ("", "namespaces/status", "get")),
        ("GET", "/api/v1/namespaces/a/pods/p/log", {}, ("", "pods/log", "get")),
        ("GET", "/apis/apps/v1/daemonsets", {}, ("apps", "daemonsets", "list")),
        ("GET", "/apis/apps/v1/namespaces/a/daemonsets/ds", {}, ("apps", "daemonsets", "get")),
        ("GET", "/apis/crd.projectcalico.org/v1/ippools", {},
         ("crd.projectcalico.org", "ippools", "list")),
        ("POST", "/api/v1/namespaces/a/configmaps", {}, ("", "configmaps", "create")),
        ("PUT", "/api/v1/namespaces/a/configmaps/c", {}, ("", "configmaps", "update")),
        ("PATCH", "/api/v1/nodes/n1/status", {}, ("", "nodes/status", "patch")),
        ("DELETE", "/api/v1/namespaces/a/pods/p", {}, ("", "pods", "delete")),
        ("DELETE", "/api/v1/namespaces/a/pods", {}, ("", "pods", "deletecollection")),
        ("GET", "/version", {}, None),
        ("GET", "/api", {}, None),
        ("GET", "/api/v1", {}, None),
        ("GET", "/apis/apps/v1", {}, None),
        ("GET", "/healthz", {}, None),
    ],
)  # fmt: skip
def test_rbac_attributes(
    method: str, path: str, query: dict[str, str], expected: tuple[str, str, str] | None
) -> None:
    got = rbac_attributes(method, path, query)
    assert got == expected
    if got is not None:
        assert isinstance(got, RBACAttributes)


def test_writes_are_refused_but_recorded(server: KubeAPIServer) -> None:
    with urllib3.PoolManager() as pool:
        resp = pool.request(
            "POST",
            server.url + "/api/v1/namespaces/default/configmaps",
            body=b'{"metadata":{"name":"x"}}',
            headers={"Authorization": "Bearer t0k3n", "Content-Type": "application/json"},
        )
    assert resp.status == 405
    assert server.rbac_requests() == [("", "configmaps", "create")]
    assert server.requests[-1].headers["Content-Type"] == "application/json"


# ---------------------------------------------------------------------------------------------
# Scale and helpers
# ---------------------------------------------------------------------------------------------


def test_realistic_node_is_valid_and_real_sized() -> None:
    node = realistic_node(
        "cp-1",
        "6.1.0-21-amd64",
        "Debian GNU/Linux 12 (bookworm)",
        "v1.29.6",
        "containerd://1.6.33",
        "arm64",
        ["control-plane"],
        {"team": "net"},
    )
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/arch"] == "arm64" and labels["kubernetes.io/os"] == "linux"
    assert labels["node-role.kubernetes.io/control-plane"] == "" and labels["team"] == "net"
    assert labels["topology.kubernetes.io/zone"]
    assert node["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"
    status = node["status"]
    assert len(status["conditions"]) == 5 and len(status["images"]) == 40
    assert status["nodeInfo"]["kubeProxyVersion"] == "v1.29.6"
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert 8_000 < len(json.dumps(node)) < 30_000
    # The real client's models accept it (they validate required fields).
    with client.ApiClient() as api:
        model = api._ApiClient__deserialize(node, "V1Node")
    assert model.status.node_info.kernel_version == "6.1.0-21-amd64"
    assert model.status.images[0].size_bytes > 0


def test_five_thousand_nodes_paginated() -> None:
    nodes = [realistic_node(f"node-{i:05d}") for i in range(5000)]
    with KubeAPIServer({"objects": nodes}) as srv, urllib3.PoolManager() as pool:
        names: list[str] = []
        total = 0
        token = ""
        while True:
            url = f"{srv.url}/api/v1/nodes?limit=500" + (f"&continue={token}" if token else "")
            resp = pool.request("GET", url, retries=False)
            total += len(resp.data)
            page = json.loads(resp.data)
            names += [n["metadata"]["name"] for n in page["items"]]
            token = page["metadata"].get("continue", "")
            if not token:
                break
    assert names == sorted(names) and len(set(names)) == 5000
    assert total > 30_000_000  # tens of MB, like a real 5,000-node cluster


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 119, 150, 600, 3 * 3600 + 60, 30 * 3600)] == [
        "5s", "119s", "2m30s", "10m", "3h1m", "30h",
    ]  # fmt: skip
    assert human_duration(3 * 86400 + 5 * 3600) == "3d5h"
    assert human_duration(40 * 86400) == "40d"
    assert human_duration(800 * 86400) == "2y70d"


def test_kubeconfig_with_several_clusters(tmp_path: Path) -> None:
    with (
        KubeAPIServer({"version": {"gitVersion": "v1.28.9"}}, token="a") as one,
        KubeAPIServer({"version": {"gitVersion": "v1.31.1"}}, tls=True) as two,
    ):
        path = write_kubeconfig(
            tmp_path / "kc",
            [("one", one, "a"), ("two", two, None), ("down", "http://127.0.0.1:9", "x")],
            current_context="two",
        )
        contexts, current = config.list_kube_config_contexts(str(path))
        assert [c["name"] for c in contexts] == ["one", "two", "down"]
        assert current["name"] == "two"
        for name, minor in (("one", "28"), ("two", "31")):
            with config.new_client_from_config(config_file=str(path), context=name) as api:
                assert client.VersionApi(api).get_code().minor == minor
