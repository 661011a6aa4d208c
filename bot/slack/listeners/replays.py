"""Slack's retries and replays are acknowledged without being acted on again.

An event is acted on once per ``event_id``; a state-changing slash command (``mute``,
``unmute``) once per signature (the signature covers the timestamp and the body, so a replay is
the same key and a new command is another). The record is the state store's ``replays`` table,
shared by every replica (:mod:`jobs.store.replays`); a small in-process memory of recent event
ids covers a store that cannot be reached, so a retry to the same replica is still caught
(an event is then answered rather than dropped: a store outage must not silence the bot).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from slack_bolt import BoltRequest, BoltResponse

from jobs.store import Store, StoreError, first_time

__all__ = ["Recent", "command_key", "first_delivery", "retry_middleware"]

log = logging.getLogger(__name__)

_REMEMBERED: Final = 4096


class Recent:
    """The last :data:`_REMEMBERED` keys seen by this process."""

    def __init__(self, size: int = _REMEMBERED) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, key: str) -> bool:
        """Remember ``key``; True when it was not remembered already."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


def first_delivery(store: Store | None, recent: Recent, kind: str, key: str, now: datetime) -> bool:
    """Whether ``key`` (of ``kind``) is seen for the first time, by any replica when the store
    answers, by this process when it does not."""
    new_here = recent.add(f"{kind}:{key}")
    if store is None:
        return new_here
    try:
        return first_time(store, kind, key, now)
    except StoreError as exc:
        log.warning("replays: %s; deciding from this process's memory", exc)
        return new_here


def command_key(request: BoltRequest) -> str | None:
    """A slash command's signature (None in Socket Mode, where there is none)."""
    values = request.headers.get("x-slack-signature") or []
    return values[0] if values else None


def retry_middleware(
    store: Store | None, now: Callable[[], datetime], recent: Recent | None = None
) -> Callable[..., Any]:
    """A Bolt global middleware: an event already delivered (same ``event_id``, whatever
    ``X-Slack-Retry-Num`` says) is acknowledged with 200 and goes no further."""
    memory = recent or Recent()

    def middleware(body: dict[str, Any], request: BoltRequest, next: Callable[[], None]) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not isinstance(event_id, str) or first_delivery(store, memory, "event", event_id,
                                                           now()):  # fmt: skip
            return next()
        retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
        log.info("event %.40s already delivered (retry %.4s): acknowledged, not acted on",
                 event_id, retry)  # fmt: skip
        return BoltResponse(status=200, body="")

    return middleware
