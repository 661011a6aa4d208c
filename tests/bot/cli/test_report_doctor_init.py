"""``netadvisor report``, ``doctor`` and ``init`` through the command line, against the fake
Kubernetes, Slack and GitHub servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.settings import load_settings
from tests.runner import run as _run
from tests.servers.github import GitHubAPIServer
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig
from tests.servers.slack import DEFAULT_SCOPES, SlackServer


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME with no configuration, kubeconfig or tokens."""
    for name in (
        "KUBECONFIG",
        "NETADVISOR_CONFIG",
        "SLACK_BOT_TOKEN",
        "GITHUB_TOKEN",
        "NETADVISOR_DATABASE_URL",
        "XDG_CONFIG_HOME",
        "XDG_STATE_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_report_scans_the_demo_fleet_as_a_dry_run_and_writes_one_page(isolated: Path) -> None:
    page = isolated / "fleet.html"
    state = isolated / "state.db"
    code, out, err = _run("report", "--state", f"sqlite:///{state}", str(page))
    assert code == 0, err
    assert out == ""
    assert f"{page}: 4 clusters x 6 advisories that hold somewhere (28 in the catalog)" in err
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert text.count('<tr data-cluster="') == 4
    assert not state.exists()  # a report writes no state


def test_report_from_a_saved_scan_as_markdown_and_png(isolated: Path) -> None:
    state = isolated / "state.db"
    code, scan, err = _run("scan", "--json", "--dry-run", "--state", f"sqlite:///{state}")
    assert code == 0, err
    saved = isolated / "scan.json"
    saved.write_text(scan)
    code, out, err = _run("report", "--from", str(saved), "-o", "markdown")
    assert code == 0, err
    assert out.startswith("**3 of 4 clusters affected**")
    image = isolated / "matrix.png"
    assert _run("report", "--from", str(saved), "-o", "png", str(image))[0] == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_errors_name_the_argument_and_the_field(isolated: Path) -> None:
    code, _, err = _run("report", "-o", "png")
    assert (code, err.strip()) == (
        2,
        "netadvisor: argument FILE: a PNG needs a file name (report -o png matrix.png)",
    )
    bad = isolated / "bad.json"
    bad.write_text(json.dumps({"catalog_version": "1", "clusters": [{"name": "x"}]}))
    code, _, err = _run("report", "--from", str(bad))
    assert code == 1
    assert err.strip() == f"netadvisor: --from {bad}: clusters[0] (x): missing field 'status'"


def test_init_writes_one_cluster_per_context_and_never_overwrites(isolated: Path) -> None:
    kubeconfig = write_kubeconfig(
        isolated / "kubeconfig",
        [("prod-eu", "https://10.0.0.1:6443", "t1"), ("staging", "https://10.0.0.2:6443", "t2")],
    )
    config = isolated / "etc" / "config.yaml"
    code, out, err = _run("init", "--kubeconfig", str(kubeconfig), "--config", str(config))
    assert code == 0, err
    assert out.startswith(f"{config}: 2 clusters from {kubeconfig}.")
    settings = load_settings(str(config), environ={})
    assert [(c.name, c.context) for c in settings.fleet.clusters] == [
        ("prod-eu", "prod-eu"),
        ("staging", "staging"),
    ]
    text = config.read_text()
    assert "# slack-channel:" in text and "# digest-time:" in text
    assert "t1" not in text.replace("staging", "")  # no credentials copied
    code, _, err = _run("init", "--kubeconfig", str(kubeconfig), "--config", str(config))
    assert code == 1
    assert "never overwrites" in err
    assert config.read_text() == text


def test_doctor_names_the_one_missing_permission_and_the_one_missing_scope(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = {"forbidden": [("crd.projectcalico.org", "ippools", "list")]}
    scopes = tuple(s for s in DEFAULT_SCOPES if s != "files:write")
    with (
        KubeAPIServer(scenario, token="kube-s3cret") as kube,
        SlackServer(channels={"C0NET": "net-alerts"}, scopes=scopes) as slack,
        GitHubAPIServer(token="gh-s3cret") as github,
    ):
        kubeconfig = write_kubeconfig(isolated / "kubeconfig", [("prod-eu", kube, "kube-s3cret")])
        config = isolated / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "clusters": [
                        {"name": "prod-eu", "kubeconfig": str(kubeconfig), "context": "prod-eu"}
                    ],
                    "slack-channel": "#net-alerts",
                    "slack-api-url": slack.url,
                    "github-api-url": github.url,
                    "database": f"sqlite:///{isolated / 'state.db'}",
                }
            )
        )
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
        monkeypatch.setenv("GITHUB_TOKEN", "gh-s3cret")
        code, out, err = _run("doctor", "--config", str(config))
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == (
        "2 of 21 checks failed: kubernetes prod-eu: list ippools [crd.projectcalico.org] "
        "(cluster-wide), slack scopes. Fix them, then rerun."
    )
    assert "FAIL  kubernetes  prod-eu: permissions: 12 of 13 inventory needs granted" in lines
    assert "FAIL  slack       scopes: missing files:write (of 9 the manifest asks)" in lines
    assert "ok    slack       channel #net-alerts: bot is a member (C0NET)" in lines
    assert "ok    github      token: accepted" in lines
    assert any(line.startswith("ok    database    sqlite:///") for line in lines)
    for secret in ("kube-s3cret", "gh-s3cret", slack.token):
        assert secret not in out + err


def test_doctor_json_and_a_clean_set_up_exits_0(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with KubeAPIServer({}, token="k") as kube, GitHubAPIServer() as github:
        kubeconfig = write_kubeconfig(isolated / "kubeconfig", [("prod-eu", kube, "k")])
        config = isolated / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "clusters": [
                        {"name": "prod-eu", "kubeconfig": str(kubeconfig), "context": "prod-eu"}
                    ],
                    "github-api-url": github.url,
                    "database": f"sqlite:///{isolated / 'state.db'}",
                }
            )
        )
        code, out, err = _run("doctor", "--config", str(config), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True
    statuses = {(c["area"], c["subject"]): c["status"] for c in data["checks"]}
    assert statuses[("slack", "token")] == "skip"
    assert statuses[("github", "token")] == "warn"
    assert statuses[("kubernetes", "prod-eu: authenticated")] == "ok"
