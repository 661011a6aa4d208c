"""The watched-cluster README's steps work: mint-kubeconfig.sh, run with the real kubectl
against a Kubernetes API server on 127.0.0.1, writes a token kubeconfig that reads the cluster."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from tests.deploy.manifests import DEPLOY
from tests.servers.kubeapi import KubeAPIServer, realistic_node, write_kubeconfig

SCRIPT = DEPLOY / "overlays" / "watched-cluster" / "mint-kubeconfig.sh"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.watched-cluster-token.signature"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _token_secret(data: dict[str, str] | None) -> dict[str, Any]:
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": "netadvisor-token",
            "namespace": "netadvisor",
            "annotations": {"kubernetes.io/service-account.name": "netadvisor"},
        },
    }
    if data is not None:
        secret["data"] = data
    return secret


def _run(args: list[str], kubeconfig: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("kubectl") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("kubectl is not installed")
        pytest.skip("kubectl is not installed")
    environ = {"PATH": os.environ["PATH"], "HOME": str(cwd), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        ["sh", str(SCRIPT), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_minted_kubeconfig_reads_the_cluster_with_the_service_account_token(
    tmp_path: Path,
) -> None:
    with KubeAPIServer({"objects": [realistic_node("node-1")]}, token=TOKEN, tls=True) as server:
        assert server.ca_pem is not None
        server.set_scenario(
            {
                "objects": [
                    realistic_node("node-1"),
                    _token_secret({"token": _b64(TOKEN), "ca.crt": _b64(server.ca_pem)}),
                ]
            }
        )
        admin = write_kubeconfig(tmp_path / "admin", [("prod-eu-admin", server, TOKEN)])
        done = _run(["prod-eu", "prod-eu.kubeconfig"], admin, tmp_path)
        assert done.returncode == 0, done.stderr
        assert TOKEN not in done.stdout + done.stderr
        minted = tmp_path / "prod-eu.kubeconfig"
        assert stat.S_IMODE(minted.stat().st_mode) == 0o600

        document = yaml.safe_load(minted.read_text())
        assert document["current-context"] == "prod-eu"
        (cluster,) = document["clusters"]
        assert cluster["cluster"]["server"] == server.url
        (user,) = document["users"]
        assert user["user"] == {"token": TOKEN}  # no exec plugin: the slim image has none

        api = config.new_client_from_config(config_file=str(minted))
        try:
            nodes = client.CoreV1Api(api).list_node()
        finally:
            api.close()
        assert [n.metadata.name for n in nodes.items] == ["node-1"]

        elsewhere = _run(["prod-eu", "other.kubeconfig", "https://10.0.0.10:6443"], admin, tmp_path)
        assert elsewhere.returncode == 0, elsewhere.stderr
        other = yaml.safe_load((tmp_path / "other.kubeconfig").read_text())
        assert other["clusters"][0]["cluster"]["server"] == "https://10.0.0.10:6443"


def test_minting_before_the_token_exists_fails_with_a_clear_message(tmp_path: Path) -> None:
    with KubeAPIServer({"objects": [_token_secret(None)]}, token=TOKEN, tls=True) as server:
        admin = write_kubeconfig(tmp_path / "admin", [("prod-eu", server, TOKEN)])
        done = _run(["prod-eu", "out.kubeconfig"], admin, tmp_path)
    assert done.returncode == 1
    assert "has no token or CA yet" in done.stderr
    assert not (tmp_path / "out.kubeconfig").exists()
