"""Upstream tracking: the state of every PR and issue the catalog cites, and news when it changes.

- :mod:`jobs.upstream.models`: the domain values (states, news, disagreements).
- :mod:`jobs.upstream.port`: the ports: :class:`UpstreamSource`, the answer cache it needs, and
  :class:`UpstreamState`, what a sync keeps (implemented by :class:`jobs.store.UpstreamStore`).
- :mod:`jobs.upstream.github`: the GitHub REST API adapter (the only ``httpx`` import).
- :mod:`jobs.upstream.reading`: one reference: cherry-picks, first released tag per line.
- :mod:`jobs.upstream.compare`: upstream against the catalog; news; fixed-in advice.
- :mod:`jobs.upstream.sync`: one run over every reference, resumable.
"""

from jobs.upstream.compare import FixAdvice, fix_advice, tracked_references, upstream_fixes
from jobs.upstream.errors import ReferenceFailed, SyncStopped, UpstreamError
from jobs.upstream.models import Disagreement, News, NewsKind, ReferenceState, RefKey, RefRecord
from jobs.upstream.port import UpstreamSource, UpstreamState
from jobs.upstream.sync import SyncReport, sync

__all__ = [
    "Disagreement",
    "FixAdvice",
    "News",
    "NewsKind",
    "RefKey",
    "RefRecord",
    "ReferenceFailed",
    "ReferenceState",
    "SyncReport",
    "SyncStopped",
    "UpstreamError",
    "UpstreamSource",
    "UpstreamState",
    "fix_advice",
    "sync",
    "tracked_references",
    "upstream_fixes",
]
