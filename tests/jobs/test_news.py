"""Upstream news told right away to the channels of the clusters it concerns, once.

The news comes from a real sync against the GitHub API server (:mod:`tests.servers.github`);
the messages go through the real Slack notifier to the Slack Web API server
(:mod:`tests.servers.slack`), through the outbox of the state store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from advisories.engine import Engine
from advisories.fleet import ClusterFacts, match_cluster
from bot.slack.notifier import SlackNotifier, make_client
from bot.terminal.notifier import TerminalNotifier
from jobs.digest import collect
from jobs.news import announce, intent_id
from jobs.notify import Route, Routing
from jobs.store import IntentState, Store
from jobs.tracker import Tracker
from jobs.upstream.models import News, NewsKind
from tests.jobs.upstream_support import KP_RACE, advisory, build_kubernetes, harness
from tests.servers.slack import SlackServer
from tests.state_databases import BACKENDS, database_url
from tests.tracked_fleet import cluster

RACE = advisory(KP_RACE)
"""TEST-KP-RACE: iptables mode, kube-proxy 1.27.0-1.27.10, 1.28.0-1.28.6, 1.29.0-1.29.1."""
ENGINE = Engine([RACE])
ROUTING = Routing("C0NET", (Route({"env": "prod"}, "C0PROD"),))
NOW = datetime(2024, 3, 3, 9, 0, tzinfo=UTC)
IPTABLES = {"facts": {"proxy-mode": "iptables"}}


def fleet() -> list[ClusterFacts]:
    """prod-eu (routed to C0PROD) and staging (C0NET) affected; web (IPVS) not; demo-1 affected
    but demo data; quiet affected but muted."""
    return [
        cluster("prod-eu", mode="iptables", kubernetes="v1.28.3", labels={"env": "prod"}),
        cluster("staging", mode="iptables", kubernetes="v1.29.1"),
        cluster("web", mode="ipvs", kubernetes="v1.28.3"),
        cluster("demo-1", mode="iptables", kubernetes="v1.28.3", demo=True),
        cluster("quiet", mode="iptables", kubernetes="v1.27.3"),
    ]


@dataclass
class World:
    store: Store
    slack: SlackServer
    tracker: Tracker
    news: tuple[News, ...]

    def news_posts(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.slack.top_level(channel) if m["text"].startswith("Upstream")]


def released_news(tmp_path: Path) -> tuple[News, ...]:
    """A sync's news that a cherry-pick of #122204 was released in v1.26.15."""
    with harness(tmp_path / "upstream", [RACE]) as h:
        k8s = build_kubernetes(h.server)
        k8s.pull(
            122900,
            "Automated cherry pick of #122204: Fix race condition in iptables partial sync "
            "handling",
            base="release-1.26",
        )
        assert h.sync().news == ()  # the first sync is the baseline
        h.clock.advance(days=1)
        k8s.commit("release-1.26", "Release commit for Kubernetes v1.26.15")
        k8s.tag("v1.26.15", "release-1.26")
        report = h.sync()
    assert [n.kind for n in report.news] == [NewsKind.FIX_RELEASED]
    return report.news


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    (tmp_path / "upstream").mkdir()
    news = released_news(tmp_path)
    with (
        database_url(request.param, tmp_path) as url,
        Store.open(url) as store,
        SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}) as slack,
    ):
        notifier = SlackNotifier(make_client(slack.token, slack.url))
        tracker = Tracker(store, notifier, TerminalNotifier(io.StringIO()), ROUTING)
        clusters = fleet()
        with store.transaction() as tx:
            tx.add_mute(NOW - timedelta(days=1), "known, upgrade planned", "ops",
                        advisory_id=RACE.id, cluster_uid="uid-quiet")  # fmt: skip
        report = tracker.record(
            [(c, match_cluster(ENGINE, c)) for c in clusters],
            NOW,
            source="test",
            catalog_version="test",
        )
        assert report.delivery.errors == ()
        assert len(slack.top_level("C0PROD")) == 1 and len(slack.top_level("C0NET")) == 1
        yield World(store, slack, tracker, news)


def test_news_goes_once_to_each_channel_of_an_affected_cluster(world: World) -> None:
    posts_before = len(world.slack.requests("chat.postMessage"))
    report = announce(world.tracker, world.news, NOW + timedelta(hours=1))
    assert report.delivery.errors == ()
    assert sorted((c, n.clusters) for c, n in report.notices) == [
        ("C0NET", ("staging",)),
        ("C0PROD", ("prod-eu",)),
    ]
    [prod] = world.news_posts("C0PROD")
    [net] = world.news_posts("C0NET")
    assert len(world.slack.requests("chat.postMessage")) == posts_before + 2
    assert "fix released in v1.26.15 on the 1.26 line (via cherry-pick #122900)" in prod["text"]
    text = str(prod["blocks"])
    assert "TEST-KP-RACE" in text and "*prod-eu*" in text and "staging" not in text
    assert "https://github.com/kubernetes/kubernetes/pull/122204" in text
    assert "from upstream, not curated" in text.lower()
    assert "*staging*" in str(net["blocks"])
    every = str([m for _, m in world.slack.all_messages()])
    assert "demo-1" not in every and "quiet" not in every  # demo data, muted


def test_news_announced_again_is_not_posted_again(world: World) -> None:
    announce(world.tracker, world.news, NOW + timedelta(hours=1))
    posts = len(world.slack.requests("chat.postMessage"))
    again = announce(world.tracker, world.news, NOW + timedelta(hours=2))
    assert len(again.notices) == 2 and again.delivery.delivered == ()
    assert len(world.slack.requests("chat.postMessage")) == posts
    with world.store.transaction() as tx:
        news_intents = [i for i in tx.intents() if i.kind == "news"]
    assert len(news_intents) == 2 and all(i.state is IntentState.DONE for i in news_intents)
    assert {i.id for i in news_intents} == {
        intent_id(world.news[0], "C0NET"),
        intent_id(world.news[0], "C0PROD"),
    }


def test_a_post_whose_answer_was_lost_is_found_in_the_history_and_not_repeated(
    world: World,
) -> None:
    world.slack.fail("chat.postMessage", status=500, store=True)
    first = announce(world.tracker, world.news, NOW + timedelta(hours=1))
    assert len(first.delivery.errors) == 1 and "HTTP 500" in first.delivery.errors[0]
    stored = len(world.news_posts("C0NET")) + len(world.news_posts("C0PROD"))
    assert stored == 2  # Slack kept the message whose answer was lost
    # The next delivery pass (the next scan, or the next sync's) looks before it posts.
    retry = world.tracker.deliver(lambda: NOW + timedelta(hours=2))
    assert retry.errors == () and len(retry.delivered) == 1
    assert len(world.news_posts("C0NET")) == 1 and len(world.news_posts("C0PROD")) == 1
    assert world.slack.requests("conversations.history")


def test_the_news_is_in_the_digest_of_the_channels_it_concerns(world: World) -> None:
    from jobs.notices import UpstreamNote

    notes = [UpstreamNote(tuple(n.advisories), n.text, n.at) for n in world.news]
    with world.store.transaction() as tx:
        digests = {d.channel: d for d in collect(tx, ROUTING, NOW + timedelta(days=1), news=notes)}
    assert [n.text for n in digests["C0PROD"].upstream] == [world.news[0].text]
    assert [n.text for n in digests["C0NET"].upstream] == [world.news[0].text]


def test_without_slack_the_news_is_printed_with_every_concerned_cluster(world: World) -> None:
    stream = io.StringIO()
    console = TerminalNotifier(stream)
    terminal = Tracker(world.store, console, console, Routing())
    posts = len(world.slack.requests("chat.postMessage"))
    report = announce(terminal, world.news, NOW + timedelta(hours=1))
    assert report.printed == 1 and len(world.slack.requests("chat.postMessage")) == posts
    printed = stream.getvalue()
    assert "fix released in v1.26.15" in printed
    assert "Concerns 4 clusters here: demo-1, prod-eu, quiet, staging" in printed.replace("*", "")


def test_a_dry_run_and_news_about_no_open_match_tell_nobody(world: World) -> None:
    dry = Tracker(world.store, world.tracker.notifier, world.tracker.console, ROUTING, dry_run=True)
    assert announce(dry, world.news, NOW).notices == ()
    other = [
        News(NewsKind.ISSUE_CLOSED, n.ref, ("KP-SOMETHING-ELSE",), n.text, n.at) for n in world.news
    ]
    assert announce(world.tracker, other, NOW).notices == ()
