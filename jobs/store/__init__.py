"""The state store (SQLAlchemy): scans and their facts, matches, the outbox, mutes, digests,
and upstream tracking's tables. This package is the only import path used outside it.

- :mod:`jobs.store.records`: the records and their states (frozen values, no I/O);
- :mod:`jobs.store.store`: :class:`Store`: open, migrate, transactions, retries;
- :mod:`jobs.store.tx`: :class:`Tx`: every read and write inside one transaction;
- :mod:`jobs.store.upstream`: :class:`UpstreamStore`: upstream tracking's tables;
- :mod:`jobs.store.schema`: the tables and schema versions;
- :mod:`jobs.store.codec`: how a scan's facts are kept;
- :mod:`jobs.store.replays`: Slack requests already acted on;
- :mod:`jobs.store.faults`: database faults said in one line.
"""

from jobs.store.faults import describe as describe_fault
from jobs.store.records import (
    ClusterRecord,
    ClusterState,
    ConfigMuteSync,
    IntentRecord,
    IntentState,
    MatchRecord,
    MatchState,
    MuteRecord,
    PostRecord,
    StoreError,
)
from jobs.store.replays import first_time, forget
from jobs.store.store import Store, store_figures
from jobs.store.tx import Tx
from jobs.store.upstream import UpstreamStore, UpstreamStoreError

__all__ = [
    "ClusterRecord",
    "ClusterState",
    "ConfigMuteSync",
    "IntentRecord",
    "IntentState",
    "MatchRecord",
    "MatchState",
    "MuteRecord",
    "PostRecord",
    "Store",
    "StoreError",
    "Tx",
    "UpstreamStore",
    "UpstreamStoreError",
    "describe_fault",
    "first_time",
    "forget",
    "store_figures",
]
