"""In-memory notifiers for the tracking tests: a chat service that remembers every message and
can be told to fail, and a terminal that remembers what it printed."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.notices import Digest, MatchNotice, MessageRef, NoticeKind
from jobs.notify import DeliveryUncertain, NotDelivered, Posted, Step, StepAction

__all__ = ["Killed", "MemoryChat", "MemoryTerminal", "Sent"]


class Killed(BaseException):
    """Stands for the process being killed (not an Exception: nothing catches it)."""


@dataclass(frozen=True)
class Sent:
    """A message the chat service stored (or an edit it applied)."""

    action: StepAction
    channel: str
    ts: str
    marker: str
    body: object
    thread: str | None = None

    def channel_ts(self) -> MessageRef:
        """Where the message is, as the store records it."""
        return MessageRef(self.channel, self.ts)


def _plan(
    notice: MatchNotice | Digest, intent: str, channel: str, original: MessageRef | None
) -> list[Step]:
    if isinstance(notice, Digest):
        return [Step(StepAction.POST, channel, ("digest", notice.channel), f"{intent}/0")]
    body = (notice.kind.value, notice.cluster.name, notice.snapshot.advisory_id)
    if notice.kind is NoticeKind.NEW:
        return [
            Step(StepAction.POST, channel, body, f"{intent}/0"),
            Step(
                StepAction.REPLY,
                channel,
                ("nodes", notice.snapshot.affected_nodes),
                f"{intent}/1",
                parent=0,
            ),
        ]
    assert original is not None
    return [
        Step(StepAction.UPDATE, original.channel, body, f"{intent}/0", thread=original.ts),
        Step(
            StepAction.REPLY,
            original.channel,
            (*body, notice.changes, notice.reason),
            f"{intent}/1",
            thread=original.ts,
        ),
    ]


class MemoryChat:
    """A chat service in memory. ``failures`` holds what the next calls do instead of succeeding:

    ``"refused"`` (NotDelivered), ``"channel"`` (NotDelivered, channel problem), ``"lost"``
    (DeliveryUncertain, not stored), ``"stored-then-500"`` (stored, then DeliveryUncertain),
    ``"killed"`` (stored, then the process dies).
    """

    posts = True

    def __init__(self) -> None:
        self.messages: list[Sent] = []
        self.edits: list[Sent] = []
        self.failures: list[str] = []
        self.lookups = 0
        self._lock = threading.Lock()
        self._clock = 1_700_000_000

    def plan(
        self, notice: MatchNotice | Digest, intent: str, channel: str, original: MessageRef | None
    ) -> Sequence[Step]:
        return _plan(notice, intent, channel, original)

    def perform(self, step: Step, thread: str | None) -> Posted:
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
            if failure == "refused":
                raise NotDelivered("invalid_auth", channel=step.channel, method="chat.postMessage")
            if failure == "channel":
                raise NotDelivered(
                    "channel_not_found",
                    channel=step.channel,
                    method="chat.postMessage",
                    channel_problem=True,
                )
            if failure == "lost":
                raise DeliveryUncertain("connection reset", channel=step.channel)
            channel = "C-" + step.channel.lstrip("#")
            if step.action is StepAction.UPDATE:
                assert step.thread is not None
                self.edits.append(
                    Sent(step.action, step.channel, step.thread, step.marker, step.body)
                )
                return Posted(step.channel, step.thread)
            self._clock += 1
            sent = Sent(
                step.action, channel, f"{self._clock}.000100", step.marker, step.body, thread
            )
            self.messages.append(sent)
        if failure == "stored-then-500":
            raise DeliveryUncertain("HTTP 500", channel=step.channel)
        if failure == "killed":
            raise Killed
        return Posted(sent.channel, sent.ts)

    def lookup(self, step: Step, thread: str | None, since: datetime) -> Posted | None:
        with self._lock:
            self.lookups += 1
            for sent in self.messages:
                if sent.marker == step.marker:
                    return Posted(sent.channel, sent.ts)
        return None

    def top_level(self) -> list[Sent]:
        """Messages that are not thread replies."""
        return [m for m in self.messages if m.thread is None]

    def replies(self, ts: str) -> list[Sent]:
        """Replies in the thread of ``ts``."""
        return [m for m in self.messages if m.thread == ts]


class MemoryTerminal:
    """A terminal that remembers each printed notice as (kind, cluster, advisory)."""

    posts = False

    def __init__(self) -> None:
        self.printed: list[tuple[str, str, str]] = []

    def plan(
        self, notice: MatchNotice | Digest, intent: str, channel: str, original: MessageRef | None
    ) -> Sequence[Step]:
        if isinstance(notice, Digest):
            return [Step(StepAction.POST, channel, ("digest", "", notice.channel), "")]
        body = (notice.kind.value, notice.cluster.name, notice.snapshot.advisory_id)
        return [Step(StepAction.POST, channel, body, "")]

    def perform(self, step: Step, thread: str | None) -> Posted:
        assert isinstance(step.body, tuple)
        self.printed.append(step.body)
        return Posted("terminal", str(len(self.printed)))

    def lookup(self, step: Step, thread: str | None, since: datetime) -> Posted | None:
        return None
