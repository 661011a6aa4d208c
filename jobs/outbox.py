"""The outbox: every message the jobs intend to send, kept in the store and sent once.

What must be said is queued as an *intent* (a notice as JSON, a channel, and what it waits for)
in the same transaction as the state change it reports. :meth:`Outbox.deliver` then sends the
pending intents step by step (see :mod:`jobs.notify`), recording each step's result, so that a
run killed half-way resumes where it stopped:

- an intent is *claimed* with a lease (:data:`LEASE`) before it is delivered, so two workers
  never send it both; a worker that dies leaves it to others once the lease ends, or at once
  when it is a process of this host that is certainly gone (killed, or an earlier container
  with this PID): its last step may have been posted, so it is looked up before it is posted;
- a step that may have been stored (:class:`~jobs.notify.DeliveryUncertain`) is looked up by
  its marker in the channel's history before it is posted again;
- an intent that edits a message waits for the intent that posts it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from jobs.changes import Notified
from jobs.notices import (
    ClusterRef,
    Digest,
    MatchNotice,
    MessageRef,
    Notice,
    NoticeKind,
    PostMember,
    PostNotice,
    notice_from_json,
)
from jobs.notify import DeliveryUncertain, NotDelivered, Notifier, NotifyError, Posted, StepAction
from jobs.store import IntentRecord, IntentState, MatchState, PostRecord, Store, Tx

__all__ = [
    "BASELINE",
    "LEASE",
    "LOOKUP_MARGIN",
    "MAX_FAILURES",
    "DeliveryReport",
    "Outbox",
    "baseline_id",
    "holder_is_gone",
]

log = logging.getLogger(__name__)

LEASE: Final = timedelta(minutes=5)
"""How long a worker holds an intent it delivers; another may take it over after that."""
LOOKUP_MARGIN: Final = timedelta(minutes=10)
"""How far before an uncertain attempt the channel history is searched (clock skew)."""
MAX_FAILURES: Final = 3
"""A delivery pass stops after this many failed intents (the service is probably down)."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery pass did."""

    delivered: tuple[str, ...] = ()
    """Intent ids delivered completely."""
    pending: int = 0
    """Intents still waiting (failed, uncertain, waiting for another, or claimed elsewhere)."""
    errors: tuple[str, ...] = ()
    """One line per failure (channel and error; never a secret)."""
    permanent: tuple[str, ...] = ()
    """One line per failure that retrying will not fix, with what a person must do (a subset
    of ``errors``, in their words plus the fix)."""

    held: tuple[str, ...] = ()
    """Intents another worker was delivering (its lease had not ended): pending, not lost."""

    @property
    def posted(self) -> int:
        """Messages delivered by this pass, whichever scan or digest queued them."""
        return len(self.delivered)


BASELINE: Final = "baseline"
"""The intent kind of a channel's baseline (:class:`~jobs.notices.BaselineNotice`)."""
_MATCH_KINDS: Final = frozenset(k.value for k in NoticeKind)


def baseline_id(channel: str) -> str:
    """The intent id of ``channel``'s baseline: queued once, whoever queues it."""
    return hashlib.sha256(f"baseline\0{channel}".encode()).hexdigest()[:32]


def _grouped(intent: IntentRecord) -> bool:
    """A match notice, told in its advisory's grouped post."""
    return intent.kind in _MATCH_KINDS and bool(intent.advisory_id)


@dataclass(slots=True)
class _Pass:
    """What one delivery pass did so far."""

    done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    permanent: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    failures: int = 0


def _own_messages(
    tx: Tx, group: Sequence[IntentRecord], channel: str, advisory_id: str
) -> set[str]:
    """The intents of ``group`` about a match told in a message of its own (posted before
    posts were grouped): they edit that message."""
    post = tx.post(channel, advisory_id)
    matches = {m.cluster_uid: m for m in tx.advisory_matches(advisory_id, channel)}
    own: set[str] = set()
    for intent in group:
        if intent.kind == NoticeKind.NEW.value or intent.lead is not None:
            continue
        match = matches.get(intent.cluster_uid or "")
        if match is None or match.message is None:
            continue
        if post is None or match.message != post.message:
            own.add(intent.id)
    return own


def _post_notice(
    tx: Tx,
    channel: str,
    advisory_id: str,
    ids: frozenset[str],
    events: Sequence[Notice],
    at: datetime,
) -> tuple[PostNotice, MessageRef | None] | None:
    """The grouped post as it is now, and the message it edits (None: a new post); None when
    there is nothing to tell."""
    post = tx.post(channel, advisory_id)
    live = post if post is not None and post.closed_at is None else None
    mutes = tx.mutes(active_at=at)
    clusters = {c.uid: c for c in tx.clusters()}
    members: list[PostMember] = []
    for match in tx.advisory_matches(advisory_id, channel):
        shown = live is not None and match.message == live.message
        joining = match.message is None and match.post_intent in ids
        is_open = match.state is MatchState.OPEN
        if not ((is_open and (shown or joining)) or (match.state.closed and shown)):
            continue
        record = clusters.get(match.cluster_uid)
        cluster = (
            ClusterRef(record.name, record.uid, dict(record.labels), record.demo)
            if record is not None
            else ClusterRef(match.cluster_uid, match.cluster_uid)
        )
        muting = [
            m.expires_at
            for m in mutes
            if m.covers(match.cluster_uid, advisory_id, cluster.name) and m.expires_at
        ]
        members.append(
            PostMember(
                cluster=cluster,
                snapshot=match.snapshot,
                open=is_open,
                opened_at=match.opened_at,
                closed_at=None if is_open else match.closed_at,
                closed_as="" if is_open else match.state.value,
                changes=() if is_open else match.close_changes,
                reason="" if is_open else (match.close_reason or ""),
                stale_since=match.stale_since if is_open else None,
                muted_until=max(muting) if muting and is_open else None,
            )
        )
    uids = {m.cluster.uid for m in members}
    told = tuple(e for e in events if isinstance(e, MatchNotice) and e.cluster.uid in uids)
    if not members or not told:
        return None
    members.sort(key=lambda m: (not m.open, m.cluster.name))
    notice = PostNotice(
        channel,
        advisory_id,
        tuple(members),
        told,
        at,
        opened_at=live.opened_at if live is not None else None,
    )
    return notice, live.message if live is not None else None


_PROCESS: Final = uuid.uuid4().hex[:8]
"""This process's token in owner names: a restarted container has the same host name and PID."""


def holder_is_gone(owner: str | None) -> bool:
    """Whether the worker named ``owner`` is certainly dead: a process of this host (same host
    name) whose PID no longer runs, or an earlier process with this process's PID (a restarted
    container). A worker on another host, or of unknown shape, is never taken for dead: its
    lease decides."""
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return parts[2] != _PROCESS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    return False


class Outbox:
    """Intents in ``store``, delivered through ``notifier`` by the worker named ``owner``."""

    def __init__(self, store: Store, notifier: Notifier, *, owner: str | None = None) -> None:
        self.store = store
        self.notifier = notifier
        self.owner = owner or (
            f"{socket.gethostname()}:{os.getpid()}:{_PROCESS}:{uuid.uuid4().hex[:8]}"
        )

    def queue_digest(self, digest: Digest, channel: str, now: datetime) -> str:
        """Queue a digest for ``channel`` and record it as the channel's last digest."""

        def work(tx: Tx) -> str:
            tx.set_last_digest(channel, now)
            return tx.add_intent(now, channel, "digest", digest.to_json())

        intent: str = self.store.run(work)
        return intent

    def deliver(self, clock: Callable[[], datetime]) -> DeliveryReport:
        """Send every pending intent, oldest first, recording each step as it is done.

        A channel's baseline goes before anything else there. The match notices of one
        advisory in one channel are told together, in its grouped post (:meth:`_deliver_post`).
        Intents another worker holds, or that wait for an intent not yet delivered, stay
        pending. A failure leaves its intent pending for the next pass; after an uncertain
        failure the next pass searches the channel for the message before posting again.
        """
        pending = self.store.run(lambda tx: tx.intents(IntentState.PENDING))
        pending.sort(key=lambda i: (i.kind != BASELINE, i.seq))
        run = _Pass()
        handled: set[str] = set()
        for intent in pending:
            if run.failures >= MAX_FAILURES:
                break
            if intent.id in handled or intent.channel in run.blocked:
                continue
            if _grouped(intent):
                group = [
                    i
                    for i in pending
                    if _grouped(i)
                    and i.id not in handled
                    and (i.channel, i.advisory_id) == (intent.channel, intent.advisory_id)
                ]
                handled.update(i.id for i in group)
                self._deliver_group(group, clock, run)
                continue
            handled.add(intent.id)
            self._deliver_single(intent, clock, run)
        remaining = len(pending) - len(run.done)
        return DeliveryReport(
            tuple(run.done), remaining, tuple(run.errors), tuple(run.permanent), tuple(run.held)
        )

    def _deliver_single(
        self, intent: IntentRecord, clock: Callable[[], datetime], run: _Pass
    ) -> None:
        if intent.depends_on:
            first = self.store.run(lambda tx, i=intent: tx.intent(i.depends_on or ""))
            if first is not None and first.state is IntentState.PENDING:
                return
        if not self._claim([intent], clock, run):
            return
        try:
            self._deliver_one(intent, clock)
            run.done.append(intent.id)
        except NotifyError as exc:
            self._failed(intent, exc, run)
        finally:
            self.store.run(lambda tx, i=intent: tx.release_intent(i.id, self.owner))

    def _claim(
        self, intents: Sequence[IntentRecord], clock: Callable[[], datetime], run: _Pass
    ) -> bool:
        """Claim every one of ``intents`` or none (another worker holds one: left to it)."""
        claimed: list[IntentRecord] = []
        for intent in intents:
            gone = intent.claimed_by if holder_is_gone(intent.claimed_by) else None
            if gone is not None:
                log.info("taking over intent %s from %s, a process that is gone", intent.id, gone)
            if not self.store.run(
                lambda tx, i=intent, g=gone: tx.claim_intent(
                    i.id, self.owner, clock(), LEASE, take_over_from=g
                )
            ):
                run.held.append(f"{intent.kind} message for {intent.channel}")
                for taken in claimed:
                    self.store.run(lambda tx, i=taken: tx.release_intent(i.id, self.owner))
                return False
            claimed.append(intent)
        return True

    def _failed(self, intent: IntentRecord, exc: NotifyError, run: _Pass) -> None:
        run.failures += 1
        message = f"{intent.kind} message for {intent.channel}: {exc}"
        run.errors.append(message)
        log.warning("not delivered: %s", message)
        if isinstance(exc, NotDelivered) and exc.permanent:
            run.permanent.append(f"{message}: {exc.fix}")
        maybe = isinstance(exc, DeliveryUncertain)
        self.store.run(
            lambda tx, i=intent, e=exc, m=maybe: tx.fail_step(i.id, str(e), maybe_posted=m)
        )
        if isinstance(exc, NotDelivered) and exc.channel_problem:
            run.blocked.add(intent.channel)

    # -- grouped posts ------------------------------------------------------------------------

    def _deliver_group(
        self, group: list[IntentRecord], clock: Callable[[], datetime], run: _Pass
    ) -> None:
        """Tell the match notices of one (channel, advisory) in its grouped post.

        Notices about a match told in an older message of its own (before posts were grouped)
        edit that message, as they always did. The others are delivered in *batches*: a lead
        intent carries the delivery of the intents queued when it started (recorded before
        the first call, so that a delivery killed half-way resumes with the same batch); what
        is queued later waits for the next batch.
        """
        channel, advisory_id = group[0].channel, group[0].advisory_id or ""
        own = self.store.run(lambda tx: _own_messages(tx, group, channel, advisory_id))
        for intent in group:
            if intent.id in own:
                if intent.channel in run.blocked or run.failures >= MAX_FAILURES:
                    return
                self._deliver_single(intent, clock, run)
        rest = [i for i in group if i.id not in own]
        if not rest or not self._claim(rest, clock, run):
            return
        try:
            while rest:
                leads = [i for i in rest if i.lead == i.id]
                lead = leads[0] if leads else rest[0]
                batch = [i for i in rest if i.lead == lead.id]
                if not (lead.progress or lead.attempt_step is not None):
                    # Nothing of this delivery reached Slack yet: what was queued since joins it.
                    joining = [i for i in rest if i.lead is None]
                    ids = [i.id for i in joining]
                    self.store.run(lambda tx, first=lead.id, b=ids: tx.lead_intents(first, b))
                    batch += [replace(i, lead=lead.id) for i in joining]
                    lead = replace(lead, lead=lead.id)
                try:
                    self._deliver_batch(lead, batch, clock)
                except NotifyError as exc:
                    self._failed(lead, exc, run)
                    return
                run.done.extend(i.id for i in batch)
                taken = {i.id for i in batch}
                rest = [i for i in rest if i.id not in taken]
        finally:
            for intent in group:
                if intent.id not in own:
                    self.store.run(lambda tx, i=intent: tx.release_intent(i.id, self.owner))

    def _deliver_batch(
        self, lead: IntentRecord, batch: Sequence[IntentRecord], clock: Callable[[], datetime]
    ) -> None:
        channel, advisory_id = lead.channel, lead.advisory_id or ""
        ids = frozenset(i.id for i in batch)
        events = [notice_from_json(i.notice) for i in sorted(batch, key=lambda i: i.seq)]
        at = clock()
        built = self.store.run(lambda tx: _post_notice(tx, channel, advisory_id, ids, events, at))
        if built is None:
            # Nothing left to say (every match it concerned closed before it was ever told).
            def cancel(tx: Tx) -> None:
                for intent_id in ids:
                    tx.close_intent(intent_id, clock(), IntentState.CANCELLED)

            self.store.run(cancel)
            return
        notice, original = built
        progress = self._run_steps(lead, notice, original, clock)

        def finish(tx: Tx) -> None:
            for intent_id in ids:
                tx.close_intent(intent_id, clock())
            post = tx.post(channel, advisory_id)
            now = clock()
            if original is None:
                ref = MessageRef(*progress["0"])
                post = PostRecord(channel, advisory_id, ref, now, now)
            else:
                assert post is not None
                ref = original
                post = replace(post, changed_at=now)
            if notice.closed:
                post = replace(post, closed_at=post.closed_at or now)
            tx.save_post(post)
            for member in notice.members:
                match = tx.match(member.cluster.uid, advisory_id)
                if match is not None and match.post_intent in ids and match.message is None:
                    tx.save_match(replace(match, message=ref, notified=Notified.POSTED.value))

        self.store.run(finish)

    def _run_steps(
        self,
        intent: IntentRecord,
        notice: Notice,
        original: MessageRef | None,
        clock: Callable[[], datetime],
    ) -> dict[str, tuple[str, str]]:
        """Perform the steps of ``notice``'s plan that ``intent`` has not recorded yet."""
        store = self.store
        steps = self.notifier.plan(notice, intent.id, intent.channel, original)
        progress = dict(intent.progress)
        for number, step in enumerate(steps):
            key = str(number)
            if key in progress:
                continue
            thread = step.thread
            if step.action is StepAction.REPLY and thread is None and step.parent is not None:
                thread = progress[str(step.parent)][1]
            posted: Posted | None = None
            if step.action is StepAction.UPDATE:
                posted = self.notifier.perform(step, thread)
            else:
                if intent.attempt_step == number and intent.attempt_at is not None:
                    since = intent.attempt_at - LOOKUP_MARGIN
                    try:
                        posted = self.notifier.lookup(step, thread, since)
                    except NotifyError as exc:
                        # Still not known whether the earlier attempt posted: never post blind.
                        raise DeliveryUncertain(
                            f"cannot tell whether an earlier attempt posted: {exc}",
                            channel=exc.channel,
                            method=exc.method,
                        ) from exc
                    if posted is not None:
                        log.info(
                            "found message %s of an earlier attempt; not posting again", step.marker
                        )
                if posted is None:
                    store.run(lambda tx, n=number: tx.start_step(intent.id, n, clock()))
                    posted = self.notifier.perform(step, thread)
            store.run(lambda tx, n=number, p=posted: tx.finish_step(intent.id, n, p.channel, p.ts))
            progress[key] = (posted.channel, posted.ts)
        return progress

    def _deliver_one(self, intent: IntentRecord, clock: Callable[[], datetime]) -> None:
        store = self.store
        notice = notice_from_json(intent.notice)
        original: MessageRef | None = None
        if isinstance(notice, MatchNotice) and notice.kind is not NoticeKind.NEW:
            match = store.run(
                lambda tx: tx.match(intent.cluster_uid or "", intent.advisory_id or "")
            )
            original = match.message if match is not None else None
            if original is None:
                # The message it would edit was never posted: nothing to correct.
                store.run(lambda tx: tx.close_intent(intent.id, clock(), IntentState.CANCELLED))
                return
        progress = self._run_steps(intent, notice, original, clock)

        def finish(tx: Tx) -> None:
            tx.close_intent(intent.id, clock())
            if isinstance(notice, MatchNotice) and notice.kind is NoticeKind.NEW and progress:
                match = tx.match(intent.cluster_uid or "", intent.advisory_id or "")
                if match is not None and match.post_intent == intent.id:
                    channel, ts = progress["0"]
                    tx.save_match(
                        replace(
                            match, message=MessageRef(channel, ts), notified=Notified.POSTED.value
                        )
                    )

        store.run(finish)
