"""The buttons under a match post, end to end over HTTP: a scan posts to the Slack Web API
server on 127.0.0.1, then signed ``block_actions`` and ``view_submission`` payloads shaped as
Slack sends them reach the Bolt app's ``/slack/events``; what the app does comes back through
the same server (views.open, thread replies, response URLs) and the state store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from advisories.answers import ClusterData
from advisories.fleet import ClusterFacts
from bot.http import HttpServer
from bot.slack.app import create_app, wsgi_app
from bot.slack.listeners import BotContext, register
from bot.slack.listeners.post_actions import (
    ALL_CLUSTERS,
    CLUSTERS_BLOCK,
    DAYS_BLOCK,
    REASON_BLOCK,
    PostCluster,
    nodes_messages,
    plan_messages,
)
from bot.slack.post_actions import MUTE_ACTION, MUTE_VIEW, NODES_ACTION, PLAN_ACTION
from jobs.changes import Change, Notified
from jobs.mutes import MAX_REASON
from jobs.muting import list_mutes
from jobs.notices import MatchSnapshot, MessageRef
from jobs.scan import LastScan
from jobs.store import MatchRecord, MatchState, Store
from jobs.tracker import Tracker
from tests.bot.slack.test_listeners import post, sign
from tests.bot.slack.test_notifier import HOUR, NOW, outcome, run, tracker
from tests.servers.slack import SlackServer
from tests.state_databases import BACKENDS, database_url
from tests.tracked_fleet import IPVS, catalog, cluster, engine

ADMIN = "U0ADMIN"
"""May mute (``slack-mute-users``)."""
OPS = "U0OPS"
"""May not mute."""
CLICKED_AT = NOW + timedelta(minutes=30)
OLD = ("5.4.0-150-generic",) * 3


@dataclass
class Bot:
    """The Bolt app on HTTP, the Slack server it talks to, the store, and the scans' tracker."""

    url: str
    slack: SlackServer
    store: Store
    tracker: Tracker

    def post_of(self, name: str) -> MessageRef:
        """The post that announced ``name``'s IPVS match."""
        with self.store.transaction() as tx:
            [record] = [c for c in tx.clusters() if c.name == name]
            match = tx.match(record.uid, IPVS)
        assert match is not None and match.message is not None
        return match.message

    def message(self, ref: MessageRef) -> dict[str, Any]:
        [found] = [m for m in self.slack.messages(ref.channel) if m["ts"] == ref.ts]
        return found

    def replies(self, ref: MessageRef, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.slack.replies(ref.channel, ref.ts)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} thread replies expected, got {len(found)}")

    def send(self, payload: dict[str, Any], *, timestamp: int | None = None) -> tuple[int, bytes]:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return post(self.url, body, "application/x-www-form-urlencoded", timestamp=timestamp)

    def click(self, ref: MessageRef, action_id: str, user: str = ADMIN) -> tuple[int, bytes]:
        """Click a button of the post as it was posted (its action id, block id and value)."""
        message = self.message(ref)
        [(block, button)] = [
            (b, e)
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == action_id
        ]
        payload = {
            "type": "block_actions",
            "team": {"id": "T0TEST", "domain": "test"},
            "user": {"id": user, "username": "ops", "name": "ops", "team_id": "T0TEST"},
            "api_app_id": "A0APP",
            "token": "legacy-unused",
            "container": {
                "type": "message",
                "message_ts": ref.ts,
                "channel_id": ref.channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"1337.42.{time.monotonic_ns()}",
            "channel": {"id": ref.channel, "name": "net"},
            "message": message,
            "state": {"values": {}},
            "response_url": self.slack.response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": block["block_id"],
                    "text": button["text"],
                    "value": button["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.send(payload)


def submission(
    view: dict[str, Any],
    user: str = ADMIN,
    *,
    reason: str = "kernel upgrade planned for next week",
    days: str | None = None,
    clusters: str | None = None,
) -> dict[str, Any]:
    """A ``view_submission`` of the modal Slack opened: each input as the person left it (the
    initial option unless told otherwise)."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        if element["type"] == "static_select":
            chosen = {CLUSTERS_BLOCK: clusters, DAYS_BLOCK: days}.get(block["block_id"])
            option = element["initial_option"]
            if chosen is not None:
                option = next(
                    (o for o in element["options"] if o["value"] == chosen),
                    {"text": {"type": "plain_text", "text": chosen}, "value": chosen},
                )
            state = {"type": "static_select", "selected_option": option}
        else:
            state = {"type": "plain_text_input", "value": reason}
        values[block["block_id"]] = {element["action_id"]: state}
    return {
        "type": "view_submission",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": user, "username": "ops", "name": "ops", "team_id": "T0TEST"},
        "api_app_id": "A0APP",
        "token": "legacy-unused",
        "trigger_id": f"1337.43.{time.monotonic_ns()}",
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
    }


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def bot(backend: str, tmp_path: Path) -> Iterator[Bot]:
    with (
        SlackServer(channels={"C0NET": "net", "C0ADMINS": "net-admins"}) as slack,
        database_url(backend, tmp_path) as url,
        Store.open(url) as store,
    ):
        app = create_app(token=slack.token, signing_secret=SECRET_OF_TESTS, api_url=slack.url)
        context = BotContext(
            catalog(),
            engine=engine(),
            clusters=LastScan(store),
            store=store,
            mute_users=frozenset({ADMIN}),
            now=lambda: CLICKED_AT,
        )
        register(app, context)
        with HttpServer(wsgi_app(app), port=0) as server:
            yield Bot(f"http://127.0.0.1:{server.port}", slack, store, tracker(store, slack))


SECRET_OF_TESTS = "8f742231b10e8888abcd99yyyzzz85a5"  # the signing secret test_listeners signs with


def grouped(bot: Bot, *clusters: ClusterFacts) -> MessageRef:
    """Scan ``clusters``, then make the first one's post the post of them all, as a post that
    lists a (channel, advisory) group is; returns that post."""
    run(bot.tracker, *clusters)
    ref = bot.post_of(clusters[0].name)
    with bot.store.transaction() as tx:
        for facts in clusters[1:]:
            match = tx.match(f"uid-{facts.name}", IPVS)
            assert match is not None
            tx.save_match(replace(match, message=ref))
    return ref


def opened_view(bot: Bot, ref: MessageRef) -> dict[str, Any]:
    status, _ = bot.click(ref, MUTE_ACTION)
    assert status == 200
    [request] = bot.slack.wait_for("views.open")
    [view] = bot.slack.views()
    assert request.params["trigger_id"] == view["trigger_id"]
    return view


def blocks_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(m["blocks"], ensure_ascii=False) for m in messages)


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()


# -- Mute… ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_mute_opens_a_modal_slack_accepts_and_its_submission_mutes_like_the_command(
    bot: Bot,
) -> None:
    run(bot.tracker, cluster("prod-1"))
    ref = bot.post_of("prod-1")
    view = opened_view(bot, ref)

    View(**view).validate_json()
    assert_valid_blocks(view["blocks"])
    assert view["callback_id"] == MUTE_VIEW
    assert json.loads(view["private_metadata"]) == {
        "advisory": IPVS,
        "channel": ref.channel,
        "ts": ref.ts,
    }
    [clusters] = [b for b in view["blocks"] if b.get("block_id") == CLUSTERS_BLOCK]
    assert [o["text"]["text"] for o in clusters["element"]["options"]] == ["prod-1"]
    [reason] = [b for b in view["blocks"] if b.get("block_id") == REASON_BLOCK]
    assert reason["element"]["max_length"] == MAX_REASON and not reason.get("optional")

    status, body = bot.send(submission(view))
    assert (status, body) == (200, b"")  # the modal closes
    [mute] = list_mutes(bot.store, CLICKED_AT)
    assert (mute.advisory, mute.cluster, mute.by) == (IPVS, "prod-1", ADMIN)
    assert mute.reason == "kernel upgrade planned for next week"
    assert mute.expires_at == CLICKED_AT + timedelta(days=7)
    [reply] = bot.replies(ref, 1)
    assert reply["thread_ts"] == ref.ts
    assert reply["text"] == f"{IPVS} muted on prod-1 for 7 days"
    said = blocks_of([reply])
    assert f"<@{ADMIN}> muted {IPVS} on prod-1 for 7 days" in said
    assert f"(mute #{mute.id})" in said

    # The next scan changes prod-1 (muted: not told) and finds prod-2 affected: prod-2 joins
    # the post (an edit), which marks prod-1 muted.
    updates = len(bot.slack.requests("chat.update"))
    changed = ("5.4.0-150-generic", "6.1.0-18-amd64", "6.1.0-18-amd64")
    report = run(bot.tracker, cluster("prod-1", kernels=changed), cluster("prod-2"),
                 at=NOW + HOUR)  # fmt: skip
    assert outcome(report, "prod-1") == (Change.UPDATED, Notified.MUTED)
    assert outcome(report, "prod-2") == (Change.NEW, Notified.POSTED)
    edits = [r.params for r in bot.slack.requests("chat.update")[updates:]]
    assert [e["ts"] for e in edits] == [ref.ts] and bot.post_of("prod-2") == ref
    assert "muted until" in json.dumps(edits[0]["blocks"])
    thread = blocks_of(bot.slack.replies(ref.channel, ref.ts))
    assert "prod-2" in thread and "affected too" in thread


def test_a_replayed_or_repeated_submission_creates_no_second_mute(bot: Bot) -> None:
    run(bot.tracker, cluster("prod-1"))
    ref = bot.post_of("prod-1")
    view = opened_view(bot, ref)
    body = urlencode({"payload": json.dumps(submission(view))}).encode()
    stamp = int(time.time())
    signature = sign(body, stamp, SECRET_OF_TESTS)
    kind = "application/x-www-form-urlencoded"
    first = post(bot.url, body, kind, timestamp=stamp, signature=signature)
    replayed = post(bot.url, body, kind, timestamp=stamp, signature=signature)
    resent = bot.send(submission(view), timestamp=stamp + 1)  # a double click: a new signature
    assert first == replayed == resent == (200, b"")
    assert len(list_mutes(bot.store, CLICKED_AT)) == 1
    time.sleep(0.3)  # a second thread reply would have been posted by now
    assert len(bot.replies(ref, 1)) == 1


def test_someone_who_may_not_mute_gets_no_modal_and_no_mute(bot: Bot) -> None:
    run(bot.tracker, cluster("prod-1"))
    ref = bot.post_of("prod-1")
    status, _ = bot.click(ref, MUTE_ACTION, user=OPS)
    assert status == 200
    [refusal] = [r.params for r in bot.slack.wait_for("response_url")]
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    assert "not allowed to mute" in refusal["text"]
    assert bot.slack.requests("views.open") == []

    # A submission forged from an admin's modal is refused in the modal, and nothing is written.
    view = opened_view(bot, ref)
    status, body = bot.send(submission(view, user=OPS))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert "not allowed to mute" in answer["errors"][CLUSTERS_BLOCK]
    assert list_mutes(bot.store, CLICKED_AT) == []
    assert bot.slack.replies(ref.channel, ref.ts) == []


@pytest.mark.parametrize(
    ("fields", "block", "says"),
    [
        ({"reason": "   "}, REASON_BLOCK, "Give a reason"),
        ({"reason": ""}, REASON_BLOCK, "Give a reason"),
        ({"days": "0"}, DAYS_BLOCK, "between 1 and 365"),
        ({"days": "366"}, DAYS_BLOCK, "between 1 and 365"),
        ({"clusters": "uid-somewhere-else"}, CLUSTERS_BLOCK, "No cluster of this post"),
    ],
)
def test_a_bad_submission_is_refused_in_the_modal_and_writes_nothing(
    bot: Bot, fields: dict[str, str], block: str, says: str
) -> None:
    run(bot.tracker, cluster("prod-1"))
    view = opened_view(bot, bot.post_of("prod-1"))
    status, body = bot.send(submission(view, **fields))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert says in answer["errors"][block]
    assert list_mutes(bot.store, CLICKED_AT) == []


def test_a_post_of_several_clusters_mutes_all_of_them_or_the_one_chosen(bot: Bot) -> None:
    ref = grouped(bot, cluster("prod-1"), cluster("prod-2"), cluster("prod-3"))
    view = opened_view(bot, ref)
    [clusters] = [b for b in view["blocks"] if b.get("block_id") == CLUSTERS_BLOCK]
    options = clusters["element"]["options"]
    assert [o["text"]["text"] for o in options] == [
        "All 3 clusters in this post",
        "prod-1",
        "prod-2",
        "prod-3",
    ]
    assert clusters["element"]["initial_option"]["value"] == ALL_CLUSTERS

    assert bot.send(submission(view, days="14")) == (200, b"")
    mutes = list_mutes(bot.store, CLICKED_AT)
    assert sorted(m.cluster for m in mutes) == ["prod-1", "prod-2", "prod-3"]
    assert {(m.advisory, m.expires_at) for m in mutes} == {(IPVS, CLICKED_AT + timedelta(14))}
    [reply] = bot.replies(ref, 1)
    ids = ", ".join(f"#{m.id}" for m in sorted(mutes, key=lambda m: m.cluster))
    assert f"muted {IPVS} on prod-1, prod-2, prod-3 for 14 days" in blocks_of([reply])
    assert f"(mutes {ids})" in blocks_of([reply])

    second = opened_view_again(bot, ref)
    assert bot.send(submission(second, clusters="uid-prod-2", reason="other")) == (200, b"")
    assert len(list_mutes(bot.store, CLICKED_AT, cluster="prod-2")) == 2
    assert len(list_mutes(bot.store, CLICKED_AT, cluster="prod-1")) == 1


def opened_view_again(bot: Bot, ref: MessageRef) -> dict[str, Any]:
    before = len(bot.slack.views())
    assert bot.click(ref, MUTE_ACTION)[0] == 200
    bot.slack.wait_for("views.open", before + 1)
    return bot.slack.views()[before]


# -- Show nodes, Plan a fix ------------------------------------------------------------------------


def test_show_nodes_replies_in_the_thread_with_every_open_clusters_nodes(bot: Bot) -> None:
    mixed = ("5.4.0-150-generic", "5.15.0-91-generic", "4.18.0-477.el8.x86_64")
    ref = grouped(bot, cluster("prod-1"), cluster("prod-2", kernels=mixed))
    assert bot.click(ref, NODES_ACTION)[0] == 200
    [reply] = bot.replies(ref, 1)
    assert reply["thread_ts"] == ref.ts
    assert_valid_blocks(reply["blocks"])
    said = blocks_of([reply])
    assert "*prod-1*: 3 of 3 nodes affected" in said
    assert "*prod-2*: 2 of 3 nodes affected" in said
    for node in ("prod-1-node-1", "prod-1-node-2", "prod-1-node-3", "prod-2-node-1",
                 "prod-2-node-3"):  # fmt: skip
        assert f"`{node}`" in said
    assert "`prod-2-node-2`" not in said  # kernel 5.15 is not affected
    assert "kernel `4.18.0-477.el8.x86_64`" in said
    assert f"Asked by <@{ADMIN}>" in said
    assert reply["text"] == f"Affected nodes of {IPVS} on prod-1, prod-2"


def test_show_nodes_of_a_large_fleet_is_split_into_replies_slack_accepts(bot: Bot) -> None:
    kernels = ("5.4.0-150-generic",) * 3500  # more than one message of 50 sections holds
    ref = grouped(bot, cluster("prod-big-1", kernels=kernels),
                  cluster("prod-big-2", kernels=kernels))  # fmt: skip
    assert bot.click(ref, NODES_ACTION)[0] == 200
    deadline = time.monotonic() + 10
    wanted = {f"`prod-big-{c}-node-{i}`" for c in (1, 2) for i in range(1, 3501)}
    while time.monotonic() < deadline:
        replies = bot.slack.replies(ref.channel, ref.ts)
        said = blocks_of(replies)
        if all(node in said for node in wanted):
            break
        time.sleep(0.05)
    assert all(node in said for node in wanted)
    assert len(replies) > 1
    for reply in replies:  # the server refuses anything over Slack's limits, so all were kept
        assert len(reply["blocks"]) <= 50
        assert_valid_blocks(reply["blocks"])


def test_plan_a_fix_replies_in_the_thread_with_each_clusters_joint_fix(bot: Bot) -> None:
    # Kubernetes 1.20 takes the other case of the advisory: the kernel alone does not clear it.
    ref = grouped(bot, cluster("prod-1"), cluster("prod-2"),
                  cluster("prod-3", kubernetes="v1.20.4"))  # fmt: skip
    assert bot.click(ref, PLAN_ACTION)[0] == 200
    [reply] = bot.replies(ref, 1)
    assert reply["thread_ts"] == ref.ts
    assert_valid_blocks(reply["blocks"])
    [first, *_] = [b for b in reply["blocks"] if b["type"] == "section"]
    lines = first["text"]["text"].split("\n")
    assert lines[0] == f"*Plan a fix* · {IPVS} · 3 clusters"
    assert lines[1] == (
        "• *prod-1*, *prod-2*: Upgrade the kernel to 5.9 or later (RHEL/Rocky/Alma 9, "
        f"Ubuntu 22.04, Ubuntu 24.04) to clear {IPVS}"
    )
    assert lines[2].startswith("• *prod-3*: Upgrade the kernel to 5.9 or later")
    assert "and Kubernetes to 1.22 or later; or switch the kube-proxy mode to iptables" in lines[2]
    assert len(lines) == 3
    assert reply["text"] == f"Plan a fix for {IPVS} on prod-1, prod-2, prod-3"


def test_only_open_clusters_are_acted_on_and_a_post_with_none_says_so_to_the_clicker(
    bot: Bot,
) -> None:
    ref = grouped(bot, cluster("prod-1"), cluster("prod-2"))
    with bot.store.transaction() as tx:
        match = tx.match("uid-prod-2", IPVS)
        assert match is not None
        tx.save_match(replace(match, state=MatchState.RESOLVED))
    assert bot.click(ref, NODES_ACTION)[0] == 200
    said = blocks_of(bot.replies(ref, 1))
    assert "prod-1" in said and "prod-2" not in said

    with bot.store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
        assert match is not None
        tx.save_match(replace(match, state=MatchState.RESOLVED))
    assert bot.click(ref, PLAN_ACTION)[0] == 200
    [answer] = [r.params for r in bot.slack.wait_for("response_url")]
    assert answer["response_type"] == "ephemeral"
    assert "no cluster of this post is affected any more" in answer["text"]
    assert len(bot.slack.replies(ref.channel, ref.ts)) == 1


def _snapshot() -> MatchSnapshot:
    """Affected by cluster-wide facts, and no node list was read."""
    return MatchSnapshot(
        advisory_id=IPVS,
        title="IPVS",
        component="kube-proxy",
        verdict="affected",
        severity="high",
        impact="",
        recommendation="",
        cases=(),
        affected_nodes=(),
        node_count=0,
        triggers=(("proxy-mode", "ipvs"),),
    )


def test_show_nodes_says_when_the_node_list_was_not_read() -> None:
    record = MatchRecord("uid-prod-1", IPVS, MatchState.OPEN, _snapshot(), NOW, NOW, NOW)
    [message] = nodes_messages(IPVS, [PostCluster(record, "prod-1")])
    said = blocks_of([message.to_json()])
    assert "*prod-1*: the whole cluster" in said
    assert "its node list was not read, so which nodes run it is not known" in said


def test_a_rate_limited_reply_is_posted_after_slacks_retry_after(bot: Bot) -> None:
    run(bot.tracker, cluster("prod-1"))
    ref = bot.post_of("prod-1")
    bot.slack.fail("chat.postMessage", status=429, retry_after=1)
    assert bot.click(ref, NODES_ACTION)[0] == 200
    [reply] = bot.replies(ref, 1)
    assert "`prod-1-node-1`" in blocks_of([reply])
    assert bot.slack.requests("response_url") == []  # nothing went wrong for the clicker


def test_a_refused_reply_is_said_to_the_clicker(bot: Bot) -> None:
    run(bot.tracker, cluster("prod-1"))
    ref = bot.post_of("prod-1")
    bot.slack.fail("chat.postMessage", error="not_in_channel")
    assert bot.click(ref, PLAN_ACTION)[0] == 200
    [answer] = [r.params for r in bot.slack.wait_for("response_url")]
    assert answer["response_type"] == "ephemeral"
    assert "could not reply in the thread (not_in_channel)" in answer["text"]


def test_plan_a_fix_without_the_last_scan_says_it_cannot_plan_now() -> None:
    def unavailable() -> dict[str, ClusterData]:
        raise ConnectionRefusedError("database down")

    context = BotContext(catalog(), engine=engine(), clusters=unavailable)
    record = MatchRecord("uid-prod-1", IPVS, MatchState.OPEN, _snapshot(), NOW, NOW, NOW)
    [message] = plan_messages(context, IPVS, [PostCluster(record, "prod-1")])
    said = blocks_of([message.to_json()])
    assert "• *prod-1*: Cannot be planned now: the state store did not answer" in said


def test_a_mute_goes_to_the_posts_cluster_when_its_name_was_used_by_a_replaced_one(
    bot: Bot,
) -> None:
    # prod-1 was rebuilt (a new kube-system UID): the name now means the new cluster only, and
    # the old one (whose UID sorts first) is REPLACED.
    run(bot.tracker, cluster("prod-1", uid="uid-a-old"))
    run(bot.tracker, cluster("prod-1", uid="uid-b-new"), at=NOW + HOUR)
    with bot.store.transaction() as tx:
        match = tx.match("uid-b-new", IPVS)
    assert match is not None and match.message is not None
    view = opened_view(bot, match.message)
    assert bot.send(submission(view)) == (200, b"")
    [mute] = list_mutes(bot.store, CLICKED_AT)
    assert (mute.cluster_uid, mute.cluster) == ("uid-b-new", "prod-1")
