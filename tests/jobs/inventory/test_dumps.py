"""Dumps: the kubectl script, bundles, plain Lists; the same cluster gives the same facts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from advisories.fleet import ClusterStatus
from jobs.inventory.dumps import (
    DumpReader,
    bundle_from_snapshot,
    dump_script,
    snapshot_from_document,
)
from jobs.inventory.kube import kubeconfig_reader
from jobs.inventory.mapping import cluster_facts
from jobs.inventory.port import DumpError, ProblemKind, ReadContext
from jobs.inventory.run import ClusterTarget, read_fleet
from tests.jobs.inventory.conftest import Fleet, read_snapshot, same_facts
from tests.jobs.inventory.scenarios import SCENARIOS

KUBECTL = shutil.which("kubectl")
# In CI (CI=true) a missing kubectl is a failure, never a silent skip.
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None and os.environ.get("CI", "").lower() != "true",
    reason="kubectl is not installed",
)


def run_dump_script(fleet: Fleet, context: str, out: Path) -> subprocess.CompletedProcess[str]:
    script = out.parent / "dump.sh"
    script.write_text(dump_script())
    env = {
        **os.environ,
        "KUBECTL": f"{KUBECTL} --kubeconfig {fleet.kubeconfig} --context {context}",
    }
    return subprocess.run(
        ["sh", str(script), str(out)], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def kubectl_dump(
    fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[Path, str]]:
    """The dump script run once per scenario: (bundle path, stderr)."""
    directory = tmp_path_factory.mktemp("dumps")
    done: dict[str, tuple[Path, str]] = {}

    def dump(scenario: str) -> tuple[Path, str]:
        if scenario not in done:
            out = directory / f"{scenario}.json"
            result = run_dump_script(fleet, scenario, out)
            assert result.returncode == 0, result.stderr
            done[scenario] = (out, result.stderr)
        return done[scenario]

    return dump


@needs_kubectl
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_kubectl_dump_gives_the_same_facts_as_the_live_api(
    fleet: Fleet, scenario: str, kubectl_dump: Callable[[str], tuple[Path, str]]
) -> None:
    out, stderr = kubectl_dump(scenario)
    assert f"wrote {out}" in stderr
    from_dump = cluster_facts(read_snapshot(DumpReader(out)), name=scenario)
    live = cluster_facts(
        read_snapshot(kubeconfig_reader(str(fleet.kubeconfig), scenario)), name=scenario
    )
    assert from_dump.status is ClusterStatus.OK
    assert same_facts(from_dump) == same_facts(live)


@needs_kubectl
def test_the_dump_script_tolerates_forbidden_and_unserved_resource_types(
    kubectl_dump: Callable[[str], tuple[Path, str]],
) -> None:
    out, _ = kubectl_dump("forbidden")
    bundle = json.loads(out.read_text())
    assert bundle["kind"] == "NetadvisorDump" and bundle["context"] == "forbidden"
    assert "(Forbidden)" in bundle["ippools"]["error"]
    assert "doesn't have a resource type" in bundle["spidercoordinators"]["error"]
    snapshot = snapshot_from_document(bundle, "dump")
    assert snapshot.listing("ippools").problems[0].kind is ProblemKind.FORBIDDEN
    assert snapshot.listing("spidercoordinators").problems[0].kind is ProblemKind.NOT_SERVED


def test_the_dump_command_is_read_only_posix_sh(tmp_path: Path) -> None:
    script = dump_script()
    assert script.startswith("#!/bin/sh\n")
    verbs = {line.split(" get ")[0] for line in script.splitlines() if "$k " in line}
    assert all("delete" not in v and "apply" not in v for v in verbs)
    path = tmp_path / "dump.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_bundle_written_from_a_snapshot_reads_back_the_same(fleet: Fleet, scenario: str) -> None:
    snapshot = read_snapshot(kubeconfig_reader(str(fleet.kubeconfig), scenario))
    bundle = json.loads(json.dumps(bundle_from_snapshot(snapshot)))
    again = snapshot_from_document(bundle, "dump")
    assert cluster_facts(again, name="x") == cluster_facts(snapshot, name="x")


def test_a_plain_kubectl_list_is_read_and_what_it_lacks_is_unknown(fleet: Fleet) -> None:
    snapshot = read_snapshot(kubeconfig_reader(str(fleet.kubeconfig), "centos"))
    items = [
        {**item, "kind": kind}
        for key, kind in (
            ("nodes", "Node"),
            ("daemonsets", "DaemonSet"),
            ("configmaps", "ConfigMap"),
        )
        for item in snapshot.listing(key).items
    ]
    cluster = cluster_facts(
        snapshot_from_document({"apiVersion": "v1", "kind": "List", "items": items}, "dump"),
        name="plain",
    )
    assert len(cluster.nodes) == 4
    assert cluster.facts.raw["kube-proxy"] == "v1.23.17"
    assert "proxy-mode" in cluster.facts.values
    assert "kubernetes" not in cluster.facts.values
    assert "not in the dump" in (cluster.evidence["kubernetes"].reason or "")
    assert "lb-source-ranges" not in cluster.facts.values
    assert "not collected" in (cluster.evidence["lb-source-ranges"].reason or "")


def test_a_typed_list_straight_from_the_api_is_read_too() -> None:
    document = {
        "kind": "NodeList",
        "apiVersion": "v1",
        "items": [
            {
                "metadata": {"name": "n1"},
                "status": {
                    "nodeInfo": {
                        "kernelVersion": "5.4.0-150-generic",
                        "osImage": "Ubuntu 20.04.6 LTS",
                    }
                },
            }
        ],
    }
    cluster = cluster_facts(snapshot_from_document(document, "dump"), name="n")
    assert [(n.name, n.kernel) for n in cluster.nodes] == [("n1", "5.4.0-150-generic")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read dump"),
        ("{not json", "is not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"hello": "world"}', "neither a netadvisor dump bundle"),
    ],
)
def test_an_unreadable_dump_is_that_cluster_s_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DumpError, match=message):
        DumpReader(path).read(ReadContext(deadline=time.monotonic() + 5))
    (cluster,) = read_fleet([ClusterTarget("bad", DumpReader(path))])
    assert cluster.status is ClusterStatus.ERROR
    assert message in (cluster.error or "")


def test_two_dumps_of_one_cluster_are_one_cluster_with_an_alias(
    fleet: Fleet, tmp_path: Path
) -> None:
    snapshot = read_snapshot(kubeconfig_reader(str(fleet.kubeconfig), "rke2"))
    for name in ("monday", "tuesday"):
        (tmp_path / f"{name}.json").write_text(json.dumps(bundle_from_snapshot(snapshot)))
    targets = [ClusterTarget(n, DumpReader(tmp_path / f"{n}.json")) for n in ("monday", "tuesday")]
    clusters = read_fleet(targets, concurrency=1)
    assert [(c.name, c.aliases) for c in clusters] == [("monday", ("tuesday",))]
