"""``netadvisor inventory`` and ``netadvisor scan`` as users run them."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from advisories.catalog import load_catalog
from tests.jobs.inventory.conftest import Fleet, closed_port_url, new_token
from tests.jobs.inventory.scenarios import SCENARIOS
from tests.runner import run
from tests.servers.kubeapi import KubeAPIServer, exec_plugin, write_kubeconfig

INVENTORY_KEYS = {
    "name",
    "uid",
    "status",
    "error",
    "kubernetes_version",
    "proxy_mode",
    "calico",
    "spiderpool",
    "kube_proxy",
    "features",
    "nodes",
    "demo",
    "aliases",
    "labels",
    "facts",
    "evidence",
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_with_nothing_configured_the_demo_fleet_is_scanned_and_labelled_as_demo() -> None:
    code, out, err = run("scan")
    assert code == 0
    assert "bundled DEMO fleet" in err
    assert out.startswith("DEMO DATA:")
    assert "== demo-prod-centos [DEMO DATA]" in out
    assert "KP-IPVS-CONN-REUSE" in out
    code, out, _ = run("scan", "--json")
    data = json.loads(out)
    assert data["demo"] is True
    assert {c["name"] for c in data["clusters"]} == {
        "demo-edge-rke2",
        "demo-eks",
        "demo-prod-centos",
        "demo-web-ubuntu",
    }
    assert all(c["demo"] for c in data["clusters"])


def test_inventory_json_is_one_object_with_the_documented_fields(fleet: Fleet) -> None:
    code, out, err = run("inventory", "--json", "--kubeconfig", str(fleet.kubeconfig))
    assert code == 0
    assert (
        f"reading {len(SCENARIOS)} clusters from the command line: kubeconfig {fleet.kubeconfig}"
        in err
    )
    data = json.loads(out)
    clusters = {c["name"]: c for c in data["clusters"]}
    assert set(clusters) == set(SCENARIOS)
    centos = clusters["centos"]
    assert set(centos) >= INVENTORY_KEYS
    assert centos["status"] == "ok" and centos["error"] is None
    assert centos["kubernetes_version"] == "v1.23.17"
    assert centos["proxy_mode"] == "ipvs"
    assert centos["calico"]["installed"] is True and centos["calico"]["version"] == "v3.19.1"
    assert centos["calico"]["encapsulation"] == "vxlan"
    assert centos["spiderpool"] == {"installed": False, "version": None}
    assert centos["features"]["externalips-etp-local"] is True
    assert centos["nodes"][0] == {
        "name": "centos-cp-0",
        "roles": ["control-plane"],
        "kernel": "3.10.0-1160.el7.x86_64",
        "os_image": "CentOS Linux 7 (Core)",
        "kubelet_version": "v1.23.17",
        "container_runtime": "docker://20.10.24",
        "architecture": None,
    }
    forbidden = clusters["forbidden"]
    assert forbidden["calico"]["encapsulation"] is None
    assert forbidden["evidence"]["calico-encapsulation"]["reason"].startswith("IPPools: forbidden")
    assert clusters["rke2"]["spiderpool"]["version"] == "v0.9.3"


def test_scan_json_has_one_result_per_advisory_with_the_affected_nodes(fleet: Fleet) -> None:
    code, out, _ = run(
        "scan",
        "--json",
        "--kubeconfig",
        str(fleet.kubeconfig),
        "--context",
        "centos",
        "--context",
        "forbidden",
    )
    assert code == 0
    data = json.loads(out)
    catalog = load_catalog()
    assert data["catalog_version"] == catalog.version
    clusters = {c["name"]: c for c in data["clusters"]}
    assert set(clusters) == {"centos", "forbidden"}
    centos = clusters["centos"]
    assert {"name", "uid", "status", "results"} <= set(centos)
    assert [r["id"] for r in centos["results"]] == [a.id for a in catalog.advisories]
    ipvs = next(r for r in centos["results"] if r["id"] == "KP-IPVS-CONN-REUSE")
    assert ipvs["verdict"] == "affected"
    assert ipvs["nodes"] == ["centos-cp-0", "centos-worker-1", "centos-worker-2", "centos-worker-3"]
    assert ipvs["impact"]
    backend = next(r for r in clusters["forbidden"]["results"] if r["id"] == "CALICO-IPIP-CHECKSUM")
    assert backend["verdict"] == "unknown"
    assert backend["depends_on"] == ["calico-encapsulation"]
    assert backend["depends_text"].startswith("affected if calico-encapsulation")


def test_scan_prints_affected_advisories_per_cluster_with_nodes(fleet: Fleet) -> None:
    code, out, _ = run("scan", "--kubeconfig", str(fleet.kubeconfig), "--context", "ubuntu")
    assert code == 0
    assert "== ubuntu - ok - 3 nodes" in out
    assert "AFFECTED  KP-NFT-LB-SOURCE-RANGES" in out
    assert "nodes: ubuntu-cp-0, ubuntu-worker-1, ubuntu-worker-2" in out
    assert "1 of 1 clusters read" in out


def test_exit_codes_say_whether_anything_was_read(fleet: Fleet, tmp_path: Path) -> None:
    dead = write_kubeconfig(tmp_path / "dead.yaml", [("gone", closed_port_url(), "t")])
    code, out, err = run("inventory", "--kubeconfig", str(dead))
    assert code == 1
    assert "== gone - unreachable" in out and "no cluster could be read" in err
    code, _, _ = run(
        "inventory",
        "--kubeconfig",
        str(dead),
        "--kubeconfig",
        str(fleet.kubeconfig),
        "--context",
        "gone",
        "--context",
        "eks",
    )
    assert code == 0
    assert (
        run(
            "scan",
            "--kubeconfig",
            str(fleet.kubeconfig),
            "--context",
            "eks",
            "--fail-on",
            "affected",
        )[0]
        == 0
    )
    assert (
        run(
            "scan",
            "--kubeconfig",
            str(fleet.kubeconfig),
            "--context",
            "centos",
            "--fail-on",
            "affected",
        )[0]
        == 1
    )


def test_a_cluster_behind_a_sign_in_page_is_unreadable_and_records_nothing(
    tmp_path: Path,
) -> None:
    token = new_token()
    scenario = SCENARIOS["centos"]()
    state = f"sqlite:///{tmp_path / 'state.db'}"
    with KubeAPIServer(scenario, token=token) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("prod", server, token)])
        argv = ("scan", "--json", "--kubeconfig", str(kubeconfig), "--state", state)
        code, out, _ = run(*argv)
        assert code == 0
        before = json.loads(out)["clusters"][0]
        assert before["status"] == "ok" and before["uid"]
        opened = {r["id"] for r in before["results"] if r.get("change") == "new"}
        assert opened

        server.update_scenario(faults={"*": "redirect https://sso.example.com/oauth2/start"})
        code, out, err = run(*argv)
        assert code == 1
        assert "no cluster could be read" in err
        (cluster,) = json.loads(out)["clusters"]
        assert cluster["status"] == "error"
        assert cluster["error"].startswith(
            "redirected to https://sso.example.com/oauth2/start: an authenticating proxy?"
        )
        changes = {r["id"]: r.get("change") for r in cluster["results"]}
        assert "new" not in changes.values() and "resolved" not in changes.values()

        server.update_scenario(faults={})
        code, out, _ = run(*argv)
        assert code == 0
        after = json.loads(out)["clusters"][0]
        assert after["uid"] == before["uid"]
        assert not [r for r in after["results"] if r.get("change") in ("new", "resolved")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inventory", "--timeout", "soon"], "argument --timeout: must be a number of seconds"),
        (["inventory", "--concurrency", "0"], "argument --concurrency: must be a whole number"),
        (["scan", "--fail-on", "sometimes"], "argument --fail-on: invalid choice"),
        (["inventory", "--kubeconfig", "/nonexistent/kc.yaml"], "cannot read kubeconfig"),
    ],
)
def test_usage_errors_exit_2_and_name_the_argument(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert message in err
    assert out == ""


def test_an_unknown_context_and_two_clusters_with_one_name_are_usage_errors(
    fleet: Fleet, tmp_path: Path
) -> None:
    code, _, err = run("inventory", "--kubeconfig", str(fleet.kubeconfig), "--context", "nope")
    assert code == 2 and "no context 'nope'" in err
    other = write_kubeconfig(
        tmp_path / "other.yaml", [("centos", fleet.servers["rke2"], fleet.tokens["rke2"])]
    )
    code, _, err = run(
        "inventory",
        "--kubeconfig",
        str(fleet.kubeconfig),
        "--kubeconfig",
        str(other),
        "--context",
        "centos",
    )
    assert code == 2
    assert "two clusters are named 'centos'" in err and str(other) in err


def test_a_bad_configuration_file_is_a_usage_error_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("clusters:\n  - name: a\n    dump: x.json\n    overrides: {kernel: old}\n")
    code, _, err = run("inventory", "--config", str(path))
    assert code == 2
    assert f"{path}: clusters[0].overrides.kernel: cannot read 'old' as a kernel" in err


def test_the_configuration_names_clusters_labels_them_and_overrides_facts(
    fleet: Fleet, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"""\
clusters:
  - name: payments-prod
    kubeconfig: {fleet.kubeconfig}
    context: eks
    labels: {{env: prod}}
    overrides: {{proxy-mode: iptables, host-iptables-mode: legacy}}
""")
    code, out, err = run("inventory", "--json", "--config", str(config))
    assert code == 0
    assert f"from the configuration file {config}" in err
    (cluster,) = json.loads(out)["clusters"]
    assert cluster["name"] == "payments-prod" and cluster["labels"] == {"env": "prod"}
    assert cluster["proxy_mode"] == "iptables"
    assert cluster["evidence"]["proxy-mode"]["object"] == "configuration override"
    assert cluster["facts"]["host-iptables-mode"]["value"] == ["legacy"]
    code, out, _ = run("inventory", "--config", str(config))
    assert "labels: env=prod" in out and "from the configuration: proxy-mode" in out


def test_every_context_of_kubeconfig_is_read_when_nothing_else_is_configured(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(fleet.kubeconfig))
    code, out, err = run("inventory", "--json")
    assert code == 0
    assert f"kubeconfig {fleet.kubeconfig} (every context)" in err
    assert len(json.loads(out)["clusters"]) == len(SCENARIOS)


def test_dumps_are_read_from_the_command_line(fleet: Fleet, tmp_path: Path) -> None:
    code, out, _ = run("inventory", "--print-dump-command")
    assert code == 0 and out.startswith("#!/bin/sh\n")
    from jobs.inventory.dumps import demo_bundles

    path = demo_bundles()[0]
    code, out, err = run("inventory", "--json", "--dump", str(path))
    assert code == 0 and "1 dump file" in err
    assert json.loads(out)["clusters"][0]["name"] == path.stem


def test_progress_is_shown_on_a_terminal_only(fleet: Fleet) -> None:
    args = ("inventory", "--kubeconfig", str(fleet.kubeconfig), "--context", "eks")
    _, _, plain = run(*args)
    assert "\r" not in plain
    terminal = Terminal()
    run(*args, err=terminal)
    assert "\r[" in terminal.getvalue() and "1/1 eks" in terminal.getvalue()


def test_the_cluster_timeout_setting_bounds_each_cluster(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with KubeAPIServer({"hang": True}, token="t") as hung:
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("hung", hung, "t")])
        monkeypatch.setenv("NETADVISOR_CLUSTER_TIMEOUT", "1")
        started = time.monotonic()
        code, out, _ = run("inventory", "--json", "--kubeconfig", str(kubeconfig))
        assert time.monotonic() - started < 3
    assert code == 1
    (cluster,) = json.loads(out)["clusters"]
    assert cluster["status"] == "timeout"
    assert cluster["error"] == "no answer within 1 s (while GET /version)"


def test_no_credential_ever_appears_in_the_output(fleet: Fleet, tmp_path: Path) -> None:
    wrong = new_token()
    failing = exec_plugin(tmp_path / "fail.py", new_token(), exit_code=1)
    extra = write_kubeconfig(
        tmp_path / "extra.yaml",
        [
            ("wrong-token", fleet.servers["centos"], wrong),
            ("failing-plugin", fleet.servers["eks"], failing),
            ("refused", closed_port_url(), new_token()),
        ],
    )
    secrets = [*fleet.secrets(), wrong]
    outputs: list[str] = []
    for command in (["inventory"], ["inventory", "--json"], ["scan"], ["scan", "--json"]):
        code, out, err = run(
            *command, "--kubeconfig", str(fleet.kubeconfig), "--kubeconfig", str(extra)
        )
        assert code == 0
        outputs += [out, err]
    text = "\n".join(outputs)
    assert "rejected the credentials (401" in text
    assert "exec credential plugin failed" in text
    for secret in secrets:
        assert secret not in text
        assert secret[4:20] not in text


def test_in_a_pod_the_cluster_it_runs_in_is_read_with_its_service_account(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.settings.load

    server = fleet.servers["rke2"]
    # The pod's service account directory, as the kubelet mounts it: token and ca.crt.
    token = tmp_path / "token"
    token.write_text(fleet.tokens["rke2"])
    (tmp_path / "ca.crt").write_bytes(server.ca_file.read_bytes())
    monkeypatch.setattr(bot.settings.load, "SERVICE_ACCOUNT_TOKEN", token)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    code, out, err = run("inventory", "--json")
    assert code == 0
    assert "reading 1 cluster from the in-cluster service account" in err
    (cluster,) = json.loads(out)["clusters"]
    assert (cluster["name"], cluster["status"]) == ("in-cluster", "ok")
    assert cluster["spiderpool"]["version"] == "v0.9.3"


def test_inventory_prints_versions_modes_nodes_and_why_facts_are_unknown(fleet: Fleet) -> None:
    code, out, _ = run(
        "inventory",
        "--kubeconfig",
        str(fleet.kubeconfig),
        "--context",
        "forbidden",
        "--context",
        "rke2",
    )
    assert code == 0
    assert "Kubernetes v1.27.16   kube-proxy v1.27.16 mode iptables" in out
    assert "Calico v3.26.1   encapsulation unknown   iptables backend unknown" in out
    assert "unknown calico-encapsulation: IPPools: forbidden (ippools.crd.projectcalico.org" in out
    assert "Spiderpool v0.9.3" in out
    assert "features on: rke2 (v1.28.10+rke2r1)" in out
    assert "Rocky Linux 8.8 (Green Obsidian)" in out and "locked-cp-0, locked-worker-1" in out
