"""The digest in Slack, through the real slack_sdk WebClient against the Slack server on
127.0.0.1: every open match once, grouped by advisory, new ones tagged, muted ones marked with
their expiry, each post linked by its permalink (``chat.getPermalink``), no zero counts, and
every payload within Slack's limits."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.slack.blocks import MAX_HEADER
from bot.slack.digest_message import MAX_FALLBACK, digest_messages
from bot.slack.notifier import SlackNotifier, make_client
from bot.terminal.notifier import TerminalNotifier
from jobs.notices import Digest, DigestMatch, MessageRef
from jobs.notify import Routing
from jobs.store import MatchState, Store
from jobs.tracker import Tracker
from tests.servers.slack import WORKSPACE_URL, SlackServer
from tests.state_databases import database_url
from tests.tracked_fleet import IPVS, catalog, cluster, scan, unreadable

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MUTE_ENDS = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
# A cluster named in the open list: *name* or *<permalink|name>*.
NAMED = re.compile(r"\*(?:<(?P<url>[^|>]+)\|)?(?P<name>[^*<>|]+?)>?\*")
ENDPOINTS = "KP-ENDPOINT-UPDATE-DELAY"
ZERO_COUNT = re.compile(r"(?<![\d.:,-])0 [a-z]")


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(channels={"C0NET": "net"}) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with database_url("sqlite", tmp_path) as url, Store.open(url) as opened:
        yield opened


def tracker(store: Store, slack: SlackServer, notifier: SlackNotifier | None = None) -> Tracker:
    chat = notifier or SlackNotifier(make_client(slack.token, base_url=slack.url))
    return Tracker(store, chat, TerminalNotifier(io.StringIO()), Routing("#net"))


def record(t: Tracker, at: datetime, *clusters: Any) -> None:
    t.record(scan(*clusters), at, source="test", catalog_version=catalog().version)


def fleet(store: Store, t: Tracker) -> None:
    """Yesterday dev-b, dev-c (IPVS) and web-1 (endpoint delays) were affected and posted,
    dev-e (IPVS) muted until 12-10; today dev-c cannot be read, dev-d (IPVS) and web-2 are
    new."""
    store.run(
        lambda tx: tx.add_mute(
            NOW - 2 * DAY,
            "kernel upgrade booked",
            "alice",
            advisory_id=IPVS,
            cluster_uid="uid-dev-e",
            expires_at=MUTE_ENDS,
        )
    )
    record(t, NOW - DAY, cluster("dev-b"), cluster("dev-c"), cluster("dev-e"), web("web-1"))
    store.run(lambda tx: tx.set_last_digest("#net", NOW - DAY + timedelta(minutes=5)))
    record(
        t,
        NOW - timedelta(hours=3),
        cluster("dev-b"),
        unreadable("dev-c", uid="uid-dev-c", error="dial tcp 10.0.0.1:6443: i/o timeout"),
        cluster("dev-d"),
        cluster("dev-e"),
        web("web-1"),
        web("web-2"),
    )


def web(name: str) -> Any:
    return cluster(name, mode="iptables", kernels=("5.15.0-91-generic",) * 2)


def digest_posts(slack: SlackServer) -> list[dict[str, Any]]:
    return [m for m in slack.messages("C0NET") if m["text"].startswith("netadvisor digest")]


def section_text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def open_list(text: str) -> dict[str, list[tuple[str, str | None, str]]]:
    """The Open section: advisory -> [(cluster, link, the cluster's text)]."""
    lines = text.split("*Open*\n", 1)[1].split("\n")
    found: dict[str, list[tuple[str, str | None, str]]] = {}
    advisory = ""
    for line in lines:
        if line.startswith("*") and line.endswith("*") and NAMED.fullmatch(line):
            break  # the next section's heading
        if line.startswith(":"):
            first = NAMED.search(line)
            assert first is not None, line
            advisory = first["name"]
            assert advisory not in found, f"{advisory} listed twice"
            found[advisory] = []
            continue
        for item in line.split(" · "):
            named = NAMED.match(item)
            assert named is not None, item
            found[advisory].append((named["name"], named["url"], item))
    return found


def all_links(post: dict[str, Any]) -> dict[tuple[str, str], str | None]:
    """(advisory, cluster) -> the link its line carries."""
    listed = open_list(section_text(post))
    return {(a, c): url for a, items in listed.items() for c, url, _ in items}


def assert_valid(message: dict[str, Any]) -> None:
    for block in message["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER
    assert len(message["text"]) <= MAX_FALLBACK


def test_the_digest_lists_every_open_match_once_by_advisory_with_the_new_ones_tagged(
    store: Store, slack: SlackServer
) -> None:
    t = tracker(store, slack)
    fleet(store, t)
    t.send_digests(NOW)
    (post,) = digest_posts(slack)
    assert_valid(post)
    text = section_text(post)
    listed = open_list(text)
    with store.transaction() as tx:
        matches = tx.matches(None, MatchState.OPEN)
        names = {c.uid: c.name for c in tx.clusters()}
    expected = sorted((names[m.cluster_uid], m.advisory_id) for m in matches)
    assert sorted((c, a) for a, items in listed.items() for c, _, _ in items) == expected
    assert list(listed) == [IPVS, ENDPOINTS]  # both high; the one on more clusters first
    tagged = {c for items in listed.values() for c, _, item in items if item.endswith("`new`")}
    assert tagged == {"dev-d", "web-2"}
    lines = [line for line in text.split("\n") if line.strip()]
    assert len(lines) == len(set(lines)), "a line is repeated"
    # What a phone shows (links as their text, an emoji as one sign): an advisory's line and
    # a marked cluster's line stay short.
    opened = lines[lines.index("*Open*") + 1 : lines.index("*Unknown verdicts*")]
    shown = [re.sub(r"<[^|>]+\|([^>]+)>|:[a-z_]+:", r"\1.", line) for line in opened]
    assert max(len(line) for line in shown if " · " not in line) <= 90, shown
    assert post["blocks"][0]["text"]["text"] == "netadvisor digest · 2026-12-03"
    summary = post["blocks"][1]["elements"][0]["text"]
    assert summary.startswith("6 open in 2 advisories · 2 new · 1 muted")
    assert "1 cluster unreadable" in summary
    stale = next(item for c, _, item in listed[IPVS] if c == "dev-c")
    assert stale.endswith(":warning: unreadable since 06:00")  # today: the time is enough


def test_a_muted_match_stays_listed_marked_with_the_mutes_expiry(
    store: Store, slack: SlackServer
) -> None:
    t = tracker(store, slack)
    fleet(store, t)
    sent, _ = t.send_digests(NOW)
    (muted,) = [m for m in sent[0].open if m.muted]
    assert (muted.cluster, muted.muted_until, muted.message) == ("dev-e", MUTE_ENDS, None)
    item = next(item for c, _, item in open_list(section_text(digest_posts(slack)[0]))[IPVS]
                if c == "dev-e")  # fmt: skip
    assert "muted until 12-10" in item
    assert "`new`" not in item  # muted before it was first seen: not news


def test_each_listed_post_is_linked_by_its_permalink_asked_once(
    store: Store, slack: SlackServer
) -> None:
    notifier = SlackNotifier(make_client(slack.token, base_url=slack.url))
    t = tracker(store, slack, notifier)
    fleet(store, t)
    t.send_digests(NOW)
    with store.transaction() as tx:
        posted = {m.message for m in tx.matches(None, MatchState.OPEN) if m.message is not None}
    asked = {
        MessageRef(r.params["channel"], r.params["message_ts"])
        for r in slack.requests("chat.getPermalink")
    }
    # One grouped post per advisory (IPVS: dev-b, dev-c, dev-d; endpoint delays: web-1, web-2);
    # the muted dev-e was never posted.
    assert len(posted) == 2 and asked == posted
    assert len(slack.requests("chat.getPermalink")) == len(posted)
    first = digest_posts(slack)[0]
    links = all_links(first)
    assert links[(IPVS, "dev-e")] is None
    text = section_text(first)
    urls = {f"{WORKSPACE_URL}archives/C0NET/p{ref.ts.replace('.', '')}" for ref in posted}
    assert all(url in text for url in urls)
    # The next digest (same notifier) reuses the links it has.
    t.send_digests(NOW + DAY)
    assert len(digest_posts(slack)) == 2
    assert len(slack.requests("chat.getPermalink")) == len(posted)
    assert all(url in section_text(digest_posts(slack)[1]) for url in urls)


@pytest.mark.parametrize(
    "failure",
    [
        {"error": "channel_not_found"},
        {"status": 500, "error": "internal_error"},
        {"drop": True},
    ],
    ids=["ok-false", "http-500", "connection-dropped"],
)
def test_a_permalink_that_cannot_be_had_leaves_its_line_without_a_link(
    store: Store, slack: SlackServer, failure: dict[str, Any]
) -> None:
    t = tracker(store, slack)
    fleet(store, t)
    slack.fail("chat.getPermalink", **failure)
    _, report = t.send_digests(NOW)
    assert report.pending == 0
    (post,) = digest_posts(slack)
    assert_valid(post)
    # Two grouped posts: the link that could not be had is left out, the other is there.
    assert len(slack.requests("chat.getPermalink")) == 2
    assert section_text(post).count(f"{WORKSPACE_URL}archives/C0NET/") == 1


def test_a_post_slack_no_longer_has_is_listed_without_a_link(slack: SlackServer) -> None:
    notifier = SlackNotifier(make_client(slack.token, base_url=slack.url))
    gone = MessageRef("C0NET", "1700000000.000100")
    match = DigestMatch("dev-b", "uid-dev-b", IPVS, "IPVS", "high", 3, NOW, message=gone)
    digest = Digest("#net", NOW, None, new=(), open=(match,), clusters=1)
    (step,) = notifier.plan(digest, "i-1", "#net", None)
    (asked,) = slack.requests("chat.getPermalink")
    assert asked.params == {"channel": "C0NET", "message_ts": gone.ts}
    text = section_text({"blocks": step.body.blocks})
    assert "*dev-b* (3 nodes)" in text and "<" not in text


def test_no_count_of_zero_is_said_and_an_empty_digest_says_nothing_to_report(
    store: Store, slack: SlackServer
) -> None:
    t = tracker(store, slack)
    record(t, NOW - DAY, cluster("ok-1", mode="nftables", kubernetes="v1.30.2"))
    t.send_digests(NOW)
    t2 = tracker(store, slack)
    fleet(store, t2)
    t2.send_digests(NOW + DAY)
    posts = digest_posts(slack)
    assert len(posts) == 2
    for post in posts:
        assert_valid(post)
        every = post["text"] + "\n" + section_text(post)
        every += "".join(e["text"] for b in post["blocks"] if b["type"] == "context"
                         for e in b["elements"])  # fmt: skip
        assert not ZERO_COUNT.search(every), every
    assert "Nothing to report" in section_text(posts[0])
    assert "Nothing to report" not in section_text(posts[1])


def test_fallback_text_and_header_stay_within_slacks_limits_for_a_huge_digest() -> None:
    many = tuple(
        DigestMatch(f"c-{i:04}", f"u-{i}", f"ADV-{i % 40:02}", "t " * 200, "low", 1, NOW)
        for i in range(3000)
    )
    digest = Digest("x" * 400, NOW, None, open=many, unknown=many, clusters=3000)
    for message in digest_messages(digest):
        assert_valid(message.to_json())


def test_clusters_told_in_one_grouped_post_link_it_once_from_the_advisory(
    slack: SlackServer,
) -> None:
    client = make_client(slack.token, base_url=slack.url)
    answer = client.chat_postMessage(channel="C0NET", text="IPVS: 2 clusters")
    grouped = MessageRef("C0NET", str(answer["ts"]))

    def match(name: str, **kwargs: Any) -> DigestMatch:
        return DigestMatch(name, f"uid-{name}", IPVS, "IPVS", "high", 3, NOW, message=grouped,
                           **kwargs)  # fmt: skip

    open_ = (match("dev-b"), match("dev-d", new=True))
    digest = Digest("#net", NOW, NOW - DAY, new=open_[1:], open=open_, clusters=2)
    (step,) = SlackNotifier(client).plan(digest, "i-1", "#net", None)
    assert len(slack.requests("chat.getPermalink")) == 1
    text = section_text({"blocks": step.body.blocks})
    url = f"{WORKSPACE_URL}archives/C0NET/p{grouped.ts.replace('.', '')}"
    assert f"*<{url}|{IPVS}>*" in text
    assert text.count(url) == 1
    # The marked (new) cluster on a line of its own first, the others after it.
    assert [(c, link) for c, link, _ in open_list(text)[IPVS]] == [("dev-d", None), ("dev-b", None)]
    assert "\n*dev-d* (3 nodes) `new`\n*dev-b* (3 nodes)" in text
