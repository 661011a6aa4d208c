"""Match lifecycle across scans: new, open, updated, resolved, stale, retired, replaced; who is
told and how. Every flow runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from jobs.changes import Change, Notified
from jobs.mutes import ConfigMute
from jobs.notify import Route, Routing
from jobs.store import IntentState, MatchState, Store
from jobs.tracker import Tracker
from tests.jobs.notifiers import MemoryChat, MemoryTerminal
from tests.jobs.recording import HOUR, NEW_KERNEL, NOW, OLD_KERNEL, outcome, run, tracker
from tests.tracked_fleet import IPVS, cluster, scan, unreadable

# ---------------------------------------------------------------------------------------------
# Posting once


def test_two_scans_in_a_row_post_each_new_match_once(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    first = run(t, cluster("prod-1"), cluster("prod-2"))
    second = run(t, cluster("prod-1"), cluster("prod-2"), at=NOW + HOUR)
    assert outcome(first) == (Change.NEW, Notified.POSTED)
    assert outcome(second) == (Change.OPEN, Notified.SKIPPED)
    # One post for the advisory, listing both clusters; the node list in its thread.
    posted = [m.body for m in chat.top_level()]
    assert posted == [("new", "prod-1,prod-2", IPVS)]
    (post,) = chat.top_level()
    assert [r.body[0] for r in chat.replies(post.ts)] == ["nodes"]  # type: ignore[index]
    with store.transaction() as tx:
        told = [tx.match(f"uid-prod-{i}", IPVS) for i in (1, 2)]
        assert tx.intents(IntentState.PENDING) == []
        assert [(p.channel, p.advisory_id, p.message) for p in tx.posts()] == [
            ("#net", IPVS, post.channel_ts())
        ]
    assert [m.message if m else None for m in told] == [post.channel_ts()] * 2


def test_unknown_verdicts_are_not_posted_but_tracked_for_the_digest(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    report = run(tracker(store, chat, terminal), cluster())
    unknown = report.clusters["prod-1"].matches["KP-EXTERNALIPS-ETP-LOCAL"]
    assert (unknown.change, unknown.notified, unknown.state) == (
        Change.NEW,
        Notified.SKIPPED,
        MatchState.UNKNOWN,
    )
    assert [m.body[2] for m in chat.top_level()] == [IPVS]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# Lifecycle


def test_changed_nodes_edit_the_message_and_reply_with_what_changed(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster(kernels=(OLD_KERNEL, OLD_KERNEL, NEW_KERNEL)))
    report = run(t, cluster(kernels=(OLD_KERNEL, NEW_KERNEL, NEW_KERNEL)), at=NOW + HOUR)
    assert outcome(report) == (Change.UPDATED, Notified.POSTED)
    original = chat.top_level()[0]
    assert [e.body for e in chat.edits] == [("updated", "prod-1", IPVS)]
    assert chat.edits[0].ts == original.ts and chat.edits[0].channel == original.channel
    reply = chat.replies(original.ts)[-1]
    assert reply.body[3] == ("nodes no longer affected (1): prod-1-node-2",)  # type: ignore[index]
    assert len(chat.top_level()) == 1


def test_a_cluster_read_as_not_affected_resolves_its_match(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster())
    report = run(t, cluster(kernels=(NEW_KERNEL,) * 3), at=NOW + HOUR)
    assert outcome(report) == (Change.RESOLVED, Notified.POSTED)
    original = chat.top_level()[0]
    assert [(e.body, e.ts) for e in chat.edits] == [(("resolved", "prod-1", IPVS), original.ts)]
    reason = chat.replies(original.ts)[-1].body[4]  # type: ignore[index]
    assert "2026-03-02 10:00" in reason and NEW_KERNEL in reason
    with store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
    assert match is not None and match.state is MatchState.RESOLVED
    # Affected again later: a new message, not a revival of the old one.
    again = run(t, cluster(), at=NOW + 2 * HOUR)
    assert outcome(again) == (Change.NEW, Notified.POSTED)
    assert len(chat.top_level()) == 2


def test_an_unreadable_cluster_makes_its_matches_stale_never_resolved(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster())
    down = run(t, unreadable(uid=None), at=NOW + HOUR)
    down_again = run(t, unreadable(uid=None), at=NOW + 2 * HOUR)
    assert outcome(down) == (Change.STALE, Notified.SKIPPED)
    assert down.clusters["prod-1"].unreadable_since == NOW + HOUR
    assert down_again.clusters["prod-1"].matches[IPVS].stale_since == NOW + HOUR
    with store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
        record = tx.cluster("uid-prod-1")
    assert match is not None and match.state is MatchState.OPEN
    assert match.stale_reason == "the cluster could not be read (unreachable): connection refused"
    assert record is not None and record.unreadable_since == NOW + HOUR
    back = run(t, cluster(), at=NOW + 3 * HOUR)
    assert outcome(back) == (Change.OPEN, Notified.SKIPPED)
    assert chat.edits == [] and len(chat.top_level()) == 1


def test_facts_that_became_unknown_make_the_match_stale(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster())
    report = run(t, cluster(mode=None), at=NOW + HOUR)
    assert outcome(report) == (Change.STALE, Notified.SKIPPED)
    with store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
    assert match is not None and match.state is MatchState.OPEN
    assert match.stale_reason is not None and "proxy-mode" in match.stale_reason
    assert chat.edits == []


def test_a_move_from_unknown_to_affected_is_new(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    first = run(t, cluster(mode=None))
    assert outcome(first) == (Change.NEW, Notified.SKIPPED)
    assert chat.messages == []
    second = run(t, cluster(), at=NOW + HOUR)
    assert outcome(second) == (Change.NEW, Notified.POSTED)
    assert [m.body for m in chat.top_level()] == [("new", "prod-1", IPVS)]


def test_a_cluster_removed_from_the_configuration_is_retired(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster("prod-1"), cluster("prod-2"), retire=True)
    report = run(t, cluster("prod-1"), at=NOW + HOUR, retire=True)
    assert report.retired == ("prod-2",)
    with store.transaction() as tx:
        states = {m.advisory_id: m.state for m in tx.matches("uid-prod-2")}
    assert states[IPVS] is MatchState.RETIRED
    assert MatchState.UNKNOWN not in states.values()
    # prod-2 is struck from the one post both were listed in.
    (post,) = chat.top_level()
    assert [(e.body, e.ts) for e in chat.edits] == [(("retired", "prod-2", IPVS), post.ts)]


def test_a_scan_of_part_of_the_fleet_retires_nothing(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster("prod-1"), cluster("prod-2"))
    report = run(t, cluster("prod-1"), at=NOW + HOUR, retire=False)
    assert report.retired == ()
    assert chat.edits == []


def test_a_name_that_now_points_at_another_cluster_closes_the_old_matches_as_replaced(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster("prod-1", uid="uid-old"))
    report = run(t, cluster("prod-1", uid="uid-new"), at=NOW + HOUR)
    assert report.clusters["prod-1"].replaced == "uid-old"
    assert outcome(report) == (Change.NEW, Notified.POSTED)
    with store.transaction() as tx:
        old = tx.match("uid-old", IPVS)
        old_cluster = tx.cluster("uid-old")
    assert old is not None and old.state is MatchState.REPLACED
    assert old_cluster is not None and old_cluster.replaced_by == "uid-new"
    # One post: the old cluster struck from it and the new one added, told in one reply.
    assert [e.body for e in chat.edits] == [("replaced", "prod-1", IPVS)]
    (post,) = chat.top_level()
    kind, events = chat.replies(post.ts)[-1].body  # type: ignore[misc]
    assert kind == "events" and [e[:2] for e in events] == [
        ("replaced", "prod-1"),
        ("new", "prod-1"),
    ]
    assert "uid-old -> uid-new" in events[0][3]


def test_an_advisory_withdrawn_from_the_catalog_retires_its_matches(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster())
    scanned = [(c, [m for m in ms if m.result.advisory.id != IPVS]) for c, ms in scan(cluster())]
    t.record(scanned, NOW + HOUR, source="test", catalog_version="next")
    with store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
    assert match is not None and match.state is MatchState.RETIRED
    assert match.close_reason == "the advisory is no longer in the catalog"


# ---------------------------------------------------------------------------------------------
# Who is told


def test_muted_matches_are_not_posted_until_the_mute_ends(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    with store.transaction() as tx:
        tx.add_mute(
            NOW,
            "kernel upgrade next week",
            "alice",
            advisory_id=IPVS,
            expires_at=NOW + 90 * timedelta(minutes=1),
        )
    t = tracker(store, chat, terminal)
    first = run(t, cluster())
    assert outcome(first) == (Change.NEW, Notified.MUTED)
    assert chat.messages == []
    later = run(t, cluster(), at=NOW + 2 * HOUR)
    assert outcome(later) == (Change.OPEN, Notified.POSTED)
    assert [m.body for m in chat.top_level()] == [("new", "prod-1", IPVS)]


def test_a_config_mute_by_cluster_name_holds_from_the_first_scan_and_its_expiry_announces(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    entry = ConfigMute(IPVS, "prod-1", "kernel upgrade next week", days=1)
    store.run(lambda tx: tx.sync_config_mutes([entry], NOW))
    t = tracker(store, chat, terminal)
    first = run(t, cluster("prod-1"), cluster("prod-2"))
    assert outcome(first) == (Change.NEW, Notified.MUTED)
    assert outcome(first, "prod-2") == (Change.NEW, Notified.POSTED)  # another cluster
    assert [m.body for m in chat.top_level()] == [("new", "prod-2", IPVS)]
    still = run(t, cluster("prod-1"), cluster("prod-2"), at=NOW + 23 * HOUR)
    assert outcome(still) == (Change.OPEN, Notified.MUTED)
    # The mute has ended: the match, still there, is announced as new, once.
    expired = run(t, cluster("prod-1"), cluster("prod-2"), at=NOW + 25 * HOUR)
    assert outcome(expired) == (Change.OPEN, Notified.POSTED)
    again = run(t, cluster("prod-1"), cluster("prod-2"), at=NOW + 26 * HOUR)
    assert outcome(again) == (Change.OPEN, Notified.SKIPPED)
    # prod-1 joins the advisory's post (an edit, told in its thread), once.
    assert [m.body for m in chat.top_level()] == [("new", "prod-2", IPVS)]
    assert [e.body for e in chat.edits] == [("new", "prod-1", IPVS)]


def test_a_config_mute_removed_from_the_file_announces_its_match_at_the_next_scan(
    store: Store, terminal: MemoryTerminal
) -> None:
    store.run(lambda tx: tx.sync_config_mutes([ConfigMute(IPVS, None, "known", days=30)], NOW))
    t = tracker(store, terminal, terminal, Routing())
    assert outcome(run(t, cluster())) == (Change.NEW, Notified.MUTED)
    assert terminal.printed == []
    store.run(lambda tx: tx.sync_config_mutes([], NOW + HOUR))
    assert outcome(run(t, cluster(), at=NOW + HOUR)) == (Change.OPEN, Notified.PRINTED)
    assert terminal.printed == [("new", "prod-1", IPVS)]


def test_a_dry_run_writes_no_state_and_posts_nothing(
    url: str, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    with Store.open(url) as store:
        run(tracker(store, chat, terminal), cluster())
        report = run(
            tracker(store, chat, terminal, dry_run=True),
            cluster(kernels=(NEW_KERNEL,) * 3),
            cluster("prod-2"),
            at=NOW + HOUR,
        )
        assert outcome(report) == (Change.RESOLVED, Notified.SKIPPED)
        assert outcome(report, "prod-2") == (Change.NEW, Notified.SKIPPED)
        with store.transaction() as tx:
            assert [c.name for c in tx.clusters()] == ["prod-1"]
            match = tx.match("uid-prod-1", IPVS)
            assert tx.scans("uid-prod-1")[0][0] == NOW
    assert match is not None and match.state is MatchState.OPEN
    # What the first scan posted (the baseline, the post and its node list), nothing more.
    assert len(chat.messages) == 3 and chat.edits == [] and terminal.printed == []


def test_demo_clusters_are_printed_never_posted(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    report = run(tracker(store, chat, terminal), cluster("demo-1", demo=True))
    assert outcome(report, "demo-1") == (Change.NEW, Notified.PRINTED)
    assert chat.messages == []
    assert terminal.printed == [("new", "demo-1", IPVS)]


def test_without_a_chat_service_new_matches_are_printed_once(
    store: Store, terminal: MemoryTerminal
) -> None:
    t = tracker(store, terminal, terminal, Routing())
    first = run(t, cluster())
    second = run(t, cluster(), at=NOW + HOUR)
    resolved = run(t, cluster(kernels=(NEW_KERNEL,) * 3), at=NOW + 2 * HOUR)
    assert outcome(first) == (Change.NEW, Notified.PRINTED)
    assert outcome(second) == (Change.OPEN, Notified.SKIPPED)
    assert outcome(resolved) == (Change.RESOLVED, Notified.PRINTED)
    assert terminal.printed == [("new", "prod-1", IPVS), ("resolved", "prod-1", IPVS)]


def test_matches_printed_before_slack_was_configured_are_posted_once_it_is(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    run(tracker(store, terminal, terminal, Routing()), cluster())
    report = run(tracker(store, chat, terminal), cluster(), at=NOW + HOUR)
    assert outcome(report) == (Change.OPEN, Notified.POSTED)
    assert [m.body for m in chat.top_level()] == [("new", "prod-1", IPVS)]


def test_clusters_are_routed_to_channels_by_their_labels(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    routing = Routing(
        "#net", (Route({"env": "prod"}, "#net-prod"), Route({"team": "edge"}, "#edge"))
    )
    run(
        tracker(store, chat, terminal, routing),
        cluster("a", labels={"env": "prod", "team": "edge"}),
        cluster("b", labels={"env": "dev", "team": "edge"}),
        cluster("c", labels={"env": "dev"}),
    )
    where = {m.body[1]: m.channel for m in chat.top_level()}  # type: ignore[index]
    assert where == {"a": "C-net-prod", "b": "C-edge", "c": "C-net"}


# ---------------------------------------------------------------------------------------------
# Racing scans


def test_two_scans_racing_on_one_database_post_each_match_once(url: str) -> None:
    chat = MemoryChat()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    fleet = [cluster(f"prod-{i}") for i in range(1, 6)]

    def worker() -> None:
        try:
            with Store.open(url) as store:
                t = Tracker(store, chat, MemoryTerminal(), Routing("#net"))
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
    # One post for the advisory, whichever scan posted it; every cluster told in it once.
    (post,) = chat.top_level()
    assert len(chat.baselines()) == 1
    with Store.open(url) as store, store.transaction() as tx:
        assert tx.intents(IntentState.PENDING) == []
        told = [tx.match(f"uid-{c.name}", IPVS) for c in fleet]
    assert [m.message if m else None for m in told] == [post.channel_ts()] * len(fleet)
    joined: list[str] = []
    for reply in chat.replies(post.ts):
        body: Any = reply.body
        if body[0] == "events":
            joined += [e[1] for e in body[1] if e[0] == "new"]
        elif body[0] == "new":
            joined.append(body[1])
    listed = str(post.body[1]).split(",")  # type: ignore[index]
    assert sorted(listed + joined) == sorted(c.name for c in fleet)
