"""Two replicas of ``netadvisor serve``, each as in a pod (its service account mounted, its
root filesystem read-only), sharing one state store and electing through a Lease on a
Kubernetes API server on 127.0.0.1: one leads and scans, the other only answers; when the leader
stops, the other takes over and scans at once."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jobs.leader import DEFAULT_LEASE_NAME
from tests.deploy.installed import Installed, readonly_command, writable_dir
from tests.jobs.inventory.scenarios import kubeadm_centos_ipvs_calico
from tests.servers.kubeapi import KubeAPIServer
from tests.state_databases import BACKENDS, database_url

TOKEN = "eyJhbGciOiJSUzI1NiJ9.pod-token.sig"
NAMESPACE = "netadvisor"


@dataclass
class Replica:
    """One ``serve`` process and what it printed."""

    name: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    port: int = 0

    def metric(self, name: str, **labels: str) -> float | None:
        body = _http(f"http://127.0.0.1:{self.port}/metrics")[1].decode()
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        pattern = re.escape(name + (f"{{{wanted}}}" if wanted else "")) + r" (\S+)"
        found = re.search(rf"^{pattern}$", body, re.MULTILINE)
        return float(found.group(1)) if found else None

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, rest = self.process.communicate(timeout=60)
        return "".join(self.lines) + rest


def _http(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _until(predicate: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


@pytest.fixture
def hub() -> Iterator[KubeAPIServer]:
    scenario = kubeadm_centos_ipvs_calico()
    scenario["objects"].append(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    )
    with KubeAPIServer(scenario, token=TOKEN, tls=True) as server:
        yield server
    assert server.handler_errors == []


def _start(
    installed: Installed, hub: KubeAPIServer, tmp_path: Path, name: str, url: str
) -> Replica:
    pod = writable_dir(tmp_path, name)
    account = writable_dir(pod, "serviceaccount")
    assert hub.ca_pem is not None
    (account / "token").write_text(TOKEN)
    (account / "ca.crt").write_text(hub.ca_pem)
    (account / "namespace").write_text(NAMESPACE)
    home, work = writable_dir(pod, "home"), writable_dir(pod, "work")
    state, tmp = writable_dir(pod, "state"), writable_dir(pod, "tmp")
    shared = tmp_path / "shared"  # the SQLite database both replicas use when not PostgreSQL
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "HOSTNAME": name,
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(hub.port),
        "XDG_STATE_HOME": str(state),
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "TMPDIR": str(tmp),
        "NETADVISOR_DATABASE_URL": url,
        "NETADVISOR_PORT": "0",
        "NETADVISOR_SCAN_INTERVAL": "3600",
        "NETADVISOR_LOG_FORMAT": "json",
    }
    command = readonly_command(
        [str(installed.netadvisor), "serve"],
        writable=[state, tmp, shared],
        cwd=work,
        environ=environ,
        service_account=account,
    )
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    replica = Replica(name, process)
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        replica.lines.append(line)
        if "on port " in line:
            replica.port = int(line.split("on port ")[1].split(";")[0].split()[0])
            return replica
        if not line and process.poll() is not None:
            break
    replica.stop()
    raise AssertionError(f"{name} did not start:\n" + "".join(replica.lines))


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_replica_leads_and_scans_and_the_other_takes_over_when_it_stops(
    installed: Installed, hub: KubeAPIServer, tmp_path: Path, backend: str
) -> None:
    (tmp_path / "shared").mkdir()
    with database_url(backend, tmp_path / "shared") as url:
        a = _start(installed, hub, tmp_path, "pod-a", url)
        replicas = [a]
        try:
            assert _until(lambda: a.metric("netadvisor_leader") == 1.0, 20), "".join(a.lines)
            assert _until(lambda: a.metric("netadvisor_job_runs_total", job="scan",
                                           outcome="ran") == 1.0, 30)  # fmt: skip
            b = _start(installed, hub, tmp_path, "pod-b", url)
            replicas.append(b)
            assert _until(lambda: b.metric("netadvisor_job_runs_total", job="scan",
                                           outcome="not_leader") == 1.0, 30)  # fmt: skip
            assert b.metric("netadvisor_leader") == 0.0
            assert b.metric("netadvisor_job_runs_total", job="scan", outcome="ran") is None
            assert hub.leases.holder(NAMESPACE, DEFAULT_LEASE_NAME) == "pod-a"
            # Every replica reports the shared store's figures, the follower included.
            assert b.metric("netadvisor_cluster_last_successful_scan_timestamp_seconds",
                            cluster="in-cluster") is not None  # fmt: skip

            log_a = a.stop()  # SIGTERM: finishes, releases the Lease
            assert a.process.returncode == 0, log_a
            assert _until(lambda: b.metric("netadvisor_leader") == 1.0, 15), "".join(b.lines)
            assert hub.leases.holder(NAMESPACE, DEFAULT_LEASE_NAME) == "pod-b"
            # The new leader scans at once, not an interval (an hour) later.
            assert _until(lambda: b.metric("netadvisor_job_runs_total", job="scan",
                                           outcome="ran") == 1.0, 30)  # fmt: skip
            log_b = b.stop()
            assert b.process.returncode == 0, log_b
        finally:
            logs = [replica.stop() for replica in replicas]
    for log in logs:
        assert TOKEN not in log
        records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any("Lease" in str(r["message"]) for r in records)
    assert base64.b64encode(TOKEN.encode()).decode() not in "".join(logs)
