"""Requests already acted on, shared by every replica: Slack's retries and replays run once.

Slack re-delivers an event (same ``event_id``, ``X-Slack-Retry-Num`` 1, 2, 3) when its first
delivery was not acknowledged in three seconds, and anyone who captured a signed request can
send it again within the signature's five minutes. :func:`first_time` records a request's key
(an event's id, a state-changing command's signature) in the ``replays`` table and says whether
it is new; the table's primary key makes two replicas that receive the same request at once
agree on which of them acts.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from jobs.store.records import StoreError
from jobs.store.schema import replays
from jobs.store.store import Store

__all__ = ["KEEP", "first_time", "forget"]

KEEP: Final = timedelta(days=1)
"""How long a key is kept: longer than Slack retries an event (about an hour) or accepts a
signature (five minutes)."""


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()


def first_time(store: Store, kind: str, value: str, now: datetime) -> bool:
    """Record ``value`` (of ``kind``: ``event``, ``command``...); True when it had not been
    recorded in the last :data:`KEEP`, False for a repeat. Raises :class:`StoreError` when the
    database does not answer: the caller decides whether to act anyway."""
    key = _key(kind, value)
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(replays).where(replays.c.seen_at < now - KEEP))
        try:
            with store.engine.begin() as conn:
                conn.execute(insert(replays).values(key=key, kind=kind[:16], seen_at=now))
        except IntegrityError:
            return False
    except SQLAlchemyError as exc:
        raise StoreError(f"{store.display_url}: replays: {type(exc).__name__}") from None
    return True


def forget(store: Store, kind: str, value: str) -> None:
    """Drop ``value``'s record: the action it guarded failed, so a repeat may try again.
    Raises :class:`StoreError` when the database does not answer."""
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(replays).where(replays.c.key == _key(kind, value)))
    except SQLAlchemyError as exc:
        raise StoreError(f"{store.display_url}: replays: {type(exc).__name__}") from None
