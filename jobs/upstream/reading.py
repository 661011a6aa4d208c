"""Reading one reference from upstream: state, cherry-picks and first released tags per line.

Works against :class:`~jobs.upstream.port.UpstreamSource`; the upstream conventions it knows
(cherry-pick titles, release branch names) are here, not in the adapter.

**Release lines.** A branch ``release-1.29``, ``release-v3.28`` or ``release-v0.9`` is the line
``1.29`` / ``3.28`` / ``0.9``. A released tag is a tag that reads as a final version without a
vendor suffix (``v1.29.2``; not ``v1.30.0-rc.1``, not ``v3.28.0-0.dev``).

**First released tag containing a fix**, per line, from the compare API:

- a commit on a release branch: the lowest released tag of that line that contains it (binary
  search; a release branch only moves forward, so containment is monotonic along it);
- a commit on the main branch: the lowest line whose first release contains it (binary search
  over the lines' first releases; a line is cut from the main branch, so a later line contains
  what an earlier one does). Later lines contain it too and are not listed.

Ancestry is evidence, not proof: a change can be dropped by a later merge (Spiderpool #3211 is
an ancestor of v0.9.2 but its code is not in it). The catalog stays authoritative
(:mod:`jobs.upstream.compare`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from advisories.versions import VersionError, VersionKey, parse_version
from jobs.upstream.models import (
    CherryPick,
    LineFix,
    Mention,
    PullInfo,
    ReferenceState,
    Tag,
    Tracked,
)
from jobs.upstream.port import UpstreamSource

__all__ = [
    "ReleaseTag",
    "first_containing",
    "is_cherry_pick_of",
    "line_name",
    "release_line",
    "release_tags",
    "track",
]

_RELEASE_BRANCH: Final = re.compile(r"^release-(v?\d+\.\d+)$")

# Words upstream projects use for a backport: Kubernetes "Automated cherry pick of #N", Calico
# "Cherry pick #N from master to release-v3.15" / "[release-v3.28] Auto pick #N", Spiderpool
# "auto cherry pick PR N to branch release-v0.3" / "robot cherry pick PR <.../pull/N>".
_PICK_WORDS: Final = r"(?:cherry[- ]?pick(?:ed|s)?|auto[- ]?pick(?:ed|s)?|back[- ]?port(?:ed|s)?)"
_PICK_LABEL: Final = re.compile(r"cherry|pick|backport", re.IGNORECASE)


def release_line(branch: str | None) -> tuple[int, int] | None:
    """The release line of a branch (``release-1.29`` -> ``(1, 29)``); None for others."""
    match = _RELEASE_BRANCH.match(branch or "")
    if match is None:
        return None
    release = parse_version(match.group(1)).release
    return release[0], release[1]


def line_name(line: tuple[int, ...]) -> str:
    """``(1, 29)`` -> ``1.29``."""
    return ".".join(str(p) for p in line[:2])


def is_cherry_pick_of(mention: Mention, number: int) -> bool:
    """Whether a PR is a cherry-pick of PR ``number``, by upstream naming conventions.

    The title names the original next to a cherry-pick word (``Automated cherry pick of
    #122204: ...``), or a cherry-pick label is set and the body does (``robot cherry pick PR
    <https://github.com/spidernet-io/spiderpool/pull/2929>``). Reverts are not picks.
    """
    if mention.number == number or mention.title.lower().startswith("revert"):
        return False
    names = rf"{_PICK_WORDS}\b.*?(?:#|\bPR\s*#?|/pull/){number}\b"
    if re.search(names, mention.title, re.IGNORECASE):
        return True
    labelled = any(_PICK_LABEL.search(label) for label in mention.labels)
    return labelled and re.search(names, mention.body, re.IGNORECASE | re.DOTALL) is not None


@dataclass(frozen=True, slots=True)
class ReleaseTag:
    """A released tag with its place on the version order."""

    tag: Tag
    key: VersionKey

    @property
    def line(self) -> tuple[int, ...]:
        """Its release line, e.g. ``(1, 29)``."""
        return self.key.line()


def release_tags(tags: Sequence[Tag]) -> dict[tuple[int, ...], list[ReleaseTag]]:
    """Released tags by line, each line sorted by version (lowest first)."""
    lines: dict[tuple[int, ...], list[ReleaseTag]] = {}
    for tag in tags:
        try:
            version = parse_version(tag.name)
        except VersionError:
            continue
        if version.pre is not None or version.vendor or len(version.release) < 2:
            continue
        item = ReleaseTag(tag, version.key)
        lines.setdefault(item.line, []).append(item)
    for items in lines.values():
        items.sort(key=lambda t: t.key)
    return dict(sorted(lines.items()))


def first_containing(
    candidates: Sequence[ReleaseTag], contains: Callable[[Tag], bool]
) -> ReleaseTag | None:
    """The first candidate that contains the commit, assuming containment is monotonic."""
    lo, hi = 0, len(candidates)
    while lo < hi:
        mid = (lo + hi) // 2
        if contains(candidates[mid].tag):
            hi = mid
        else:
            lo = mid + 1
    return candidates[lo] if lo < len(candidates) else None


def _fixes_of(
    source: UpstreamSource,
    tracked: Tracked,
    pulls: Sequence[PullInfo],
    tags: dict[tuple[int, ...], list[ReleaseTag]],
) -> tuple[LineFix, ...]:
    repo = tracked.ref.repo
    found: dict[str | None, LineFix] = {}

    def keep(fix: LineFix) -> None:
        old = found.get(fix.line)
        if (
            old is None
            or (old.tag is None and fix.tag is not None)
            or (
                old.tag is not None
                and fix.tag is not None
                and parse_version(fix.tag).key < parse_version(old.tag).key
            )
        ):
            found[fix.line] = fix

    for pull in pulls:
        if not pull.merged or not pull.merge_commit:
            continue
        commit = pull.merge_commit

        def contains(tag: Tag, commit: str = commit) -> bool:
            return source.contains(repo, commit, tag)

        line = release_line(pull.base)
        if line is not None:
            first = first_containing(tags.get(line, []), contains)
            keep(LineFix(line=line_name(line), tag=first.tag.name if first else None,
                         pull=pull.number))  # fmt: skip
            continue
        firsts = [items[0] for items in tags.values()]
        first = first_containing(firsts, contains)
        if first is None:
            keep(LineFix(line=None, tag=None, pull=pull.number))
        else:
            keep(LineFix(line=line_name(first.line), tag=first.tag.name, pull=pull.number))
    return tuple(sorted(found.values(), key=_fix_order))


def _fix_order(fix: LineFix) -> tuple[int, VersionKey | None]:
    if fix.line is None:
        return (1, None)
    return (0, parse_version(fix.line).key)


def track(source: UpstreamSource, tracked: Tracked, now: datetime) -> ReferenceState:
    """Read one reference's current state from upstream.

    For a merged PR the catalog cites as a fix, also its cherry-picks (when it was merged into
    the main branch) and, per release line, the first released tag containing it.
    """
    ref = tracked.ref
    if ref.kind == "issues":
        issue = source.issue(ref.repo, ref.number)
        return ReferenceState(
            ref=ref,
            title=issue.title,
            state=issue.state,
            synced_at=now,
            closed_at=issue.closed_at,
            state_reason=issue.state_reason,
            closed_by=issue.closed_by,
        )
    pull = source.pull(ref.repo, ref.number)
    picks: list[PullInfo] = []
    fixes: tuple[LineFix, ...] = ()
    if tracked.fix and pull.merged:
        if release_line(pull.base) is None:
            for mention in source.mentions(ref.repo, ref.number):
                if is_cherry_pick_of(mention, ref.number):
                    pick = source.pull(ref.repo, mention.number)
                    if release_line(pick.base) is not None:
                        picks.append(pick)
        picks.sort(key=lambda p: p.number)
        tags = release_tags(source.tags(ref.repo))
        fixes = _fixes_of(source, tracked, [pull, *picks], tags)
    return ReferenceState(
        ref=ref,
        title=pull.title,
        state=pull.state,
        synced_at=now,
        merged=pull.merged,
        merged_at=pull.merged_at,
        merge_commit=pull.merge_commit,
        base=pull.base,
        labels=pull.labels,
        milestone=pull.milestone,
        cherry_picks=tuple(_cherry_pick(p) for p in picks),
        fixes=fixes,
    )


def _cherry_pick(pull: PullInfo) -> CherryPick:
    line = release_line(pull.base)
    return CherryPick(
        number=pull.number,
        title=pull.title,
        base=pull.base,
        line=line_name(line) if line else None,
        state=pull.state,
        merged=pull.merged,
        merged_at=pull.merged_at,
        merge_commit=pull.merge_commit,
    )
