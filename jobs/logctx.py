"""What a log line is about: the cluster and the advisory, put on every line by the formatter.

Code that works on one cluster (or one match) says so once::

    with about(cluster=name):
        log.info("read in %.1f s", seconds)        # -> ... "cluster": "prod-eu" ...

or per call with ``extra={"cluster": name, "advisory": advisory_id}``. The value lives in a
context variable: a worker thread starts without it, so a thread pool sets it in the task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Final

__all__ = ["FIELDS", "about", "current"]

FIELDS: Final = ("cluster", "advisory")
"""The fields every structured log line carries (null when the line is about none)."""

_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar(
    "netadvisor_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def about(*, cluster: str | None = None, advisory: str | None = None) -> Iterator[None]:
    """Within the block, log lines are about this cluster and/or advisory (None keeps what an
    enclosing block set)."""
    given = {k: v for k, v in (("cluster", cluster), ("advisory", advisory)) if v is not None}
    token = _CONTEXT.set({**_CONTEXT.get(), **given})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current() -> Mapping[str, str]:
    """The fields set by the enclosing :func:`about` blocks."""
    return _CONTEXT.get()
