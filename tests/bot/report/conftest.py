"""A real ``scan --json`` document of the demo fleet, with what the demo lacks added: labels,
a cluster that could not be read and a muted match."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.runner import run


@pytest.fixture(scope="session")
def demo_scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``netadvisor scan --json --dry-run`` of the bundled demo fleet, as printed."""
    state = tmp_path_factory.mktemp("state") / "demo.db"
    code, out, err = run("scan", "--json", "--dry-run", "--state", f"sqlite:///{state}")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


@pytest.fixture
def fleet_scan(demo_scan: dict[str, Any]) -> dict[str, Any]:
    """The demo scan with labels on every cluster, one unreadable cluster and one muted match."""
    data = copy.deepcopy(demo_scan)
    labels = {
        "demo-edge-rke2": {"env": "edge", "team": "iot"},
        "demo-eks": {"env": "prod", "team": "web"},
        "demo-prod-centos": {"env": "prod", "team": "payments"},
        "demo-web-ubuntu": {"env": "staging", "team": "web"},
    }
    for cluster in data["clusters"]:
        cluster["labels"] = labels[cluster["name"]]
        if cluster["name"] == "demo-web-ubuntu":
            for result in cluster["results"]:
                if result["id"] == "CALICO-VXLAN-PARENT-ROUTES":
                    result["notified"] = "muted"
    data["clusters"].append(
        {
            "name": "prod-us-east",
            "uid": None,
            "status": "unreachable",
            "error": "cannot connect to https://10.0.0.1:6443: connection refused",
            "demo": False,
            "aliases": [],
            "labels": {"env": "prod", "team": "payments"},
            "summary": {"affected": 0, "not_affected": 0, "unknown": 0},
            "results": [],
        }
    )
    return data


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser screenshots are kept (gitignored), for people to look at."""
    path = Path(__file__).resolve().parents[3] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
