"""The state store (SQLAlchemy): scans and their facts, matches, the outbox, mutes, digests.

See :mod:`jobs.store.store` for the store and its records, :mod:`jobs.store.schema` for the
tables and schema versions, :mod:`jobs.store.codec` for how facts are kept.
"""

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
]
