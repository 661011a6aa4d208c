"""The errors of upstream tracking. Each carries the URL it happened at.

Exception hierarchy::

    UpstreamError                 anything that went wrong talking to upstream
    ├── ReferenceFailed           one reference could not be read; the others go on
    │   ├── UpstreamNotFound      404 or 410: the PR, issue, tag or commit is gone
    │   ├── UpstreamServerError   5xx after the retries
    │   ├── UpstreamForbidden     401 or a 403 that is not a rate limit
    │   ├── UpstreamUnreachable   timeout, refused connection, TLS failure
    │   ├── UpstreamBadAnswer     an answer that is not the JSON GitHub documents
    │   └── NotCached             offline, and nothing is stored for this URL
    └── SyncStopped               the run must stop now; progress is kept and the next run resumes
        ├── BudgetExhausted       the request budget of this run is spent
        ├── RateLimited           a primary or secondary rate limit whose wait is beyond the bound
        └── UpstreamDown          the API keeps failing (5xx, no answer) whatever is asked

Messages never contain credentials: URLs carry none (the token travels in a header).
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "BudgetExhausted",
    "NotCached",
    "RateLimited",
    "ReferenceFailed",
    "SyncStopped",
    "UpstreamBadAnswer",
    "UpstreamDown",
    "UpstreamError",
    "UpstreamForbidden",
    "UpstreamNotFound",
    "UpstreamServerError",
    "UpstreamUnreachable",
]


class UpstreamError(Exception):
    """Something went wrong talking to upstream at ``url``."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url


class ReferenceFailed(UpstreamError):
    """One reference could not be read; the sync records the error and goes on."""


class UpstreamNotFound(ReferenceFailed):
    """404 Not Found or 410 Gone."""


class UpstreamServerError(ReferenceFailed):
    """A 5xx answer, still failing after the retries."""


class UpstreamForbidden(ReferenceFailed):
    """401, or a 403 that is not a rate limit (e.g. a token without access)."""


class UpstreamUnreachable(ReferenceFailed):
    """No answer: timeout, refused connection, TLS failure."""


class UpstreamBadAnswer(ReferenceFailed):
    """An answer that is not the JSON GitHub documents for this endpoint."""


class NotCached(ReferenceFailed):
    """Offline mode, and no stored answer for this URL."""


class SyncStopped(UpstreamError):
    """The run stops now, cleanly: what was synced is kept and the next run resumes."""


class BudgetExhausted(SyncStopped):
    """The request budget of this run is spent."""


class RateLimited(SyncStopped):
    """A rate limit whose wait is beyond the configured bound.

    ``until`` is when GitHub says requests may resume (None when it gave no time).
    """

    def __init__(self, message: str, url: str = "", until: datetime | None = None) -> None:
        super().__init__(message, url)
        self.until = until


class UpstreamDown(SyncStopped):
    """The API failed several times in a row (5xx or no answer), whatever was asked."""
