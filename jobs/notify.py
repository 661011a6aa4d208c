"""The port through which the jobs tell people what they decided to say.

The jobs decide *what* to say (the values of :mod:`jobs.notices`) and keep a durable record of
every message they intend to send; a :class:`Notifier` decides *how* it looks and sends it
(Slack Block Kit in ``bot/slack``, plain text on the terminal). A notice becomes a short plan of
:class:`Step` s (post, reply in a thread, edit a message); the jobs run the plan one step at a
time and record each step's result, so that a run killed half-way resumes where it stopped.

Posting has no idempotency key, so every posted step carries a *marker* (intent id and step
number) in the message's metadata: after an uncertain failure the jobs ask the notifier to
:meth:`Notifier.lookup` the marker before posting again.

Errors::

    NotifyError              a step failed; carries the channel and the method
    ├── NotDelivered         the message was certainly not stored: safe to try again
    └── DeliveryUncertain    it may have been stored (5xx, connection lost): look before retrying
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from jobs.notices import SEVERITIES, MessageRef, Notice, severity_rank

__all__ = [
    "DeliveryUncertain",
    "NotDelivered",
    "Notifier",
    "NotifyError",
    "Posted",
    "Route",
    "Routing",
    "Step",
    "StepAction",
    "severe_enough",
]


class NotifyError(Exception):
    """A notification step failed. ``channel`` and ``method`` say where; never a secret."""

    def __init__(self, message: str, *, channel: str = "", method: str = "") -> None:
        self.channel = channel
        self.method = method
        where = " ".join(p for p in (method, f"in {channel}" if channel else "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class NotDelivered(NotifyError):
    """The message was certainly not stored (an ``ok: false`` answer, a 4xx, rate limited).

    ``channel_problem`` is True when the error concerns the channel only (not found, archived,
    bot not invited): other channels can still be served. ``fix`` is set when retrying will not
    help (the app is not in the channel, the token is revoked, a scope is missing): what a
    person must do, naming the channel.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str = "",
        method: str = "",
        channel_problem: bool = False,
        fix: str = "",
    ) -> None:
        super().__init__(message, channel=channel, method=method)
        self.channel_problem = channel_problem
        self.fix = fix

    @property
    def permanent(self) -> bool:
        """Whether retrying will not deliver it until a person acts (see ``fix``)."""
        return bool(self.fix)


class DeliveryUncertain(NotifyError):
    """The message may or may not have been stored (5xx, timeout, connection lost)."""


@dataclass(frozen=True, slots=True)
class Posted:
    """The result of a step: where the message now is."""

    channel: str
    """The channel ID (the service's answer, also when the step named the channel by name)."""
    ts: str


class StepAction(Enum):
    """What a step does."""

    POST = "post"
    """A new top-level message in ``channel``."""
    REPLY = "reply"
    """A reply in a thread: of ``thread`` if set, else of this plan's step ``parent``."""
    UPDATE = "update"
    """Replace the content of the message ``thread`` names (an edit is safe to repeat)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a notification plan. ``body`` is the notifier's own rendering."""

    action: StepAction
    channel: str
    """Where: the configured channel (ID or name), or the channel ID of an earlier message."""
    body: Any
    marker: str
    """``<intent id>/<step number>``: carried in the message's metadata, found by lookup."""
    thread: str | None = None
    """REPLY: ts of the thread's first message, if known when planning; UPDATE: ts to edit."""
    parent: int | None = None
    """REPLY in a thread started by this plan: the number of the step that posted it."""


@runtime_checkable
class Notifier(Protocol):
    """Where notices go (Slack, the terminal). Implementations live in ``bot``."""

    @property
    def posts(self) -> bool:
        """True when messages reach a chat service (notified = posted), False when printed."""
        ...

    def plan(
        self,
        notice: Notice,
        intent: str,
        channel: str,
        original: MessageRef | None,
    ) -> Sequence[Step]:
        """The steps that tell ``notice`` in ``channel``; ``original`` is the match's message.

        Step ``i`` carries the marker ``<intent>/<i>``. Pure: the same arguments give the same
        steps, so a plan can be resumed.
        """
        ...

    def perform(self, step: Step, thread: str | None) -> Posted:
        """Run one step (``thread`` is the resolved parent ts for replies).

        Raises :class:`NotDelivered` or :class:`DeliveryUncertain`.
        """
        ...

    def lookup(self, step: Step, thread: str | None, since: datetime) -> Posted | None:
        """The message a previous attempt of ``step`` posted (found by its marker), if any.

        Raises :class:`NotifyError` when the channel cannot be searched.
        """
        ...


def severe_enough(severity: str | None, minimum: str | None) -> bool:
    """Whether ``severity`` (None: unrated, the lowest) is ``minimum`` or worse."""
    if minimum is None:
        return True
    return severity_rank(severity) <= severity_rank(minimum)


@dataclass(frozen=True, slots=True)
class Route:
    """Clusters whose labels include all of ``labels`` go to ``channel``; with ``severity``,
    only matches at least that severe do (``high``: high and critical)."""

    labels: Mapping[str, str]
    channel: str
    severity: str | None = None
    """The minimum severity (one of :data:`jobs.notices.SEVERITIES`); None: every match."""

    def matches(self, labels: Mapping[str, str], severity: str | None = None) -> bool:
        """True when every label of the route is on the cluster (and, when the route sets a
        minimum severity and ``severity`` is given, the match is that severe)."""
        if not all(labels.get(k) == v for k, v in self.labels.items()):
            return False
        return severe_enough(severity, self.severity)


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a match goes: the first route whose labels (and minimum severity) match, else the
    default."""

    default: str | None = None
    routes: tuple[Route, ...] = ()

    def channel_for(self, labels: Mapping[str, str], severity: str | None = None) -> str | None:
        """The channel for a match of this severity (None: unrated) on a cluster with these
        labels, or None when none is configured."""
        for route in self.routes:
            if route.matches(labels, severity):
                return route.channel
        return self.default

    def channels_for(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Every channel some match of a cluster with these labels may go to."""
        found: list[str] = []
        for route in self.routes:
            if route.matches(labels, SEVERITIES[0]):
                found.append(route.channel)
                if route.severity is None:
                    return tuple(dict.fromkeys(found))
        if self.default:
            found.append(self.default)
        return tuple(dict.fromkeys(found))

    @property
    def channels(self) -> tuple[str, ...]:
        """Every configured channel, default first."""
        found = [self.default] if self.default else []
        found += [r.channel for r in self.routes]
        return tuple(dict.fromkeys(found))
