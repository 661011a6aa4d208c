"""The daily digest: new since the last one, resolved, open by severity and cluster, unknowns
with what they depend on, unreadable clusters since when, mutes about to expire; per channel."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.slack.blocks import MAX_BLOCKS, MAX_SECTION
from bot.slack.messages import digest_messages
from bot.terminal.notifier import TerminalNotifier
from jobs.digest import collect
from jobs.mutes import ConfigMute
from jobs.notices import TERMINAL, Digest
from jobs.notify import Route, Routing
from jobs.store import Store
from jobs.tracker import Tracker
from tests.jobs.notifiers import MemoryChat, MemoryTerminal
from tests.state_databases import BACKENDS, database_url
from tests.tracked_fleet import IPVS, catalog, cluster, scan, unreadable

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
GOLDEN = Path(__file__).parent.parent / "bot" / "golden"
ROUTING = Routing("#net", (Route({"env": "prod"}, "#net-prod"),))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with database_url(request.param, tmp_path) as url, Store.open(url) as opened:
        yield opened


def record(store: Store, at: datetime, *clusters: object, retire: bool = False) -> None:
    t = Tracker(store, MemoryChat(), MemoryTerminal(), ROUTING)
    t.record(
        scan(*clusters),
        at,
        source="test",
        catalog_version=catalog().version,  # type: ignore[arg-type]
        retire_missing=retire,
    )


def digests(store: Store, at: datetime) -> dict[str, Digest]:
    with store.transaction() as tx:
        return {d.channel: d for d in collect(tx, ROUTING, at)}


def _history(store: Store) -> None:
    """Yesterday: prod-a and dev-b affected, dev-c readable. Today: prod-a fixed, dev-b still
    affected, dev-c unreadable, new dev-d affected."""
    prod = {"env": "prod"}
    record(store, NOW - DAY, cluster("prod-a", labels=prod), cluster("dev-b"), cluster("dev-c"))
    with store.transaction() as tx:
        tx.set_last_digest("#net", NOW - DAY + timedelta(minutes=5))
        tx.set_last_digest("#net-prod", NOW - DAY + timedelta(minutes=5))
        tx.add_mute(
            NOW - DAY,
            "upgrade planned for Thursday",
            "alice",
            advisory_id=IPVS,
            cluster_uid="uid-dev-b",
            expires_at=NOW + timedelta(hours=20),
        )
        tx.add_mute(NOW - DAY, "long term", "bob", advisory_id="SP-2370", expires_at=NOW + 30 * DAY)
    record(
        store,
        NOW - timedelta(hours=3),
        cluster("prod-a", labels=prod, kernels=("5.15.0-91-generic",)),
        cluster("dev-b"),
        unreadable("dev-c", uid="uid-dev-c", error="dial tcp 10.0.0.1:6443: i/o timeout"),
        cluster("dev-d"),
    )


def test_the_digest_says_what_is_new_resolved_open_unknown_and_unreadable(store: Store) -> None:
    _history(store)
    dev = digests(store, NOW)["#net"]
    assert dev.since == NOW - DAY + timedelta(minutes=5)
    assert [(m.cluster, m.advisory_id) for m in dev.new] == [("dev-d", IPVS)]
    assert [m.cluster for m in dev.open if m.advisory_id == IPVS] == ["dev-b", "dev-c", "dev-d"]
    assert [m.cluster for m in dev.open if m.new] == ["dev-d"]  # the same match, tagged
    assert [(m.cluster, m.muted_until) for m in dev.open if m.muted] == [
        ("dev-b", NOW + timedelta(hours=20))
    ]
    assert all(m.message is not None and m.message.channel == "C-net" for m in dev.open)
    assert dev.open_by_severity() == {"high": 3}
    assert dev.open_by_cluster() == {"dev-b": 1, "dev-c": 1, "dev-d": 1}
    stale = next(m for m in dev.open if m.cluster == "dev-c")
    assert stale.stale_since == NOW - timedelta(hours=3)
    assert "i/o timeout" in stale.reason
    assert [(c.name, c.since) for c in dev.unreadable] == [("dev-c", NOW - timedelta(hours=3))]
    unknown = [m for m in dev.unknown if m.advisory_id == "KP-EXTERNALIPS-ETP-LOCAL"]
    assert [m.cluster for m in unknown] == ["dev-b", "dev-c", "dev-d"]  # dev-c: as last read
    assert "externalips-etp-local" in unknown[0].reason
    assert [m.reason for m in dev.expiring_mutes] == ["upgrade planned for Thursday"]
    assert dev.expiring_mutes[0].scope == f"{IPVS} on dev-b"
    assert dev.resolved == ()


def test_each_channel_gets_the_digest_of_the_clusters_routed_to_it(store: Store) -> None:
    _history(store)
    prod = digests(store, NOW)["#net-prod"]
    assert [(m.cluster, m.advisory_id) for m in prod.resolved] == [("prod-a", IPVS)]
    assert "5.15.0-91-generic" in prod.resolved[0].reason
    assert prod.open == () and prod.new == () and prod.unreadable == ()
    assert prod.expiring_mutes == ()  # the only expiring mute is about a dev cluster


def test_config_mutes_are_listed_like_other_mutes_by_cluster_name_and_marked(
    store: Store,
) -> None:
    _history(store)
    entries = [
        ConfigMute(IPVS, "dev-d", "reviewed in Git", expires_at=NOW + timedelta(days=2)),
        ConfigMute("SP-2370", "prod-a", "prod only", expires_at=NOW + timedelta(days=1)),
    ]
    store.run(lambda tx: tx.sync_config_mutes(entries, NOW - DAY))
    by_channel = digests(store, NOW)
    assert [(m.scope, m.created_by) for m in by_channel["#net"].expiring_mutes] == [
        (f"{IPVS} on dev-b", "alice"),
        (f"{IPVS} on dev-d (configuration file)", "config"),
    ]
    assert [m.scope for m in by_channel["#net-prod"].expiring_mutes] == [
        "SP-2370 on prod-a (configuration file)"
    ]


def test_the_first_digest_counts_everything_as_new(store: Store) -> None:
    record(store, NOW - DAY, cluster("dev-b"))
    first = digests(store, NOW)["#net"]
    assert first.since is None
    assert [m.cluster for m in first.new] == ["dev-b"]


def test_retired_clusters_leave_the_digest(store: Store) -> None:
    record(store, NOW - DAY, cluster("dev-b"), cluster("dev-c"), retire=True)
    record(store, NOW - timedelta(hours=1), cluster("dev-b"), retire=True)
    dev = digests(store, NOW)["#net"]
    assert {m.cluster for m in (*dev.open, *dev.unknown, *dev.resolved)} == {"dev-b"}
    assert dev.clusters == 1


def test_upstream_changes_reach_the_channels_whose_matches_they_concern(store: Store) -> None:
    from jobs.notices import UpstreamNote

    _history(store)
    news = [
        UpstreamNote((IPVS,), "kubernetes/kubernetes#102122 released in v1.22.0", NOW - DAY / 2),
        UpstreamNote(("SP-2370",), "spidernet-io/spiderpool#2370 closed", NOW - DAY / 3),
        UpstreamNote((IPVS,), "an old change, told in the previous digest", NOW - 2 * DAY),
    ]
    with store.transaction() as tx:
        found = {d.channel: d for d in collect(tx, ROUTING, NOW, news=news)}
    assert [n.text for n in found["#net"].upstream] == [news[0].text, news[1].text]
    assert found["#net-prod"].upstream == ()  # its only IPVS match is resolved
    sent, _ = Tracker(store, MemoryChat(), MemoryTerminal(), ROUTING).send_digests(
        NOW, news=lambda since: news
    )
    assert [n.text for d in sent if d.channel == "#net" for n in d.upstream] == [
        news[0].text,
        news[1].text,
    ]


def test_a_digest_survives_the_outbox_as_json(store: Store) -> None:
    _history(store)
    dev = digests(store, NOW)["#net"]
    assert Digest.from_json(dev.to_json()) == dev


def test_a_digest_queued_before_marks_and_links_existed_still_reads_back(store: Store) -> None:
    _history(store)
    dev = digests(store, NOW)["#net"]
    data = dev.to_json()
    assert data["open_by_advisory"] == {IPVS: 3}
    muted = next(m for m in data["open"] if m["muted"])
    assert (muted["cluster"], muted["muted_until"]) == (
        "dev-b",
        (NOW + timedelta(hours=20)).isoformat(),
    )
    assert muted["message"] == {"channel": "C-net", "ts": dev.open[0].message.ts}  # type: ignore[union-attr]
    for key in ("open", "new", "resolved", "unknown"):
        for match in data[key]:
            for added in ("new", "muted", "muted_until", "message"):
                del match[added]
    old = Digest.from_json(data)
    assert [(m.cluster, m.new, m.muted, m.muted_until, m.message) for m in old.open] == [
        (m.cluster, False, False, None, None) for m in dev.open
    ]


def test_sending_digests_posts_one_per_channel_and_remembers_when(store: Store) -> None:
    _history(store)
    chat = MemoryChat()
    t = Tracker(store, chat, MemoryTerminal(), ROUTING)
    sent, report = t.send_digests(NOW)
    assert sorted(d.channel for d in sent) == ["#net", "#net-prod"]
    assert report.pending == 0
    assert sorted(m.channel for m in chat.top_level()) == ["C-net", "C-net-prod"]
    with store.transaction() as tx:
        assert tx.last_digest("#net") == NOW
    again, _ = t.send_digests(NOW + DAY)
    assert all(d.new == () and d.since == NOW for d in again)


def test_without_slack_one_digest_of_every_cluster_is_printed(store: Store) -> None:
    _history(store)
    terminal = MemoryTerminal()
    sent, _ = Tracker(store, terminal, terminal, Routing()).send_digests(NOW)
    assert [d.channel for d in sent] == [TERMINAL]
    assert sent[0].clusters == 4
    assert terminal.printed == [("digest", "", TERMINAL)]


def test_a_dry_run_prints_the_digests_it_would_send_and_sends_and_records_nothing(
    store: Store,
) -> None:
    _history(store)

    def kept() -> tuple[object, ...]:
        with store.transaction() as tx:
            return (tx.last_digest("#net"), tx.last_digest(TERMINAL), len(tx.intents()))

    before = kept()
    chat, console = MemoryChat(), MemoryTerminal()
    sent, report = Tracker(store, chat, console, ROUTING, dry_run=True).send_digests(NOW)
    assert sorted(d.channel for d in sent) == ["#net", "#net-prod"]
    assert sorted(console.printed) == [("digest", "", "#net"), ("digest", "", "#net-prod")]
    assert chat.messages == [] and report.delivered == () and report.pending == 0
    terminal = MemoryTerminal()
    alone, _ = Tracker(store, terminal, terminal, Routing()).send_digests(NOW, dry_run=True)
    assert [d.channel for d in alone] == [TERMINAL]
    assert terminal.printed == [("digest", "", TERMINAL)]
    assert kept() == before
    # The real run after a dry run still has everything to say.
    real, _ = Tracker(store, chat, MemoryTerminal(), ROUTING).send_digests(NOW)
    assert [d.new for d in real] == [d.new for d in sent]


def test_a_digest_of_a_large_fleet_fits_slacks_limits_and_names_each_match_once() -> None:
    from jobs.notices import DigestMatch

    many = tuple(
        DigestMatch(
            f"cluster-{i:03}",
            f"uid-{i}",
            f"ADV-{i % 28:02}",
            "a title " * 8,
            "high",
            12,
            NOW - DAY,
            reason="affected if kernel < 5.9.0 " * 4,
            new=i % 3 == 0,
        )
        for i in range(600)
    )
    new = tuple(m for m in many if m.new)
    digest = Digest("#net", NOW, NOW - DAY, new=new, open=many, unknown=many, clusters=600)
    messages = digest_messages(digest)
    text = "\n".join(
        b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"
    )
    for match in many:
        # Each cluster is named once in its advisory's open line, and once among the unknowns.
        assert text.count(f"*{match.cluster}*") == 1
    assert text.count("`new`") == len(new) == 200
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        assert len(message.text) <= 4000
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION
    # One advisory on 600 clusters: its line is cut between clusters, never inside a name.
    one = tuple(replace(m, advisory_id="ADV-ALL") for m in many)
    pieces = [
        b["text"]["text"]
        for m in digest_messages(Digest("#net", NOW, None, open=one, clusters=600))
        for b in m.blocks
        if b["type"] == "section"
    ]
    assert len(pieces) >= 2
    names = [n for p in pieces for n in re.findall(r"\*(cluster-\d+)\*", p)]
    assert sorted(names) == sorted(m.cluster for m in many)


def test_the_printed_digest_matches_its_golden_file() -> None:
    from jobs.notices import DigestMatch, ExpiringMute, UnreadableCluster, UpstreamNote

    def match(cluster: str, advisory: str, **kwargs: object) -> DigestMatch:
        return DigestMatch(
            cluster,
            f"uid-{cluster}",
            advisory,
            "IPVS connection reuse",
            "high",
            3,
            NOW - DAY,
            **kwargs,
        )  # type: ignore[arg-type]

    stale = match(
        "dev-c",
        IPVS,
        stale_since=NOW - timedelta(hours=3),
        reason="the cluster could not be read (timeout)",
    )
    new = match("dev-d", IPVS, new=True)
    muted = match("dev-b", IPVS, muted=True, muted_until=NOW + timedelta(hours=20))
    medium = replace(
        match("dev-b", "CALICO-VXLAN-OFFLOAD", new=True),
        title="VXLAN checksum offload: 63 s delays or reduced throughput on every node",
        severity="medium",
    )
    digest = Digest(
        "#net",
        NOW,
        NOW - DAY,
        new=(medium, new),
        resolved=(match("prod-a", IPVS, closed_at=NOW - timedelta(hours=2)),),
        open=(
            replace(medium, cluster="web-a", severity="high", new=False),
            muted,
            stale,
            new,
            medium,
        ),
        unknown=(
            match("dev-b", "KP-EXTERNALIPS-ETP-LOCAL", reason="depends on externalips-etp-local"),
        ),
        unreadable=(UnreadableCluster("dev-c", "uid-dev-c", NOW - timedelta(hours=3), "timeout"),),
        expiring_mutes=(
            ExpiringMute(
                1, f"{IPVS} on dev-b", "upgrade on Thursday", "alice", NOW + timedelta(hours=20)
            ),
        ),
        clusters=4,
        upstream=(
            UpstreamNote(
                (IPVS,), "kubernetes/kubernetes#102122 released in v1.22.0", NOW - DAY / 2
            ),
        ),
    )
    stream = io.StringIO()
    console = TerminalNotifier(stream)
    for step in console.plan(digest, "", "#net", None):
        console.perform(step, None)
    actual = stream.getvalue()
    golden = GOLDEN / "digest.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")
