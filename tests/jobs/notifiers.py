"""In-memory notifiers for the tracking tests: a chat service that remembers every message and
can be told to fail, and a terminal that remembers what it printed."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jobs.notices import BaselineNotice, Digest, MatchNotice, MessageRef, NoticeKind, PostNotice
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


Notice = MatchNotice | Digest | PostNotice | BaselineNotice


def _plan(notice: Notice, intent: str, channel: str, original: MessageRef | None) -> list[Step]:
    if isinstance(notice, Digest):
        return [Step(StepAction.POST, channel, ("digest", notice.channel), f"{intent}/0")]
    if isinstance(notice, BaselineNotice):
        return [Step(StepAction.POST, channel, ("baseline", notice.channel), f"{intent}/0")]
    if isinstance(notice, PostNotice):
        return _post_plan(notice, intent, channel, original)
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


def _post_plan(
    notice: PostNotice, intent: str, channel: str, original: MessageRef | None
) -> list[Step]:
    """A grouped post: (kind, the clusters it lists, advisory); the first event names the kind
    of an edit, and the reply carries every event's (kind, cluster, changes, reason)."""
    names = ",".join(m.cluster.name for m in notice.members if m.open) or "-"
    if original is None:
        nodes = tuple(n for m in notice.members for n in m.snapshot.affected_nodes)
        return [
            Step(StepAction.POST, channel, ("new", names, notice.advisory_id), f"{intent}/0"),
            Step(StepAction.REPLY, channel, ("nodes", nodes), f"{intent}/1", parent=0),
        ]
    first = notice.events[0]
    body = (first.kind.value, first.cluster.name, notice.advisory_id)
    if notice.closed:
        body = ("resolved" if first.kind is NoticeKind.RESOLVED else first.kind.value,
                first.cluster.name, notice.advisory_id)  # fmt: skip
    events = tuple((e.kind.value, e.cluster.name, e.changes, e.reason) for e in notice.events)
    reply = (*body, first.changes, first.reason) if len(events) == 1 else ("events", events)
    return [
        Step(StepAction.UPDATE, original.channel, body, f"{intent}/0", thread=original.ts),
        Step(StepAction.REPLY, original.channel, reply, f"{intent}/1", thread=original.ts),
    ]


def _baseline(sent: Sent) -> bool:
    return isinstance(sent.body, tuple) and sent.body[:1] == ("baseline",)


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
        self.baseline_failures: list[str] = []
        self.lookups = 0
        self._lock = threading.Lock()
        self._clock = 1_700_000_000

    def plan(
        self, notice: Notice, intent: str, channel: str, original: MessageRef | None
    ) -> Sequence[Step]:
        return _plan(notice, intent, channel, original)

    def posts_about(self, advisory_id: str) -> list[Sent]:
        """Top-level grouped posts about one advisory."""
        return [
            m
            for m in self.top_level()
            if isinstance(m.body, tuple) and len(m.body) == 3 and m.body[2] == advisory_id
        ]

    def perform(self, step: Step, thread: str | None) -> Posted:
        with self._lock:
            # The failures are meant for the match posts; a channel's baseline has its own.
            queue = self.baseline_failures if step.body[:1] == ("baseline",) else self.failures
            failure = queue.pop(0) if queue else None
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
        """Messages that are not thread replies (nor a channel's baseline)."""
        return [m for m in self.messages if m.thread is None and not _baseline(m)]

    def baselines(self) -> list[Sent]:
        """The baselines posted, one per channel at most."""
        return [m for m in self.messages if _baseline(m)]

    def replies(self, ts: str) -> list[Sent]:
        """Replies in the thread of ``ts``."""
        return [m for m in self.messages if m.thread == ts]


class MemoryTerminal:
    """A terminal that remembers each printed notice as (kind, cluster, advisory)."""

    posts = False

    def __init__(self) -> None:
        self.printed: list[tuple[str, str, str]] = []

    def plan(
        self, notice: Notice, intent: str, channel: str, original: MessageRef | None
    ) -> Sequence[Step]:
        if isinstance(notice, BaselineNotice | PostNotice):
            raise AssertionError("the terminal is never given grouped posts")
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
