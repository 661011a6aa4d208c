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

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from jobs.changes import Notified
from jobs.notices import Digest, MatchNotice, MessageRef, NoticeKind, notice_from_json
from jobs.notify import DeliveryUncertain, NotDelivered, Notifier, NotifyError, Posted, StepAction
from jobs.store import IntentRecord, IntentState, Store, Tx

__all__ = ["LEASE", "LOOKUP_MARGIN", "MAX_FAILURES", "DeliveryReport", "Outbox", "holder_is_gone"]

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

        Intents another worker holds, or that wait for an intent not yet delivered, stay
        pending. A failure leaves its intent pending for the next pass; after an uncertain
        failure the next pass searches the channel for the message before posting again.
        """
        pending = self.store.run(lambda tx: tx.intents(IntentState.PENDING))
        done: list[str] = []
        errors: list[str] = []
        permanent: list[str] = []
        held: list[str] = []
        blocked_channels: set[str] = set()
        failures = 0
        for intent in pending:
            if failures >= MAX_FAILURES:
                break
            if intent.channel in blocked_channels:
                continue
            if intent.depends_on:
                first = self.store.run(lambda tx, i=intent: tx.intent(i.depends_on or ""))
                if first is not None and first.state is IntentState.PENDING:
                    continue
            gone = intent.claimed_by if holder_is_gone(intent.claimed_by) else None
            if gone is not None:
                log.info("taking over intent %s from %s, a process that is gone", intent.id, gone)
            if not self.store.run(
                lambda tx, i=intent, g=gone: tx.claim_intent(
                    i.id, self.owner, clock(), LEASE, take_over_from=g
                )
            ):
                held.append(f"{intent.kind} message for {intent.channel}")
                continue
            try:
                self._deliver_one(intent, clock)
                done.append(intent.id)
            except NotifyError as exc:
                failures += 1
                message = f"{intent.kind} message for {intent.channel}: {exc}"
                errors.append(message)
                log.warning("not delivered: %s", message)
                if isinstance(exc, NotDelivered) and exc.permanent:
                    permanent.append(f"{message}: {exc.fix}")
                maybe = isinstance(exc, DeliveryUncertain)
                self.store.run(
                    lambda tx, i=intent, e=exc, m=maybe: tx.fail_step(i.id, str(e), maybe_posted=m)
                )
                if isinstance(exc, NotDelivered) and exc.channel_problem:
                    blocked_channels.add(intent.channel)
            finally:
                self.store.run(lambda tx, i=intent: tx.release_intent(i.id, self.owner))
        remaining = len(pending) - len(done)
        return DeliveryReport(tuple(done), remaining, tuple(errors), tuple(permanent), tuple(held))

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
