"""doctor's Kubernetes checks against the fake API server, through the real kubernetes client."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.checks import CheckStatus
from jobs.inventory.access import check_access
from jobs.inventory.kube import kubeconfig_reader
from jobs.inventory.resources import PERMISSIONS
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig

EVERY_VERB = [(p.group, p.resource, v) for p in PERMISSIONS for v in p.verbs]


def _check(tmp_path: Path, server: KubeAPIServer | str, token: str | None = "s3cret") -> list:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", [("prod", server, token)])
    reader = kubeconfig_reader(str(kubeconfig), "prod")
    return check_access("prod", reader.connect, timeout=5)


def test_a_cluster_with_every_permission_passes_every_check(tmp_path: Path) -> None:
    with KubeAPIServer({}, token="s3cret") as server:
        results = _check(tmp_path, server)
        reviewed = [r[:3] for r in server.access_reviews]
    assert [r.status for r in results] == [CheckStatus.OK] * (2 + len(EVERY_VERB))
    assert results[0].subject == "prod: reachable"
    assert results[1].subject == "prod: authenticated"
    # Every (group, resource, verb) inventory needs was asked, once, and nothing else.
    assert reviewed == EVERY_VERB


def test_one_missing_permission_is_the_one_failing_line_with_a_fix(tmp_path: Path) -> None:
    scenario = {"forbidden": [("crd.projectcalico.org", "ippools", "list")]}
    with KubeAPIServer(scenario, token="s3cret") as server:
        results = _check(tmp_path, server)
    failed = [r for r in results if r.failed]
    assert len(failed) == 1
    assert failed[0].subject == "prod: list ippools [crd.projectcalico.org] (cluster-wide)"
    assert failed[0].message.startswith("denied: inventory needs it for Calico encapsulation")
    assert "deploy/overlays/watched-cluster" in failed[0].fix


def test_namespaced_permissions_are_asked_in_kube_system(tmp_path: Path) -> None:
    with KubeAPIServer({}, token="s3cret") as server:
        _check(tmp_path, server)
        namespaces = {(r[1], r[2]): r[3] for r in server.access_reviews}
    assert namespaces[("pods", "list")] == "kube-system"
    assert namespaces[("nodes", "list")] is None


def test_a_wrong_token_fails_authentication_and_asks_nothing_more(tmp_path: Path) -> None:
    with KubeAPIServer({}, token="s3cret") as server:
        results = _check(tmp_path, server, token="wrong")
        assert server.access_reviews == []
    assert [(r.subject, r.status) for r in results] == [
        ("prod: reachable", CheckStatus.OK),
        ("prod: authenticated", CheckStatus.FAIL),
    ]
    assert "renew" in results[1].fix
    assert "wrong" not in results[1].message + results[1].fix


def test_an_unreachable_cluster_is_one_failing_line(tmp_path: Path, free_port: int) -> None:
    results = _check(tmp_path, f"http://127.0.0.1:{free_port}")
    assert len(results) == 1
    assert results[0].subject == "prod: reachable"
    assert results[0].status is CheckStatus.FAIL
    assert "network path" in results[0].fix


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
