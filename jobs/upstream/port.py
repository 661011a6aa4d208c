"""The ports of upstream tracking: what the sync asks of upstream, and what it keeps.

:class:`UpstreamSource` is the interface the sync logic (:mod:`jobs.upstream.reading`) works
against; :class:`jobs.upstream.github.GitHubSource` implements it over the GitHub REST API.
:class:`AnswerCache` is what that adapter needs from the state store to make conditional
requests (ETag / Last-Modified per URL) and to answer offline. :class:`UpstreamState` is what
the sync (:mod:`jobs.upstream.sync`) keeps between runs; :class:`jobs.store.UpstreamStore`
implements both over the state database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from jobs.upstream.models import (
    Disagreement,
    IssueInfo,
    Mention,
    News,
    PullInfo,
    ReferenceState,
    RefKey,
    RefRecord,
    RepoName,
    SyncPass,
    Tag,
)

__all__ = ["AnswerCache", "StoredAnswer", "UpstreamSource", "UpstreamState"]


class UpstreamSource(Protocol):
    """Questions about one upstream repository's PRs, issues and tags.

    Every method raises :class:`~jobs.upstream.errors.ReferenceFailed` when the answer cannot
    be had (the caller records it and goes on), or :class:`~jobs.upstream.errors.SyncStopped`
    when the run must stop (budget spent, rate limited).
    """

    def pull(self, repo: RepoName, number: int) -> PullInfo:
        """A pull request."""

    def issue(self, repo: RepoName, number: int) -> IssueInfo:
        """An issue, with the PRs that closed it where upstream links them."""

    def mentions(self, repo: RepoName, number: int) -> Sequence[Mention]:
        """PRs of ``repo`` whose title or body mention ``number`` (cherry-pick candidates)."""

    def tags(self, repo: RepoName) -> Sequence[Tag]:
        """Every tag of ``repo``."""

    def contains(self, repo: RepoName, commit: str, tag: Tag) -> bool:
        """Whether ``tag`` contains ``commit`` (the commit is an ancestor of, or is, the tag)."""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The last 200 answer for one URL, with its validators."""

    url: str
    body: str
    etag: str | None = None
    last_modified: str | None = None
    next_url: str | None = None
    """The ``rel="next"`` link of a paginated answer."""
    fetched_at: datetime | None = None
    """When upstream last confirmed this answer (a 200, or a 304 to a conditional request)."""


class AnswerCache(Protocol):
    """Answers per URL, kept between runs. Implementations must be safe across threads."""

    def get(self, url: str) -> StoredAnswer | None:
        """The stored answer for ``url``, if any."""

    def put(self, answer: StoredAnswer) -> None:
        """Store (or replace) the answer for ``answer.url``."""


class UpstreamState(Protocol):
    """What a sync keeps between runs: each reference's state, the pass, news, disagreements."""

    def records(self) -> dict[RefKey, RefRecord]:
        """Every reference known, with its state (None if never synced)."""

    def states(self) -> dict[RefKey, ReferenceState]:
        """The last known state of every synced reference."""

    def record_state(self, state: ReferenceState, attempted_at: datetime) -> None:
        """A reference was synced: its new state, and no error."""

    def record_error(self, ref: RefKey, error: str, attempted_at: datetime) -> None:
        """A reference could not be synced: keep its last state, note the error."""

    def current_pass(self) -> SyncPass:
        """The pass in progress or last finished."""

    def start_pass(self, now: datetime) -> SyncPass:
        """Begin a new pass at ``now``."""

    def finish_pass(self) -> None:
        """Mark the current pass done: the next run starts a new one."""

    def add_news(self, items: Iterable[News]) -> None:
        """Keep news for the digest."""

    def disagreements(self) -> list[Disagreement]:
        """The disagreements found by the last sync."""

    def replace_disagreements(self, items: Sequence[Disagreement], now: datetime) -> None:
        """Keep exactly ``items`` as the current disagreements (each dated when first seen)."""
