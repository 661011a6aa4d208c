"""netadvisor from its wheel, with HOME, the working directory and everything else read-only but
the configured state and temporary directories: what the container's read-only root filesystem
asks of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.installed import Installed, readonly_command, writable_dir
from tests.jobs.inventory.scenarios import kubeadm_centos_ipvs_calico
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig


@pytest.fixture
def box(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """HOME and a working directory (to be read-only), state and tmp (writable)."""
    paths = {name: writable_dir(tmp_path, name) for name in ("home", "work", "state", "tmp")}
    yield paths


def _environ(box: dict[str, Path], **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(box["home"]),
        "XDG_STATE_HOME": str(box["state"]),
        "XDG_CACHE_HOME": str(box["tmp"] / "cache"),
        "TMPDIR": str(box["tmp"]),
        "NETADVISOR_LOG_FORMAT": "json",
        **extra,
    }


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def test_the_wheel_holds_the_program_and_its_data(installed: Installed) -> None:
    done = subprocess.run(
        [str(installed.python), "-c",
         "import advisories, bot, jobs; print(advisories.__file__); "
         "from advisories.catalog import load_catalog; print(len(load_catalog().advisories))"],
        capture_output=True, text=True, timeout=120, check=True, cwd="/",
    )  # fmt: skip
    location, count = done.stdout.split()
    assert location.startswith(str(installed.root / "venv"))  # the wheel, not the source tree
    assert int(count) >= 28


def test_scan_of_the_demo_fleet_writes_only_to_the_state_and_temporary_paths(
    installed: Installed, box: dict[str, Path]
) -> None:
    command = readonly_command(
        [str(installed.netadvisor), "scan", "--json"],
        writable=[box["state"], box["tmp"]],
        cwd=box["work"],
        environ=_environ(box),
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["clusters"] and all(c["status"] == "ok" for c in report["clusters"])
    assert _files(box["home"]) == set() and _files(box["work"]) == set()


def test_scan_of_a_real_cluster_through_a_kubeconfig_in_the_read_only_home(
    installed: Installed, box: dict[str, Path]
) -> None:
    with KubeAPIServer(kubeadm_centos_ipvs_calico(), token="ro-token", tls=True) as server:
        kube = box["home"] / ".kube"
        kube.mkdir()
        write_kubeconfig(kube / "config", [("prod-centos", server, "ro-token")])
        command = readonly_command(
            [str(installed.netadvisor), "scan", "--json"],
            writable=[box["state"], box["tmp"]],
            cwd=box["work"],
            environ=_environ(box),
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    (cluster,) = json.loads(done.stdout)["clusters"]
    assert (cluster["name"], cluster["status"]) == ("prod-centos", "ok")
    affected = {r["id"] for r in cluster["results"] if r["verdict"] == "affected"}
    assert "KP-IPVS-CONN-REUSE" in affected
    assert _files(box["home"]) == {".kube", ".kube/config"}
    assert _files(box["work"]) == set()
    assert "ro-token" not in done.stderr


def test_the_read_only_box_really_is_read_only(box: dict[str, Path]) -> None:
    probe = (
        f"touch {box['home']}/a 2>/dev/null && exit 3; touch {box['work']}/b 2>/dev/null && "
        f"exit 4; touch {box['state']}/c && touch {box['tmp']}/d"
    )
    command = readonly_command(
        ["sh", "-c", probe],
        writable=[box["state"], box["tmp"]],
        cwd=box["work"],
        environ={"PATH": os.environ["PATH"]},
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert _files(box["state"]) == {"c"} and _files(box["tmp"]) == {"d"}


def _wait_for_port(process: subprocess.Popen[str], lines: list[str], timeout: float) -> int:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if "on port " in line:
            return int(line.split("on port ")[1].split(";")[0].split()[0])
        if not line and process.poll() is not None:
            break
    raise AssertionError("serve did not start:\n" + "".join(lines))


def _http(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_serve_runs_read_only_answers_health_readiness_and_metrics_and_stops_on_sigterm(
    installed: Installed, box: dict[str, Path]
) -> None:
    with KubeAPIServer(kubeadm_centos_ipvs_calico(), token="ro-token", tls=True) as server:
        kube = box["home"] / ".kube"
        kube.mkdir()
        write_kubeconfig(kube / "config", [("prod-centos", server, "ro-token")])
        command = readonly_command(
            [str(installed.netadvisor), "serve"],
            writable=[box["state"], box["tmp"]],
            cwd=box["work"],
            environ=_environ(box, NETADVISOR_PORT="0", NETADVISOR_SCAN_INTERVAL="3600"),
        )
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines: list[str] = []
        try:
            port = _wait_for_port(process, lines, timeout=60)
            base = f"http://127.0.0.1:{port}"
            assert _http(f"{base}/healthz") == (200, b"ok\n")
            status, body = _http(f"{base}/readyz")
            assert status == 200, body
            assert set(json.loads(body)["checks"]) == {"store", "catalog"}
            deadline = time.monotonic() + 60
            metrics = b""
            while time.monotonic() < deadline:
                metrics = _http(f"{base}/metrics")[1]
                if b'netadvisor_cluster_up{cluster="prod-centos"} 1.0' in metrics:
                    break
                time.sleep(0.2)
            assert b'netadvisor_cluster_up{cluster="prod-centos"} 1.0' in metrics
            assert b"netadvisor_open_matches{" in metrics
            assert b"netadvisor_leader 1.0" in metrics  # no election outside a pod
        finally:
            process.send_signal(signal.SIGTERM)
            out, rest = process.communicate(timeout=60)
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert "ro-token" not in log + out
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert records, log
    for record in records:
        assert {"time", "level", "logger", "message", "cluster", "advisory"} <= set(record)
    assert _files(box["home"]) == {".kube", ".kube/config"}
    assert _files(box["work"]) == set()
    assert any(path.endswith("state.db") for path in _files(box["state"]))
