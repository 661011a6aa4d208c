"""What netadvisor knows about upstream PRs and issues, as frozen dataclasses.

The GitHub adapter turns API answers into these values; nothing past the adapter sees GitHub's
JSON. A :class:`ReferenceState` is the last known state of one catalog reference; a sync compares
it with the previous one and reports the differences as :class:`News`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import NewType

from advisories.models import AdvisoryId

__all__ = [
    "CherryPick",
    "Disagreement",
    "IssueInfo",
    "LineFix",
    "Mention",
    "News",
    "NewsKind",
    "PullInfo",
    "RefKey",
    "RefRecord",
    "ReferenceState",
    "RepoName",
    "SyncPass",
    "Tag",
    "Tracked",
]

RepoName = NewType("RepoName", str)
"""``owner/repo`` as GitHub spells it, e.g. ``kubernetes/kubernetes``."""


@dataclass(frozen=True, slots=True, order=True)
class RefKey:
    """A GitHub pull request or issue: ``kubernetes/kubernetes#122204``."""

    repo: RepoName
    kind: str
    """``pull`` or ``issues`` (the path segment of the web URL)."""
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"

    @property
    def id(self) -> str:
        """A stable text id, e.g. ``kubernetes/kubernetes/pull/122204`` (the storage key)."""
        return f"{self.repo}/{self.kind}/{self.number}"

    @property
    def url(self) -> str:
        """The web URL of the reference."""
        return f"https://github.com/{self.repo}/{self.kind}/{self.number}"

    @staticmethod
    def from_id(text: str) -> RefKey:
        """The inverse of :attr:`id`; raises ValueError on anything else."""
        owner, name, kind, number = text.split("/")
        if kind not in ("pull", "issues"):
            raise ValueError(f"not a reference id: {text!r}")
        return RefKey(RepoName(f"{owner}/{name}"), kind, int(number))


@dataclass(frozen=True, slots=True)
class Tracked:
    """A reference the catalog cites, with the advisories citing it.

    ``fix`` is true when at least one advisory cites it as the ``FIX``: only then are its
    cherry-picks and first released tags looked up (an ``INTRODUCED`` PR also has a merge commit,
    but the tags containing it are not fixed versions).
    """

    ref: RefKey
    advisories: tuple[AdvisoryId, ...]
    fix: bool


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag of a repository and the commit it points at."""

    name: str
    sha: str


@dataclass(frozen=True, slots=True)
class PullInfo:
    """A pull request as upstream reports it.

    ``merged`` comes from GitHub's ``merged`` / ``merged_at``, never from ``merge_commit_sha``:
    a closed, unmerged PR still carries a test-merge commit.
    """

    number: int
    title: str
    state: str
    """``open`` or ``closed``."""
    merged: bool
    merged_at: datetime | None
    merge_commit: str | None
    """The commit that brought the change into ``base`` (only when merged)."""
    base: str
    """The branch the PR targets, e.g. ``master`` or ``release-1.29``."""
    labels: tuple[str, ...] = ()
    milestone: str | None = None


@dataclass(frozen=True, slots=True)
class IssueInfo:
    """An issue as upstream reports it, with the PRs that closed it where GitHub links them."""

    number: int
    title: str
    state: str
    closed_at: datetime | None
    state_reason: str | None = None
    closed_by: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Mention:
    """A PR whose title or body mentions another PR's number (a cherry-pick candidate)."""

    number: int
    title: str
    body: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CherryPick:
    """A PR that brings a fix to a release branch."""

    number: int
    title: str
    base: str
    line: str | None
    """The release line of ``base``, e.g. ``1.29`` for ``release-1.29``."""
    state: str
    merged: bool
    merged_at: datetime | None = None
    merge_commit: str | None = None


@dataclass(frozen=True, slots=True)
class LineFix:
    """The first released tag of one release line that contains a fix.

    ``tag`` is None when the fix is merged but no released tag contains it yet. ``line`` is
    None only for a commit on the main branch that is in no release yet (its line is unknown
    until one is cut).
    """

    line: str | None
    tag: str | None
    pull: int
    """The PR whose merge commit the tag contains (the original or a cherry-pick)."""


@dataclass(frozen=True, slots=True)
class ReferenceState:
    """The last known upstream state of one reference (a PR or an issue)."""

    ref: RefKey
    title: str
    state: str
    synced_at: datetime
    merged: bool | None = None
    """None for issues."""
    merged_at: datetime | None = None
    merge_commit: str | None = None
    base: str | None = None
    labels: tuple[str, ...] = ()
    milestone: str | None = None
    cherry_picks: tuple[CherryPick, ...] = ()
    fixes: tuple[LineFix, ...] = ()
    """Per release line, the first released tag containing the fix (FIX references only)."""
    closed_at: datetime | None = None
    state_reason: str | None = None
    closed_by: tuple[int, ...] = ()
    """Issues: the PRs GitHub links as having closed it."""

    @property
    def is_pull(self) -> bool:
        """True for a pull request."""
        return self.ref.kind == "pull"

    def fix_on(self, line: str) -> LineFix | None:
        """The fix recorded for one release line, if any."""
        for fix in self.fixes:
            if fix.line == line:
                return fix
        return None


class NewsKind(Enum):
    """What changed upstream since the last sync."""

    PULL_MERGED = "pull-merged"
    PULL_CLOSED = "pull-closed"
    """Closed without being merged."""
    PULL_REOPENED = "pull-reopened"
    CHERRY_PICK_OPENED = "cherry-pick-opened"
    CHERRY_PICK_MERGED = "cherry-pick-merged"
    FIX_RELEASED = "fix-released"
    """A release line got its first released tag containing the fix."""
    ISSUE_CLOSED = "issue-closed"
    ISSUE_REOPENED = "issue-reopened"
    CATALOG_DISAGREES = "catalog-disagrees"
    """Upstream reports a fixed version that the catalog does not say (for its maintainers)."""


@dataclass(frozen=True, slots=True)
class News:
    """One change since the last sync, for the digest and the channels of affected clusters."""

    kind: NewsKind
    ref: RefKey
    advisories: tuple[AdvisoryId, ...]
    text: str
    """One sentence, e.g. ``kubernetes/kubernetes#122756 (cherry-pick of #122204) released in
    v1.29.2 on the 1.29 line``."""
    at: datetime
    line: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Upstream's first fixed tag on a line differs from the catalog's fixed versions.

    The catalog stays authoritative: this is shown to its maintainers ("upstream reports X; the
    catalog says Y") and never changes a verdict. ``catalog`` is None when the catalog lists no
    fixed version on that line.
    """

    advisory: AdvisoryId
    line: str
    upstream: str
    catalog: str | None
    ref: RefKey
    """The reference (original PR or cherry-pick's original) upstream's answer comes from."""
    pull: int
    """The PR whose merge commit the upstream tag contains."""

    @property
    def text(self) -> str:
        """``upstream reports v0.9.2 on the 0.9 line (#3211); the catalog says 0.9.8``."""
        said = self.catalog or f"no fixed version on the {self.line} line"
        return (
            f"{self.advisory}: upstream reports {self.upstream} on the {self.line} line "
            f"({self.ref.repo}#{self.pull}); the catalog says {said}"
        )


@dataclass(frozen=True, slots=True)
class SyncPass:
    """One pass over every tracked reference, possibly spread over several runs."""

    started_at: datetime | None
    done: bool


@dataclass(frozen=True, slots=True)
class RefRecord:
    """What the store knows of one reference."""

    state: ReferenceState | None
    synced_at: datetime | None
    attempted_at: datetime | None
    error: str | None = None
    error_at: datetime | None = None
