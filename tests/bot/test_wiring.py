"""One state database for every command, and the configuration's ``mutes:`` applied to it.

``mute`` then ``scan`` then ``mutes`` and ``plan --cluster`` see the same database without any
flag, on the demo fleet, on a configured fleet of dumps, and with ``NETADVISOR_DATABASE_URL``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.settings import load_settings
from bot.wiring import state_database
from jobs.inventory.dumps import demo_bundles
from tests.runner import run

IPVS = "KP-IPVS-CONN-REUSE"


def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    """Two clusters of the operator's own, read from dump files, plus ``extra`` settings."""
    bundles = {p.stem: p for p in demo_bundles()}
    config = tmp_path / "config.yaml"
    config.write_text(
        "clusters:\n"
        f"  - name: prod-centos\n    dump: {bundles['demo-prod-centos']}\n"
        f"  - name: web\n    dump: {bundles['demo-web-ubuntu']}\n" + extra,
        encoding="utf-8",
    )
    monkeypatch.setenv("NETADVISOR_CONFIG", str(config))
    return config


def mutes(*flags: str) -> list[dict[str, object]]:
    code, out, err = run("mutes", "--json", *flags)
    assert code == 0, err
    rows: list[dict[str, object]] = json.loads(out)["mutes"]
    return rows


def notified(scan_json: str, cluster: str, advisory: str = IPVS) -> object:
    data = json.loads(scan_json)
    found = next(c for c in data["clusters"] if c["name"] == cluster)
    return next(r for r in found["results"] if r["id"] == advisory)["notified"]


# ---------------------------------------------------------------------------------------------
# Where


def test_the_flag_then_the_configured_database_then_the_default_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    base = {"HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "xdg")}
    state = tmp_path / "xdg" / "netadvisor"
    plain = load_settings(None, base)
    # Nothing scanned and nothing configured: readers use the demo fleet's file.
    assert state_database(plain).url == f"sqlite:///{state / 'demo.db'}"
    assert state_database(plain, fleet_demo=True).url == f"sqlite:///{state / 'demo.db'}"
    assert state_database(plain, fleet_demo=False).url == f"sqlite:///{state / 'state.db'}"
    assert state_database(plain, "sqlite:////elsewhere.db").url == "sqlite:////elsewhere.db"
    configured = load_settings(None, {**base, "NETADVISOR_DATABASE_URL": "postgresql://db/n"})
    # A configured database is every command's, whatever the fleet guess says ...
    assert state_database(configured).url == "postgresql://db/n"
    assert state_database(configured, fleet_demo=False).url == "postgresql://db/n"
    # ... except a scan of the demo fleet: example clusters never mix with yours.
    assert state_database(configured, fleet_demo=True).demo
    assert state_database(configured, "sqlite:////x.db", fleet_demo=True).url == "sqlite:////x.db"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\n", encoding="utf-8")
    with_kubeconfig = load_settings(None, base)
    assert state_database(with_kubeconfig).url == f"sqlite:///{state / 'state.db'}"
    assert state_database(load_settings(None, {"HOME": str(home)})).url == (
        f"sqlite:///{home / '.local' / 'state' / 'netadvisor' / 'state.db'}"
    )


def test_readers_use_the_demo_file_only_while_no_real_cluster_was_scanned(tmp_path: Path) -> None:
    base = {"HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "xdg")}
    state = tmp_path / "xdg" / "netadvisor"
    state.mkdir(parents=True)
    plain = load_settings(None, base)
    (state / "demo.db").touch()
    assert state_database(plain).demo
    (state / "state.db").touch()
    assert state_database(plain).url == f"sqlite:///{state / 'state.db'}"


def test_after_a_scan_named_on_the_command_line_every_command_sees_its_clusters(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dump = str(next(p for p in demo_bundles() if p.stem == "demo-prod-centos"))
    database = f"sqlite:///{fresh_machine / 'configured.db'}"
    monkeypatch.setenv("NETADVISOR_DATABASE_URL", database)
    assert run("scan", "--dump", dump)[0] == 0
    code, out, err = run("digest")
    assert code == 0, err
    assert "demo-prod-centos" in out and "no state yet" not in err
    assert run("mute", IPVS, "demo-prod-centos", "3", "kernel", "upgrade")[0] == 0
    code, out, _ = run("mutes")
    assert f"{IPVS} on demo-prod-centos" in out
    code, out, err = run("plan", "--cluster", "demo-prod-centos", "--set", "kernel=5.15")
    assert code == 0, err
    code, out, _ = run("ask", "is demo-prod-centos affected?")
    assert code == 0 and "demo-prod-centos" in out
    assert not (fresh_machine / "state" / "netadvisor" / "demo.db").exists()


def test_without_a_configured_database_a_command_line_scan_is_seen_too(fresh_machine: Path) -> None:
    dump = str(next(p for p in demo_bundles() if p.stem == "demo-web-ubuntu"))
    assert run("scan")[0] == 0  # the demo fleet, into demo.db
    assert run("scan", "--dump", dump)[0] == 0  # yours, into state.db
    code, out, err = run("plan", "--cluster", "demo-web-ubuntu", "--set", "kernel=5.15")
    assert code == 0, err
    code, out, err = run("plan", "--cluster", "demo-prod-centos", "--set", "kernel=5.15")
    assert code == 2 and "demo-prod-centos" in err  # demo data never mixes into yours
    code, out, err = run("digest", "--demo", "--dry-run")
    assert code == 0 and "demo-prod-centos" in out


def test_without_a_state_directory_the_error_says_what_to_set() -> None:
    with pytest.raises(Exception, match="XDG_STATE_HOME or HOME"):
        state_database(load_settings(None, {}))


def test_on_the_demo_fleet_mute_scan_mutes_and_plan_share_the_demo_file(
    fresh_machine: Path,
) -> None:
    code, out, _ = run("mute", IPVS, "all", "7", "kernel", "upgrade", "booked")
    assert code == 0, out
    code, out, err = run("scan", "--json")
    assert code == 0
    demo = fresh_machine / "state" / "netadvisor" / "demo.db"
    assert f"state: sqlite:///{demo}" in err
    assert not (fresh_machine / "state" / "netadvisor" / "state.db").exists()
    assert notified(out, "demo-prod-centos") == "muted"
    [row] = mutes()
    assert (row["advisory"], row["cluster"], row["reason"], row["source"]) == (
        IPVS,
        "all",
        "kernel upgrade booked",
        "people",
    )
    assert run("mute", "SP-3118", "demo-edge-rke2", "3", "lab")[0] == 0
    assert [r["cluster"] for r in mutes()] == ["all", "demo-edge-rke2"]
    code, out, err = run("plan", "--cluster", "demo-prod-centos", "--set", "kernel=5.15", "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["cluster"] == "demo-prod-centos" and plan["read_at"]
    assert IPVS in [entry["id"] for entry in plan["resolved"]]
    code, out, _ = run("ask", "is demo-prod-centos affected by the ipvs 1 second delay?", "--json")
    assert code == 0 and json.loads(out)["verdict"] != "not_understood"


def test_on_a_configured_fleet_of_dumps_every_command_uses_state_db(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(fresh_machine, monkeypatch)
    # A configured cluster can be muted by name before its first scan.
    assert run("mute", IPVS, "prod-centos", "7", "booked")[0] == 0
    code, out, err = run("scan", "--json")
    assert code == 0
    state = fresh_machine / "state" / "netadvisor" / "state.db"
    assert f"state: sqlite:///{state}" in err
    assert not (fresh_machine / "state" / "netadvisor" / "demo.db").exists()
    assert notified(out, "prod-centos") == "muted"
    assert [(r["cluster"], r["cluster_uid"]) for r in mutes()] == [("prod-centos", None)]
    code, out, err = run("plan", "--cluster", "prod-centos", "--safe", "--json")
    assert code == 0, err
    assert "targets" in json.loads(out)
    code, _, err = run("plan", "--cluster", "nowhere", "--safe")
    assert code == 2 and "nowhere" in err and "prod-centos" in err
    code, _, err = run("mute", IPVS, "nowhere", "7", "typo")
    assert code == 2 and "prod-centos" in err and "web" in err


def test_the_database_setting_moves_every_command_together(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = fresh_machine / "shared" / "netadvisor.db"
    configure(fresh_machine, monkeypatch, f"database: sqlite:///{elsewhere}\n")
    assert run("scan")[0] == 0
    assert run("mute", IPVS, "web", "2", "known")[0] == 0
    assert elsewhere.is_file()
    assert not (fresh_machine / "state" / "netadvisor").exists()
    assert [r["cluster"] for r in mutes()] == ["web"]
    assert run("plan", "--cluster", "web", "--set", "kernel=6.1")[0] == 0
    code, _, err = run("digest", "--dry-run")
    assert code == 0 and f"sqlite:///{elsewhere}" in err
    code, _, err = run("upstream", "show", "--offline", IPVS)
    assert code == 0, err
    # The flag overrides, through the same function.
    other = fresh_machine / "other.db"
    assert mutes("--state", f"sqlite:///{other}") == []


# ---------------------------------------------------------------------------------------------
# mutes: in the configuration file


def test_config_mutes_are_applied_by_scan_shown_marked_and_not_liftable(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        fresh_machine,
        monkeypatch,
        "mutes:\n"
        f"  - {{advisory: {IPVS}, cluster: prod-centos, reason: kernel upgrade in Q1,"
        " expires: 2099-01-01}\n",
    )
    code, out, err = run("scan", "--json")
    assert code == 0
    assert "mutes from the configuration: 1 added, 0 lifted, 0 unchanged" in err
    assert notified(out, "prod-centos") == "muted"
    [row] = mutes()
    assert (row["cluster"], row["source"], row["expires_at"]) == (
        "prod-centos",
        "config",
        "2099-01-01T00:00:00+00:00",
    )
    code, out, _ = run("mutes")
    assert "from the configuration file" in out
    code, _, err = run("unmute", str(row["id"]))
    assert code == 2
    assert "configuration file" in err and "cannot be lifted" in err
    assert len(mutes()) == 1
    # A second scan keeps it as it is; removing it from the file lifts it, and the match,
    # untold so far, is told at that scan.
    code, _, err = run("scan")
    assert "mutes from the configuration" not in err
    config.write_text(config.read_text(encoding="utf-8").split("mutes:")[0], encoding="utf-8")
    code, out, err = run("scan", "--json")
    assert "mutes from the configuration: 0 added, 1 lifted, 0 unchanged" in err
    assert notified(out, "prod-centos") == "printed"
    assert mutes() == []
    assert [r["lifted_at"] is not None for r in mutes("--all")] == [True]


def test_a_config_mute_naming_an_unknown_advisory_stops_the_scan_naming_file_and_field(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = configure(
        fresh_machine,
        monkeypatch,
        "mutes:\n  - {advisory: KP-NOPE, cluster: all, reason: x, days: 3}\n",
    )
    code, _, err = run("scan")
    assert code == 2
    assert f"{config}: mutes[0].advisory: unknown advisory 'KP-NOPE'" in err


def test_the_digest_applies_config_mutes_and_lists_them_when_they_expire_soon(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(fresh_machine, monkeypatch)
    assert run("scan")[0] == 0
    configure(
        fresh_machine,
        monkeypatch,
        f"mutes:\n  - {{advisory: {IPVS}, cluster: web, reason: rebooting Friday, days: 2}}\n",
    )
    code, out, err = run("digest", "--json")
    assert code == 0, err
    assert "mutes from the configuration: 1 added" in err
    [digest] = json.loads(out)["digests"]
    assert [(m["scope"], m["reason"]) for m in digest["expiring_mutes"]] == [
        (f"{IPVS} on web (configuration file)", "rebooting Friday")
    ]


def test_serve_applies_config_mutes_at_start(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(
        fresh_machine,
        monkeypatch,
        "mutes:\n  - {advisory: all, cluster: all, reason: change freeze, days: 1}\n",
    )
    env = dict(os.environ, NETADVISOR_PORT="0", NETADVISOR_SCAN_INTERVAL="3600")
    command = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
    process = subprocess.Popen(
        [*command, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("serving:" in line for line in lines):
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
            lines.append(line)
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert "mutes from the configuration: 1 added" in log
    assert [(r["advisory"], r["cluster"], r["source"]) for r in mutes()] == [
        ("all", "all", "config")
    ]
