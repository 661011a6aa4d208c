"""The state store (SQLAlchemy): scans and their facts, matches, the outbox, mutes, digests.

See :mod:`jobs.store.store` for the store and its records, :mod:`jobs.store.schema` for the
tables and schema versions, :mod:`jobs.store.codec` for how facts are kept,
:mod:`jobs.store.replays` for requests already acted on.
"""

from jobs.store.faults import describe as describe_fault
from jobs.store.replays import first_time, forget
from jobs.store.store import (
    ClusterRecord,
    ClusterState,
    ConfigMuteSync,
    IntentRecord,
    IntentState,
    MatchRecord,
    MatchState,
    MuteRecord,
    Store,
    StoreError,
    Tx,
)

__all__ = [
    "ClusterRecord",
    "ClusterState",
    "ConfigMuteSync",
    "IntentRecord",
    "IntentState",
    "MatchRecord",
    "MatchState",
    "MuteRecord",
    "Store",
    "StoreError",
    "Tx",
    "describe_fault",
    "first_time",
    "forget",
]
