"""``netadvisor scan`` remembering and telling, ``netadvisor digest`` and ``netadvisor serve``,
run as a person runs them (the command line, and ``serve`` as a real process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.inventory.dumps import demo_bundles
from tests.runner import run
from tests.servers.slack import SlackServer


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}) as server:
        yield server


def fleet_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two clusters of the operator's own (from dump files), one labelled env=prod."""
    bundles = {p.stem: p for p in demo_bundles()}
    config = tmp_path / "config.yaml"
    config.write_text(
        "clusters:\n"
        f"  - name: prod-centos\n    dump: {bundles['demo-prod-centos']}\n"
        "    labels: {env: prod}\n"
        f"  - name: web\n    dump: {bundles['demo-web-ubuntu']}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NETADVISOR_CONFIG", str(config))
    return config


def slack_env(monkeypatch: pytest.MonkeyPatch, slack: SlackServer, channel: bool = True) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    monkeypatch.setenv("NETADVISOR_SLACK_API_URL", slack.url)
    if channel:
        monkeypatch.setenv("NETADVISOR_SLACK_CHANNEL", "C0NET")
        monkeypatch.setenv("NETADVISOR_SLACK_ROUTES", "[{labels: {env: prod}, channel: C0PROD}]")


# ---------------------------------------------------------------------------------------------
# scan


def test_scan_on_a_fresh_machine_prints_new_matches_once_and_keeps_demo_state_apart(
    fresh_machine: Path,
) -> None:
    code, out, err = run("scan")
    assert code == 0
    demo_state = fresh_machine / "state" / "netadvisor" / "demo.db"
    assert f"state: sqlite:///{demo_state}" in err
    assert demo_state.is_file()
    assert not (fresh_machine / "state" / "netadvisor" / "state.db").exists()
    assert "DEMO DATA: printed here, never posted to Slack" in out
    assert "*Why:*" in out
    assert "new." in out.splitlines()[-2] or " new" in out
    code, again, _ = run("scan")
    assert code == 0
    assert "DEMO DATA: printed here" not in again
    assert "Messages: 0 posted, 0 printed, 0 muted" in again


def test_scan_json_gains_change_and_notified_and_prints_messages_on_stderr() -> None:
    code, out, err = run("scan", "--json")
    assert code == 0
    data = json.loads(out)  # standard output holds only the JSON
    results = [r for c in data["clusters"] for r in c["results"]]
    tracked = [r for r in results if r["change"] is not None]
    assert tracked and all(r["change"] == "new" for r in tracked)
    affected = [r for r in tracked if r["verdict"] == "affected"]
    assert affected and all(r["notified"] == "printed" for r in affected)
    assert all(r["notified"] == "skipped" for r in tracked if r["verdict"] == "unknown")
    assert all(r["notified"] is None for r in results if r["change"] is None)
    assert "*Why:*" in err
    assert data["state"]["messages"] == "the terminal (demo data is never posted)"
    _, second, _ = run("scan", "--json")
    assert {r["change"] for c in json.loads(second)["clusters"] for r in c["results"]} == {
        "open",
        None,
    }


def test_scan_dry_run_writes_no_state_and_posts_nothing(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    fleet_config(fresh_machine, monkeypatch)
    slack_env(monkeypatch, slack)
    code, out, err = run("scan", "--json", "--dry-run")
    assert code == 0
    assert not (fresh_machine / "state").exists()
    assert slack.requests() == []
    results = [r for c in json.loads(out)["clusters"] for r in c["results"] if r["change"]]
    assert results and {(r["change"], r["notified"]) for r in results} == {("new", "skipped")}
    assert "dry run" in err


def test_scan_posts_each_new_match_once_to_the_channel_its_labels_choose(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    fleet_config(fresh_machine, monkeypatch)
    slack_env(monkeypatch, slack)
    code, out, err = run("scan", "--json")
    assert code == 0, err
    first = json.loads(out)
    posted = [
        (c["name"], r["id"])
        for c in first["clusters"]
        for r in c["results"]
        if r["notified"] == "posted"
    ]
    assert ("prod-centos", "KP-IPVS-CONN-REUSE") in posted
    assert all(r["notified"] != "printed" for c in first["clusters"] for r in c["results"])
    prod = slack.top_level("C0PROD")
    web = slack.top_level("C0NET")
    # One post per (channel, advisory); here each channel has one cluster.
    assert len(prod) + len(web) == len(posted)
    # Each channel's first message is its baseline.
    assert [len(slack.baselines(c)) for c in ("C0PROD", "C0NET")] == [1, 1]
    assert all("prod-centos" in m["text"] for m in prod)
    assert all("web" in m["text"] for m in web)
    assert f"state: sqlite:///{fresh_machine / 'state' / 'netadvisor' / 'state.db'}" in err
    assert slack.token not in err + out
    code, out, _ = run("scan", "--json")
    assert code == 0
    assert len(slack.requests("chat.postMessage")) == len(posted) + 2
    assert all(
        r["notified"] in (None, "skipped")
        for c in json.loads(out)["clusters"]
        for r in c["results"]
    )


def test_a_token_without_a_channel_prints_with_a_one_line_warning(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    fleet_config(fresh_machine, monkeypatch)
    slack_env(monkeypatch, slack, channel=False)
    code, out, err = run("scan")
    assert code == 0
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "no channel" in warnings[0]
    assert "*Why:*" in out
    assert slack.requests("chat.postMessage") == []


# ---------------------------------------------------------------------------------------------
# digest


def test_digest_posts_one_per_channel_when_slack_is_configured(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    fleet_config(fresh_machine, monkeypatch)
    slack_env(monkeypatch, slack)
    assert run("scan")[0] == 0
    code, out, err = run("digest", "--json")
    assert code == 0, err
    digests = {d["channel"]: d for d in json.loads(out)["digests"]}
    assert set(digests) == {"C0NET", "C0PROD"}
    assert digests["C0PROD"]["open_by_cluster"] == {"prod-centos": len(digests["C0PROD"]["open"])}
    for match in digests["C0PROD"]["open"]:
        # The first digest: every open match is new, and each links to the post that told it.
        assert match["new"] is True and match["muted"] is False
        assert match["message"]["channel"] == "C0PROD" and match["message"]["ts"]
    assert sum(digests["C0PROD"]["open_by_advisory"].values()) == len(digests["C0PROD"]["open"])
    posts = {
        (m["message"]["channel"], m["message"]["ts"])
        for d in digests.values()
        for m in d["open"]
        if m["message"]
    }
    asked = [
        (r.params["channel"], r.params["message_ts"]) for r in slack.requests("chat.getPermalink")
    ]
    assert sorted(asked) == sorted(posts)  # once per post
    texts = [
        m["text"] for m in slack.top_level("C0PROD") if m["text"].startswith("netadvisor digest")
    ]
    assert len(texts) == 1


def test_digest_prints_without_slack_and_says_when_there_is_no_state_yet() -> None:
    code, _, err = run("digest")
    assert code == 1 and "run `netadvisor scan` first" in err
    assert run("scan")[0] == 0
    code, out, _ = run("digest")
    assert code == 0
    assert "netadvisor digest · " in out and "*Open*" in out
    assert "`new`" in out  # the first digest: every open match is new, tagged in the one list
    assert "New" not in out and "By severity" not in out


# ---------------------------------------------------------------------------------------------
# serve


def _serve(env: dict[str, str]) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-c",
        "import sys; from bot.cli import main; sys.exit(main())",
        "serve",
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _port(process: subprocess.Popen[str], lines: list[str], timeout: float = 30) -> int:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if "on port " in line:
            return int(line.split("on port ")[1].split(";")[0])
        if not line and process.poll() is not None:
            break
    raise AssertionError("serve did not start: " + "".join(lines))


def test_serve_scans_at_start_posts_and_stops_cleanly_on_sigterm(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    fleet_config(fresh_machine, monkeypatch)
    slack_env(monkeypatch, slack)
    env = dict(os.environ, NETADVISOR_PORT="0", NETADVISOR_SCAN_INTERVAL="3600")
    process = _serve(env)
    lines: list[str] = []
    try:
        port = _port(process, lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
        slack.wait_for("chat.postMessage", count=2, timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        out, rest = process.communicate(timeout=30)
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert "stopped" in log
    assert slack.token not in log + out
    posts = len(slack.requests("chat.postMessage"))
    assert posts == sum(len(slack.top_level(c, baseline=True)) for c in ("C0NET", "C0PROD"))


def test_a_channel_the_app_is_not_in_exits_3_with_the_fix_and_the_next_scan_counts_the_backlog(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    fleet_config(fresh_machine, monkeypatch)
    slack_env(monkeypatch, slack, channel=False)
    monkeypatch.setenv("NETADVISOR_SLACK_CHANNEL", "#net")
    monkeypatch.setenv("NETADVISOR_SLACK_ROUTES", "[{labels: {env: prod}, channel: '#net-prod'}]")
    # One refusal per channel: a channel that refuses is not tried again in that pass.
    slack.fail("chat.postMessage", error="not_in_channel", times=2)
    code, out, err = run("scan")
    assert code == 3, err
    assert (
        "not delivered, and retrying will not help: baseline message for #net-prod: "
        "chat.postMessage "
        "in #net-prod: not_in_channel: invite the app to #net-prod (/invite @netadvisor in "
        "#net-prod)" in err
    )
    assert "invite the app to #net (/invite @netadvisor in #net)" in err
    assert "Messages: 0 posted, 0 printed, 0 muted" in out
    assert "Not delivered, and retrying will not help: baseline message for #net-prod" in out
    assert slack.top_level("C0PROD") == [] and slack.top_level("C0NET") == []

    # The app was invited: the next scan delivers what the first one queued, and says so.
    code, out, err = run("scan")
    assert code == 0, err
    # Each channel's baseline, then its posts.
    delivered = sum(len(slack.top_level(c, baseline=True)) for c in ("C0PROD", "C0NET"))
    assert delivered > 2
    assert f"Messages: {delivered} posted ({delivered} queued earlier), 0 printed" in out


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("invalid_auth", "reinstall the Slack app and set SLACK_BOT_TOKEN"),
        ("account_inactive", "reinstall the Slack app and set SLACK_BOT_TOKEN"),
        ("channel_not_found", "C0NET does not exist or the app cannot see it"),
    ],
)
def test_permanent_slack_errors_end_the_digest_with_exit_3_and_the_fix(
    fresh_machine: Path,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackServer,
    error: str,
    fix: str,
) -> None:
    fleet_config(fresh_machine, monkeypatch)
    assert run("scan")[0] == 0  # printed: no Slack yet
    slack_env(monkeypatch, slack)
    slack.fail("chat.postMessage", error=error, times=5)
    code, _, err = run("digest")
    assert code == 3, err
    assert "not delivered, and retrying will not help: digest message for C0" in err
    assert f"{error}: " in err and fix in err
    assert slack.token not in err
