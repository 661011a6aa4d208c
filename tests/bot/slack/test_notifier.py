"""Posting through the real slack_sdk WebClient to a Slack Web API server on 127.0.0.1:
each match posted once whatever fails, edits in place, replies in threads, Slack's limits kept."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from advisories.fleet import ClusterFacts
from bot.slack.blocks import MAX_BLOCKS, MAX_SECTION
from bot.slack.notifier import EVENT_TYPE, SlackNotifier, make_client
from bot.terminal.notifier import TerminalNotifier
from jobs.changes import Change, Notified
from jobs.notices import (
    ClusterRef,
    MatchNotice,
    MatchSnapshot,
    MessageRef,
    NodeGroupSummary,
    NoticeKind,
)
from jobs.notify import NotDelivered, Posted, Route, Routing, Step
from jobs.store import IntentState, Store
from jobs.tracker import ScanReport, Tracker
from tests.servers.slack import SlackServer
from tests.state_databases import database_url
from tests.tracked_fleet import IPVS, catalog, cluster, scan

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
GOLDEN = Path(__file__).parents[1] / "golden"


class Killed(BaseException):
    """The process dies right after Slack stored the message."""


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}) as server:
        yield server


def told_before(store: Store, *channels: str) -> None:
    """The channels already had netadvisor's digests: no baseline goes first (the failures
    these tests queue are for the match posts; tests/bot/slack/test_fleet_posts.py covers the
    baseline)."""

    def work(tx: Any) -> None:
        for channel in channels:
            tx.set_last_digest(channel, NOW - 24 * HOUR)

    store.run(work)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with database_url("sqlite", tmp_path) as url, Store.open(url) as opened:
        told_before(opened, "#net", "#net-prod")
        yield opened


def notifier(slack: SlackServer, token: str | None = None) -> SlackNotifier:
    return SlackNotifier(make_client(token or slack.token, base_url=slack.url))


def tracker(
    store: Store, slack: SlackServer, routing: Routing | None = None, chat: Any = None
) -> Tracker:
    console = TerminalNotifier(io.StringIO())
    return Tracker(store, chat or notifier(slack), console, routing or Routing("#net"))


def run(t: Tracker, *clusters: ClusterFacts, at: datetime = NOW) -> ScanReport:
    return t.record(scan(*clusters), at, source="test", catalog_version=catalog().version)


def outcome(report: ScanReport, name: str = "prod-1") -> tuple[object, object]:
    found = report.clusters[name].matches[IPVS]
    return found.change, found.notified


def ipvs_posts(slack: SlackServer, channel: str = "C0NET") -> list[dict[str, Any]]:
    return [m for m in slack.top_level(channel) if IPVS in m["text"]]


def test_a_new_match_is_posted_once_with_its_marker_and_why_it_was_posted(
    store: Store, slack: SlackServer
) -> None:
    t = tracker(store, slack)
    first = run(t, cluster())
    second = run(t, cluster(), at=NOW + HOUR)
    assert outcome(first) == (Change.NEW, Notified.POSTED)
    assert outcome(second) == (Change.OPEN, Notified.SKIPPED)
    posts = slack.requests("chat.postMessage")
    assert len(posts) == 1
    body = posts[0].params
    assert body["channel"] == "#net"
    assert body["metadata"]["event_type"] == EVENT_TYPE
    assert body["metadata"]["event_payload"]["marker"].endswith("/0")
    assert posts[0].authorization == f"Bearer {slack.token}"
    text = json.dumps(body["blocks"])
    for needle in (
        "prod-1",
        "uid-prod-1",
        catalog().version,
        "5.4.0-150-generic",
        "ipvs",
        "v1.28.3",
        "Do this",
        "```",
    ):
        assert needle in text, needle
    # What a lock screen shows: the cluster first, then the consequence and the severity.
    assert body["text"].startswith("prod-1: IPVS mode") and "HIGH" in body["text"]
    with store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
    assert match is not None and match.message is not None
    assert match.message.channel == "C0NET"  # the ID Slack answered with, not "#net"
    assert match.message.ts == ipvs_posts(slack)[0]["ts"]


def test_a_429_is_retried_after_the_retry_after_slack_gives(
    store: Store, slack: SlackServer
) -> None:
    slack.fail("chat.postMessage", status=429, error="ratelimited", retry_after=1)
    started = time.monotonic()
    report = run(tracker(store, slack), cluster())
    assert time.monotonic() - started >= 1.0
    assert outcome(report) == (Change.NEW, Notified.POSTED)
    assert len(slack.requests("chat.postMessage")) == 2
    assert len(ipvs_posts(slack)) == 1


def test_a_500_after_slack_stored_the_message_is_found_by_its_metadata_not_posted_again(
    store: Store, slack: SlackServer
) -> None:
    slack.fail("chat.postMessage", status=500, store=True)
    t = tracker(store, slack)
    first = run(t, cluster())
    assert outcome(first) == (Change.NEW, Notified.SKIPPED)
    assert "HTTP 500" in first.delivery.errors[0]
    second = run(t, cluster(), at=NOW + HOUR)
    assert second.delivery.pending == 0
    assert len(slack.requests("chat.postMessage")) == 1
    history = slack.requests("conversations.history")
    assert len(history) == 1
    assert history[0].params["channel"] == "C0NET"
    assert history[0].params["include_all_metadata"] in (True, "1", "true")
    with store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
    assert match is not None and match.message is not None
    assert match.message.ts == ipvs_posts(slack)[0]["ts"]


def test_a_500_before_slack_stored_anything_is_posted_after_looking(
    store: Store, slack: SlackServer
) -> None:
    slack.fail("chat.postMessage", status=503, error="service_unavailable")
    t = tracker(store, slack)
    run(t, cluster())
    assert ipvs_posts(slack) == []
    run(t, cluster(), at=NOW + HOUR)
    assert len(slack.requests("conversations.history")) == 1
    assert len(ipvs_posts(slack)) == 1


def test_a_dropped_connection_is_not_retried_blindly(store: Store, slack: SlackServer) -> None:
    slack.fail("chat.postMessage", drop=True, store=True)
    t = tracker(store, slack)
    first = run(t, cluster())
    assert len(slack.requests("chat.postMessage")) == 1  # no automatic retry
    assert first.delivery.errors and "connection failed" in first.delivery.errors[0]
    run(t, cluster(), at=NOW + HOUR)
    assert len(slack.requests("chat.postMessage")) == 1
    assert len(ipvs_posts(slack)) == 1


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_a_refused_post_is_reported_and_retried_on_the_next_scan(
    store: Store, slack: SlackServer, error: str
) -> None:
    slack.fail("chat.postMessage", error=error)
    t = tracker(store, slack)
    first = run(t, cluster())
    assert outcome(first) == (Change.NEW, Notified.SKIPPED)
    assert error in first.delivery.errors[0]
    second = run(t, cluster(), at=NOW + HOUR)
    assert slack.requests("conversations.history") == []  # refused: known not to exist
    assert second.delivery.pending == 0
    assert len(ipvs_posts(slack)) == 1


def test_a_process_killed_between_post_and_record_does_not_duplicate(
    tmp_path: Path, slack: SlackServer
) -> None:
    real = notifier(slack)

    class DiesAfterPosting:
        posts = True
        plan = real.plan
        lookup = real.lookup

        def perform(self, step: Step, thread: str | None) -> Posted:
            real.perform(step, thread)
            raise Killed

    with database_url("sqlite", tmp_path) as url:
        with Store.open(url) as store, pytest.raises(Killed):
            told_before(store, "#net")
            run(tracker(store, slack, chat=DiesAfterPosting()), cluster())
        with Store.open(url) as store:
            report = run(tracker(store, slack), cluster(), at=NOW + HOUR)
            with store.transaction() as tx:
                assert tx.intents(IntentState.PENDING) == []
    assert outcome(report) == (Change.OPEN, Notified.SKIPPED)
    assert len(slack.requests("chat.postMessage")) == 1
    assert len(slack.requests("conversations.history")) == 1


def test_a_resolved_match_edits_the_original_by_channel_id_and_replies_in_its_thread(
    store: Store, slack: SlackServer
) -> None:
    t = tracker(store, slack)
    run(t, cluster())
    report = run(t, cluster(kernels=("5.15.0-91-generic",) * 3), at=NOW + HOUR)
    assert outcome(report) == (Change.RESOLVED, Notified.POSTED)
    original = ipvs_posts(slack)[0]
    update = slack.requests("chat.update")[0].params
    assert (update["channel"], update["ts"]) == ("C0NET", original["ts"])
    assert "RESOLVED" in json.dumps(update["blocks"])
    assert original["text"].startswith("Resolved on prod-1: ")  # the stored message was edited
    reply = slack.replies("C0NET", original["ts"])[-1]
    assert "2026-03-02 10:00 UTC" in reply["text"] + json.dumps(reply["blocks"])
    assert "5.15.0-91-generic" in json.dumps(reply["blocks"])


def test_an_updated_match_edits_the_original_and_says_what_changed(
    store: Store, slack: SlackServer
) -> None:
    t = tracker(store, slack)
    run(t, cluster(kernels=("5.4.0-150-generic", "5.4.0-150-generic")))
    report = run(t, cluster(kernels=("5.4.0-150-generic", "6.1.0-18-amd64")), at=NOW + HOUR)
    assert outcome(report) == (Change.UPDATED, Notified.POSTED)
    original = ipvs_posts(slack)[0]
    assert slack.requests("chat.update")[0].params["ts"] == original["ts"]
    reply = json.dumps(slack.replies("C0NET", original["ts"])[-1]["blocks"])
    assert "nodes no longer affected (1): prod-1-node-2" in reply


def test_clusters_go_to_the_channel_their_labels_route_them_to(
    store: Store, slack: SlackServer
) -> None:
    routing = Routing("#net", (Route({"env": "prod"}, "C0PROD"),))
    run(
        tracker(store, slack, routing),
        cluster("a", labels={"env": "prod"}),
        cluster("b", labels={"env": "dev"}),
    )
    assert ["a" in m["text"] for m in ipvs_posts(slack, "C0PROD")] == [True]
    assert ["b" in m["text"] for m in ipvs_posts(slack, "C0NET")] == [True]


def test_a_long_node_list_goes_to_a_thread_reply_split_at_slacks_limits(
    store: Store, slack: SlackServer
) -> None:
    kernels = ("5.4.0-150-generic",) * 400
    run(tracker(store, slack), cluster("big-cluster-with-a-long-name", kernels=kernels))
    message = ipvs_posts(slack)[0]
    assert "and 385 more (in the thread)" in json.dumps(message["blocks"])
    replies = slack.replies("C0NET", message["ts"])
    listed = "\n".join(
        b["text"]["text"] for r in replies for b in r["blocks"] if b["type"] == "section"
    )
    assert all(f"big-cluster-with-a-long-name-node-{i}`" in listed for i in range(1, 401))
    sections = [b for r in replies for b in r["blocks"] if b["type"] == "section"]
    assert len(sections) > 1 and all(len(b["text"]["text"]) <= MAX_SECTION for b in sections)


def _huge_notice() -> MatchNotice:
    snap = MatchSnapshot(
        advisory_id="X-HUGE",
        title="A title far longer than a Slack header may be " * 5,
        component="calico",
        verdict="affected",
        severity="critical",
        impact="impact sentence. " * 500,
        recommendation="recommendation line\n" * 400,
        cases=("a",),
        affected_nodes=tuple(f"node-{i}" for i in range(3000)),
        node_count=3000,
        triggers=(("calico", "v3.19.1"), ("kernel", "3.10.0-1160.el7.x86_64")),
        groups=(NodeGroupSummary("3.10.0-1160.el7.x86_64", "CentOS Linux 7 (Core)", 3000),),
        workaround=tuple(
            (f"step {i}", "kubectl patch felixconfiguration default " * 3) for i in range(80)
        ),
        references=tuple(("WEB", f"https://example.org/{i}") for i in range(30)),
        catalog_version="test",
    )
    return MatchNotice(NoticeKind.NEW, ClusterRef("huge", "uid-huge"), snap, NOW, opened_at=NOW)


def test_messages_longer_than_slack_allows_are_split_into_pages_slack_accepts(
    slack: SlackServer,
) -> None:
    chat = notifier(slack)
    steps = chat.plan(_huge_notice(), "intent", "#net", None)
    assert len(steps) >= 2  # the message (split into sections), the node list in the thread
    for step in steps:
        assert len(step.body.blocks) <= MAX_BLOCKS
    # Split, never cut: every sentence of the impact and every node is there.
    sections = [b["text"]["text"] for step in steps for b in step.body.blocks
                if b["type"] == "section"]  # fmt: skip
    said = "".join(sections)  # a line longer than a section is cut hard, and nothing is lost
    assert said.count("impact sentence.") == 500
    assert all(f"`node-{i}`" in said for i in range(3000))
    first = chat.perform(steps[0], None)
    for step in steps[1:]:
        chat.perform(step, first.ts)  # the server refuses anything over the limits
    assert len(slack.replies("C0NET", first.ts)) == len(steps) - 1


def test_lookup_pages_through_the_channel_history(slack: SlackServer) -> None:
    chat = notifier(slack)
    client = make_client(slack.token, base_url=slack.url)
    step = chat.plan(_huge_notice(), "needle", "C0NET", None)[1]
    parent = client.chat_postMessage(channel="C0NET", text="parent")["ts"]
    for i in range(450):
        client.chat_postMessage(channel="C0NET", text=f"noise {i}", thread_ts=parent)
    posted = chat.perform(step, parent)
    since = NOW - timedelta(days=365 * 10)
    assert chat.lookup(step, parent, since) == posted
    assert len(slack.requests("conversations.replies")) >= 3
    other = replace(step, marker="other/1")
    assert chat.lookup(other, parent, since) is None


def test_channel_names_are_resolved_to_ids_for_history(slack: SlackServer) -> None:
    chat = notifier(slack)
    assert chat.channel_id("#net-prod") == "C0PROD"
    assert chat.channel_id("C0NET") == "C0NET"
    with pytest.raises(NotDelivered, match="channel_not_found"):
        chat.channel_id("#nowhere")


def test_tokens_never_appear_in_errors_or_logs(
    store: Store, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "xoxb-111-222-SECRETSECRET"
    caplog.set_level(logging.DEBUG)
    report = run(tracker(store, slack, chat=notifier(slack, token=secret)), cluster())
    assert "invalid_auth" in report.delivery.errors[0]
    assert secret not in " ".join(report.delivery.errors)
    assert secret not in caplog.text
    with pytest.raises(NotDelivered) as caught:
        notifier(slack, token=secret).check()
    assert secret not in str(caught.value)
    assert notifier(slack).check() == "@netadvisor in Test"


def test_two_scans_racing_on_one_postgresql_database_post_each_match_once(
    tmp_path: Path, slack: SlackServer
) -> None:
    import threading

    fleet = [cluster(f"prod-{i}") for i in range(1, 5)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    with database_url("postgresql", tmp_path) as url:

        def worker() -> None:
            try:
                with Store.open(url) as store:
                    t = tracker(store, slack)
                    barrier.wait(timeout=30)
                    run(t, *fleet)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    # One post for the advisory; each cluster in it once, whichever scan told it.
    (post,) = ipvs_posts(slack)
    final = json.dumps(post["blocks"])
    assert all(f"*{c.name}*" in final for c in fleet)
    first = next(
        r.params
        for r in slack.requests("chat.postMessage")
        if not r.params.get("thread_ts") and IPVS in r.params["text"]
    )
    listed = [c.name for c in fleet if f"*{c.name}*" in json.dumps(first["blocks"])]
    joined = [
        c.name
        for r in slack.replies("C0NET", post["ts"])
        if "affected too" in json.dumps(r["blocks"])
        for c in fleet
        if f"*{c.name}*" in json.dumps(r["blocks"])
    ]
    assert sorted(listed + joined) == sorted(c.name for c in fleet)


GOLDEN_SNAPSHOT = MatchSnapshot(
    advisory_id="KP-IPVS-CONN-REUSE",
    title="IPVS connection reuse drops traffic to terminating endpoints",
    component="kube-proxy",
    verdict="affected",
    severity="high",
    impact="About 1 s of connection delays after endpoints change.",
    recommendation="Upgrade node kernels to 5.9 or later.",
    cases=("1-22-kernel-4-1-to-5-9",),
    affected_nodes=("prod-1-node-1", "prod-1-node-2"),
    node_count=3,
    triggers=(("kernel", "5.4.0-150-generic"), ("kube-proxy", "v1.28.3"), ("proxy-mode", "ipvs")),
    groups=(NodeGroupSummary("5.4.0-150-generic", "Ubuntu 20.04.6 LTS", 2),),
    workaround=(("Check the sysctl", "sysctl net.ipv4.vs.conn_reuse_mode"),),
    references=(("FIX", "https://github.com/kubernetes/kubernetes/pull/102122"),),
    fixed_in=(),
    catalog_version="2026.11.26",
)


@pytest.mark.parametrize("kind", [NoticeKind.NEW, NoticeKind.RESOLVED])
def test_match_messages_match_their_golden_files(slack: SlackServer, kind: NoticeKind) -> None:
    notice = MatchNotice(
        kind,
        ClusterRef("prod-1", "uid-prod-1", {"env": "prod"}),
        GOLDEN_SNAPSHOT,
        NOW + HOUR,
        reason="kernel 5.15.0-91-generic",
        opened_at=NOW,
    )
    original = MessageRef("C0NET", "1700000001.000000")
    steps = notifier(slack).plan(notice, "golden", "#net", original)
    bodies = [{"action": s.action.value, **s.body.to_json()} for s in steps]
    actual = json.dumps(bodies, indent=2, ensure_ascii=False) + "\n"
    golden = GOLDEN / f"{kind.value}-match.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")
