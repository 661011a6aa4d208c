"""Upstream tracking's results reach people, from the command line as a person runs it:
``upstream sync`` posts its news right away to the channels of the clusters it concerns (once),
``plan --safe`` takes upstream's fixes where the catalog knows none (labelled), and ``serve``
syncs before the daily digest.

Slack is the Web API server of :mod:`tests.servers.slack`, GitHub the API server of
:mod:`tests.servers.github`; the fleet is two dump files with labels, and a local catalog
directory adds an advisory whose range is still open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import load_settings
from jobs.inventory.dumps import demo_bundles
from jobs.schedule import Scheduler, earlier
from tests.jobs.upstream_support import TOKEN, build_kubernetes
from tests.runner import run
from tests.servers.github import FakeRepo, GitHubAPIServer
from tests.servers.slack import SlackServer

OPEN_RANGE = """\
id: TEST-KP-OPEN
title: "iptables mode: endpoint rules lag behind on 1.29"
component: kube-proxy
decided_by: component-bug
summary: A local advisory; the catalog knows no fixed release on 1.29 yet.
recommendation: {en: "No fixed release is known; watch kubernetes/kubernetes#122204."}
references:
  - {type: FIX, url: "https://github.com/kubernetes/kubernetes/pull/122204"}
cases:
  - id: lag
    affected: true
    severity: high
    when:
      proxy-mode: [iptables]
      kube-proxy:
        - introduced: "1.29.0"
    impact: {en: "Service endpoint rules are updated late."}
"""


@dataclass
class Setup:
    slack: SlackServer
    github: GitHubAPIServer
    k8s: FakeRepo
    catalog: Path

    def run(self, *argv: str) -> tuple[int, str, str]:
        return run("--catalog-dir", str(self.catalog), *argv)

    def news_posts(self, channel: str) -> list[str]:
        return [m["text"] for m in self.slack.top_level(channel) if m["text"].startswith("Upstr")]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    # The environment is a fresh machine's (tests/conftest.py); this adds the configuration.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    bundles = {p.stem: p for p in demo_bundles()}
    config = tmp_path / "config.yaml"
    config.write_text(
        "clusters:\n"
        f"  - name: eks\n    dump: {bundles['demo-eks']}\n"
        f"  - name: prod-centos\n    dump: {bundles['demo-prod-centos']}\n"
        "    labels: {env: prod}\n",
        encoding="utf-8",
    )
    catalog = tmp_path / "local-catalog" / "kube-proxy"
    catalog.mkdir(parents=True)
    (catalog / "TEST-KP-OPEN.yaml").write_text(OPEN_RANGE, encoding="utf-8")
    monkeypatch.setenv("NETADVISOR_CONFIG", str(config))
    with (
        SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}) as slack,
        GitHubAPIServer(token=TOKEN) as github,
    ):
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
        monkeypatch.setenv("NETADVISOR_SLACK_API_URL", slack.url)
        monkeypatch.setenv("NETADVISOR_SLACK_CHANNEL", "C0NET")
        monkeypatch.setenv("NETADVISOR_SLACK_ROUTES", "[{labels: {env: prod}, channel: C0PROD}]")
        monkeypatch.setenv("NETADVISOR_GITHUB_API_URL", github.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        k8s = build_kubernetes(github)
        k8s.pull(
            122900,
            "Automated cherry pick of #122204: Fix race condition in iptables partial sync "
            "handling",
            base="release-1.26",
        )
        yield Setup(slack, github, k8s, catalog.parent)


def test_upstream_sync_posts_its_news_once_to_the_channels_of_the_affected_clusters(
    setup: Setup,
) -> None:
    code, out, err = setup.run("scan", "--json")
    assert code == 0, err
    eks = next(c for c in json.loads(out)["clusters"] if c["name"] == "eks")
    [open_range] = [r for r in eks["results"] if r["id"] == "TEST-KP-OPEN"]
    assert (open_range["verdict"], open_range["notified"]) == ("affected", "posted")
    assert setup.news_posts("C0NET") == []

    # First sync: the baseline, and two disagreements with the catalog (upstream's v1.29.2 and
    # v1.30.0 are in the catalog's open range): news for the catalog's maintainers and for eks.
    code, out, err = setup.run("upstream", "sync")
    assert code == 0, err
    first = setup.news_posts("C0NET")
    assert len(first) == 2 and all("TEST-KP-OPEN" in t for t in first)
    assert any("upstream reports v1.29.2 on the 1.29 line" in t for t in first)
    assert setup.news_posts("C0PROD") == []  # prod-centos runs IPVS: not concerned
    assert "upstream news: 2 message(s) posted to C0NET" in err

    # A cherry-pick is released in a new tag: news once.
    setup.k8s.commit("release-1.26", "Release commit for Kubernetes v1.26.15")
    setup.k8s.tag("v1.26.15", "release-1.26")
    code, out, err = setup.run("upstream", "sync")
    assert code == 0, err
    [released] = setup.news_posts("C0NET")[2:]
    assert "fix released in v1.26.15 on the 1.26 line (via cherry-pick #122900)" in released
    posts = len(setup.slack.requests("chat.postMessage"))
    assert setup.run("upstream", "sync")[0] == 0
    assert len(setup.slack.requests("chat.postMessage")) == posts
    assert TOKEN not in out + err and setup.slack.token not in out + err

    # And into the digest of the channel.
    code, out, err = setup.run("digest", "--json")
    assert code == 0, err
    net = next(d for d in json.loads(out)["digests"] if d["channel"] == "C0NET")
    assert any("v1.26.15" in n["text"] for n in net["upstream"])


def test_plan_safe_takes_upstreams_fix_where_the_catalog_range_is_open(setup: Setup) -> None:
    assert setup.run("scan")[0] == 0
    code, out, err = setup.run("plan", "--cluster", "eks", "--safe", "--json")
    assert code == 0, err
    before = json.loads(out)["targets"]["kube-proxy"]
    assert before["version"] is None and "TEST-KP-OPEN" in before["blocking"]
    assert setup.run("upstream", "sync")[0] == 0
    code, out, err = setup.run("plan", "--cluster", "eks", "--safe", "--json")
    assert code == 0, err
    target = json.loads(out)["targets"]["kube-proxy"]
    # kube-proxy v1.29.3 is at or above upstream's first fixed tag of its line (v1.29.2).
    assert (target["version"], target["line"]) == ("1.29.3", "1.29")
    assert target["source"] == "upstream" and target["label"] == "from upstream, not curated"
    assert target["upstream"] == {"TEST-KP-OPEN": "v1.29.2 per kubernetes/kubernetes#122756"}
    code, out, _ = setup.run("plan", "--cluster", "eks", "--safe")
    assert "1.29.3 (line 1.29)" in out and "from upstream, not curated" in out


def test_serve_syncs_upstream_half_an_hour_before_the_daily_digest(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.service import UPSTREAM_LEAD, schedule_jobs

    monkeypatch.setenv("NETADVISOR_DIGEST_TIME", "00:10")
    monkeypatch.setenv("NETADVISOR_TIMEZONE", "Asia/Shanghai")
    settings = load_settings()
    scheduler = Scheduler(timezone=settings.schedule.timezone)
    schedule_jobs(
        scheduler, settings, scan=lambda: None, digest=lambda: None, upstream=lambda: None
    )
    scheduler.start()
    try:
        digest, upstream = scheduler.next_run("digest"), scheduler.next_run("upstream")
    finally:
        scheduler.shutdown()
    assert isinstance(digest, datetime) and isinstance(upstream, datetime)
    assert f"{digest:%H:%M}" == "00:10" and f"{upstream:%H:%M}" == "23:40"
    assert (digest - upstream) % timedelta(days=1) == UPSTREAM_LEAD == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("at", "minutes", "expected"),
    [("09:00", 30, "08:30"), ("00:10", 30, "23:40"), ("00:30", 30, "00:00"), ("23:59", 0, "23:59")],
)
def test_earlier_is_the_wall_clock_time_before_across_midnight(
    at: str, minutes: int, expected: str
) -> None:
    assert earlier(at, minutes) == expected
