"""The outbox: each message told once, whatever fails in between (a failed post, a 500 after the
message was stored, a killed process, a lease, an edit waiting for its message). Every flow runs
on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from jobs.changes import Change, Notified
from jobs.notices import Digest, MessageRef
from jobs.outbox import DeliveryReport, Outbox, holder_is_gone
from jobs.store import IntentState, Store, schema
from tests.jobs.notifiers import Killed, MemoryChat, MemoryTerminal
from tests.jobs.recording import HOUR, NEW_KERNEL, NOW, OLD_KERNEL, outcome, run, tracker
from tests.tracked_fleet import IPVS, cluster

# ---------------------------------------------------------------------------------------------
# Posting once


def test_a_failed_post_is_retried_on_the_next_scan(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    chat.failures = ["channel"]
    first = run(t, cluster())
    assert outcome(first) == (Change.NEW, Notified.SKIPPED)
    assert first.delivery.errors and "channel_not_found" in first.delivery.errors[0]
    assert chat.top_level() == [] and len(chat.baselines()) == 1
    second = run(t, cluster(), at=NOW + HOUR)
    assert outcome(second) == (Change.OPEN, Notified.SKIPPED)
    assert second.delivery.pending == 0
    assert [m.body for m in chat.top_level()] == [("new", "prod-1", IPVS)]
    assert chat.lookups == 0  # a refused post is known not to exist: no search needed


def test_a_500_after_the_message_was_stored_does_not_duplicate_it(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    chat.failures = ["stored-then-500"]
    run(t, cluster())
    assert len(chat.top_level()) == 1
    run(t, cluster(), at=NOW + HOUR)
    assert len(chat.top_level()) == 1
    assert chat.lookups == 1
    # The intent resumed after the found message: its node list reply was posted, once.
    assert len(chat.replies(chat.top_level()[0].ts)) == 1
    with store.transaction() as tx:
        match = tx.match("uid-prod-1", IPVS)
    assert match is not None and match.message == chat.top_level()[0].channel_ts()


def test_a_lost_post_that_was_not_stored_is_posted_after_looking(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    chat.failures = ["lost"]
    run(t, cluster())
    assert chat.top_level() == []
    run(t, cluster(), at=NOW + HOUR)
    assert chat.lookups == 1
    assert len(chat.top_level()) == 1


def test_a_process_killed_between_post_and_record_does_not_duplicate(
    url: str, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    with Store.open(url) as store:
        chat.failures = ["killed"]
        with pytest.raises(Killed):
            run(tracker(store, chat, terminal), cluster())
    assert len(chat.top_level()) == 1
    # A new process, after the dead one's lease ran out.
    with Store.open(url) as store:
        report = run(tracker(store, chat, terminal), cluster(), at=NOW + HOUR)
    assert outcome(report) == (Change.OPEN, Notified.SKIPPED)
    assert len(chat.top_level()) == 1 and chat.lookups == 1


def test_a_killed_process_leaves_its_intent_to_others_only_after_the_lease(
    url: str, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    with Store.open(url) as store:
        chat.failures = ["killed"]
        with pytest.raises(Killed):
            run(tracker(store, chat, terminal, owner="dead"), cluster())
        # Pretend the dead process still holds it (a real kill skips every finally).
        with store.transaction() as tx:
            intent = tx.intents(IntentState.PENDING)[0]
            tx.claim_intent(intent.id, "dead", NOW, timedelta(minutes=5))
        soon = tracker(store, chat, terminal).deliver(lambda: NOW + timedelta(minutes=1))
        later = tracker(store, chat, terminal).deliver(lambda: NOW + timedelta(minutes=6))
    assert soon.delivered == () and soon.pending == 1
    assert later.delivered == (intent.id,)
    assert len(chat.top_level()) == 1


def _owner_of(pid: int, process: str = "0000aaaa") -> str:
    """An outbox owner name as a process of this host with ``pid`` writes it."""
    return f"{socket.gethostname()}:{pid}:{process}:0000bbbb"


def test_a_lease_held_by_a_killed_process_of_this_host_is_taken_over_at_once(
    url: str, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    # A process that ran on this host and is gone (as after kill -9: no finally ran).
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    dead = _owner_of(int(ended.stdout))
    alive = _owner_of(os.getppid())  # the process that started the tests: still running
    assert holder_is_gone(dead) and not holder_is_gone(alive)
    assert not holder_is_gone("worker-b") and not holder_is_gone(None)
    with Store.open(url) as store:
        chat.failures = ["killed"]  # posted, then the process dies before recording it
        with pytest.raises(Killed):
            run(tracker(store, chat, terminal, owner=alive), cluster())
        with store.transaction() as tx:
            intent = tx.intents(IntentState.PENDING)[0]
            tx.claim_intent(intent.id, alive, NOW, timedelta(minutes=5))
        # Held by a live worker: pending, and said so, until its lease ends.
        waiting = tracker(store, chat, terminal).deliver(lambda: NOW + timedelta(minutes=1))
        assert waiting.delivered == () and waiting.held == ("new message for #net",)
        # Held by a dead one: the recovery scan delivers it at once, without posting it twice.
        with store.transaction() as tx:
            tx.release_intent(intent.id, alive)
            tx.claim_intent(intent.id, dead, NOW, timedelta(minutes=5))
        recovered = tracker(store, chat, terminal).deliver(lambda: NOW + timedelta(minutes=1))
    assert recovered.delivered == (intent.id,) and recovered.held == ()
    assert len(chat.top_level()) == 1 and chat.lookups == 1
    # The channel's baseline, the match and its nodes' reply, each once.
    assert len(chat.baselines()) == 1 and len(chat.messages) == 3


def test_an_update_queued_before_its_post_went_out_is_told_by_the_post(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    chat.failures = ["refused"]
    run(t, cluster(kernels=(OLD_KERNEL, OLD_KERNEL)))
    chat.failures = ["refused"]
    run(t, cluster(kernels=(OLD_KERNEL, NEW_KERNEL)), at=NOW + HOUR)
    assert chat.top_level() == [] and chat.edits == []
    run(t, cluster(kernels=(OLD_KERNEL, NEW_KERNEL)), at=NOW + 2 * HOUR)
    # The post and the update queued after it went out together: one post, as it is now (one
    # node affected), and nothing to edit.
    (post,) = chat.top_level()
    assert chat.edits == []
    (nodes,) = chat.replies(post.ts)
    assert nodes.body == ("nodes", ("prod-1-node-1",))
    with store.transaction() as tx:
        assert tx.intents(IntentState.PENDING) == []


# ---------------------------------------------------------------------------------------------
# The outbox on its own


def test_a_queued_digest_is_delivered_once_whichever_worker_passes_next(
    store: Store, chat: MemoryChat
) -> None:
    digest = Digest(channel="#net", at=NOW, since=None, clusters=1)
    first = Outbox(store, chat, owner="replica-a")
    intent = first.queue_digest(digest, "#net", NOW)
    with store.transaction() as tx:
        assert tx.last_digest("#net") == NOW
        assert [i.state for i in tx.intents()] == [IntentState.PENDING]
    chat.failures = ["lost"]
    failed = first.deliver(lambda: NOW)
    assert failed.delivered == () and failed.pending == 1
    assert failed.errors and "connection reset" in failed.errors[0]
    done = Outbox(store, chat, owner="replica-b").deliver(lambda: NOW + HOUR)
    assert done == DeliveryReport((intent,), 0, ())
    assert [(m.channel, m.marker) for m in chat.top_level()] == [("C-net", f"{intent}/0")]
    assert chat.lookups == 1  # the uncertain attempt was looked for before posting again
    assert first.deliver(lambda: NOW + 2 * HOUR) == DeliveryReport()
    assert len(chat.messages) == 1


def test_a_match_told_in_a_message_of_its_own_before_posts_were_grouped_edits_that_message(
    store: Store, chat: MemoryChat, terminal: MemoryTerminal
) -> None:
    t = tracker(store, chat, terminal)
    run(t, cluster())
    # As a database upgraded from before grouped posts holds it: the match's own message, no
    # grouped post.
    legacy = MessageRef("C-net", "1600000000.000100")

    def downgrade(tx: Any) -> None:
        tx.conn.execute(delete(schema.posts))
        match = tx.match("uid-prod-1", IPVS)
        tx.save_match(replace(match, message=legacy))

    store.run(downgrade)
    run(t, cluster(kernels=(NEW_KERNEL,) * 3), at=NOW + HOUR)
    # The resolution edits the match's own message, as it always did, and replies there.
    assert [(e.body, e.ts) for e in chat.edits] == [(("resolved", "prod-1", IPVS), legacy.ts)]
    assert [r.thread for r in chat.messages if r.thread == legacy.ts] == [legacy.ts]
    with store.transaction() as tx:
        assert tx.posts() == [] and tx.intents(IntentState.PENDING) == []
