"""Upstream against the catalog: what to track, what changed, where they disagree, what to do.

Pure functions over catalog advisories and :class:`~jobs.upstream.models.ReferenceState`
values. The catalog is authoritative: upstream's answers become news and hints, never verdicts.
Where upstream reports a first fixed tag that the catalog's fixed versions
(:func:`advisories.serialize.fixed_versions`) do not say, that is a :class:`Disagreement` for
the catalog's maintainers ("upstream reports X; the catalog says Y").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from advisories.models import Advisory, AdvisoryId
from advisories.planning import UpstreamFix as PlannerFix
from advisories.serialize import fixed_versions
from advisories.versions import VersionError, VersionKey, VersionSet, parse_version
from jobs.upstream.models import (
    Disagreement,
    News,
    NewsKind,
    ReferenceState,
    RefKey,
    RepoName,
    Tracked,
)

__all__ = [
    "VERSIONED_BY",
    "FixAdvice",
    "UpstreamFix",
    "disagreements",
    "fix_advice",
    "news_between",
    "planner_fixes",
    "tracked_references",
    "upstream_fixes",
]

VERSIONED_BY: Final[Mapping[str, frozenset[str]]] = {
    "kube-proxy": frozenset({"kubernetes/kubernetes"}),
    "calico": frozenset({"projectcalico/calico", "projectcalico/felix"}),
    "spiderpool": frozenset({"spidernet-io/spiderpool"}),
}
"""Repositories whose release tags are versions of each component. Tags of other repositories
(``kubernetes-sigs/iptables-wrappers`` v1, v2...) are not compared with the catalog."""


def tracked_references(advisories: Iterable[Advisory]) -> list[Tracked]:
    """Every GitHub PR and issue the advisories cite, once, with who cites it and how."""
    cited: dict[RefKey, tuple[list[AdvisoryId], bool]] = {}
    for advisory in advisories:
        for reference in advisory.references:
            parsed = reference.github
            if parsed is None:
                continue
            repo, kind, number = parsed
            ref = RefKey(RepoName(repo), kind, number)
            ids, fix = cited.setdefault(ref, ([], False))
            if advisory.id not in ids:
                ids.append(advisory.id)
            cited[ref] = (ids, fix or reference.type == "FIX")
    return [
        Tracked(ref=ref, advisories=tuple(ids), fix=fix)
        for ref, (ids, fix) in sorted(cited.items())
    ]


@dataclass(frozen=True, slots=True)
class UpstreamFix:
    """Upstream's first released tag containing an advisory's fix on one line."""

    line: str
    tag: str
    key: VersionKey
    ref: RefKey
    """The catalog reference this answer comes from."""
    pull: int
    """The PR (the reference itself or its cherry-pick) whose commit the tag contains."""


def upstream_fixes(
    advisory: Advisory, states: Mapping[RefKey, ReferenceState]
) -> dict[str, UpstreamFix]:
    """Per line, the lowest first-fixed tag over the advisory's FIX references (and picks).

    Only references in a repository whose tags are the component's versions count.
    """
    repos = VERSIONED_BY.get(advisory.component, frozenset())
    out: dict[str, UpstreamFix] = {}
    for reference in advisory.references:
        parsed = reference.github
        if reference.type != "FIX" or parsed is None or parsed[0] not in repos:
            continue
        state = states.get(RefKey(RepoName(parsed[0]), parsed[1], parsed[2]))
        if state is None:
            continue
        for fix in state.fixes:
            if fix.line is None or fix.tag is None:
                continue
            try:
                key = parse_version(fix.tag).key
            except VersionError:
                continue
            old = out.get(fix.line)
            if old is None or key < old.key:
                out[fix.line] = UpstreamFix(fix.line, fix.tag, key, state.ref, fix.pull)
    return out


def planner_fixes(
    advisories: Iterable[Advisory], states: Mapping[RefKey, ReferenceState]
) -> dict[str, tuple[PlannerFix, ...]]:
    """What upstream reports per advisory, for the planner's safe targets
    (:func:`advisories.planning.safe_targets` uses it only where the catalog's range is open)."""
    out: dict[str, tuple[PlannerFix, ...]] = {}
    for advisory in advisories:
        found = sorted(upstream_fixes(advisory, states).values(), key=lambda f: f.key)
        if found:
            out[advisory.id] = tuple(PlannerFix(f.tag, f"{f.ref.repo}#{f.pull}") for f in found)
    return out


def _catalog_by_line(advisory: Advisory) -> dict[str, list[tuple[VersionKey, str]]]:
    lines: dict[str, list[tuple[VersionKey, str]]] = {}
    for text in fixed_versions(advisory):
        key = parse_version(text).key
        lines.setdefault(_line(key), []).append((key, text))
    for versions in lines.values():
        versions.sort()
    return lines


def _line(key: VersionKey) -> str:
    return ".".join(str(p) for p in key.line())


def _affected_versions(advisory: Advisory) -> list[VersionSet]:
    return [
        cond.versions
        for case in advisory.cases
        if case.affected
        for cond in case.when
        if cond.key == advisory.component and cond.versions is not None
    ]


def _same_fix(catalog: VersionKey, upstream: VersionKey) -> bool:
    """The catalog's fixed version names upstream's first released tag.

    The catalog may name a pre-release (``0.8.0-rc1``: the first version without the bug);
    upstream's answer is the first *released* tag, so ``v0.8.0`` agrees with it.
    """
    if catalog == upstream:
        return True
    return not catalog.is_final and catalog.release == upstream.release


def disagreements(
    advisory: Advisory, states: Mapping[RefKey, ReferenceState]
) -> list[Disagreement]:
    """Lines on which upstream's first fixed tag contradicts the catalog.

    On a line where the catalog lists fixed versions, upstream's tag must be one of them (or the
    release of a pre-release the catalog names). On a
    line where it lists none, upstream contradicts it only when the catalog counts that tag as
    affected (the catalog's silence about a line it calls fixed, e.g. 1.30 after a fix in
    1.29.2, is agreement).
    """
    catalog = _catalog_by_line(advisory)
    affected = _affected_versions(advisory)
    out = []
    for line, fix in sorted(upstream_fixes(advisory, states).items(), key=lambda i: i[1].key):
        said = catalog.get(line, [])
        if any(_same_fix(key, fix.key) for key, _ in said):
            continue
        if not said and not any(fix.key in versions for versions in affected):
            continue
        out.append(
            Disagreement(
                advisory=advisory.id,
                line=line,
                upstream=fix.tag,
                catalog=", ".join(text for _, text in said) or None,
                ref=fix.ref,
                pull=fix.pull,
            )
        )
    return out


def news_between(
    old: ReferenceState | None,
    new: ReferenceState,
    advisories: tuple[AdvisoryId, ...],
    now: datetime,
) -> list[News]:
    """What changed from ``old`` to ``new``; nothing for a reference seen for the first time.

    A first sync records the baseline: announcing that a PR merged years ago "merged" would be
    noise.
    """
    if old is None:
        return []
    ref = new.ref
    out: list[News] = []

    def say(kind: NewsKind, text: str, line: str | None = None, tag: str | None = None) -> None:
        out.append(News(kind, ref, advisories, f"{ref}: {text}", now, line, tag))

    if new.is_pull:
        if new.merged and not old.merged:
            say(NewsKind.PULL_MERGED, f"merged into {new.base} ({new.title})")
        elif new.state == "closed" and old.state == "open" and not new.merged:
            say(NewsKind.PULL_CLOSED, f"closed without being merged ({new.title})")
        elif new.state == "open" and old.state == "closed":
            say(NewsKind.PULL_REOPENED, f"reopened ({new.title})")
        old_picks = {p.number: p for p in old.cherry_picks}
        for pick in new.cherry_picks:
            before = old_picks.get(pick.number)
            if before is None:
                state = "merged" if pick.merged else pick.state
                say(NewsKind.CHERRY_PICK_OPENED,
                    f"cherry-pick #{pick.number} to {pick.base} ({state})", pick.line)  # fmt: skip
            elif pick.merged and not before.merged:
                say(NewsKind.CHERRY_PICK_MERGED,
                    f"cherry-pick #{pick.number} merged into {pick.base}", pick.line)  # fmt: skip
        for fix in new.fixes:
            if fix.tag is None or fix.line is None:
                continue
            before_fix = old.fix_on(fix.line)
            if before_fix is not None and before_fix.tag == fix.tag:
                continue
            via = "" if fix.pull == ref.number else f" (via cherry-pick #{fix.pull})"
            say(NewsKind.FIX_RELEASED,
                f"fix released in {fix.tag} on the {fix.line} line{via}", fix.line,
                fix.tag)  # fmt: skip
    else:
        if new.state == "closed" and old.state != "closed":
            by = ", ".join(f"#{n}" for n in new.closed_by)
            say(NewsKind.ISSUE_CLOSED, f"closed{f' by {by}' if by else ''} ({new.title})")
        elif new.state == "open" and old.state == "closed":
            say(NewsKind.ISSUE_REOPENED, f"reopened ({new.title})")
    return out


@dataclass(frozen=True, slots=True)
class FixAdvice:
    """Where the fix of an advisory is for a cluster running one version of the component.

    ``on_line`` and ``upgrade_to`` come from the catalog, or from upstream when the catalog
    knows no fix at all (``source == "upstream"``). ``upstream_on_line`` is a hint: upstream's
    first fixed tag on the cluster's line when the catalog has none there.
    """

    line: str
    """The cluster's release line, e.g. ``3.25``."""
    on_line: str | None
    """The first fixed version on the cluster's line, newer than its version."""
    upgrade_to: str | None
    """The first fixed version on a later line."""
    source: str
    """``catalog`` or ``upstream``."""
    upstream_on_line: str | None = None

    @property
    def text(self) -> str:
        """``fixed in 3.25.1 on your 3.25 line, or upgrade to 3.26.0``."""
        said = "upstream reports the fix in" if self.source == "upstream" else "fixed in"
        parts = []
        if self.on_line:
            parts.append(f"{said} {self.on_line} on your {self.line} line")
        elif self.upstream_on_line:
            parts.append(
                f"upstream reports the fix in {self.upstream_on_line} on your {self.line} line "
                f"(not in the catalog)"
            )
        else:
            parts.append(f"no fix on your {self.line} line")
        if self.upgrade_to:
            parts.append(f"upgrade to {self.upgrade_to}")
        return ", or ".join(parts) if self.on_line or self.upstream_on_line else "; ".join(parts)


def fix_advice(
    advisory: Advisory, states: Mapping[RefKey, ReferenceState], version: str
) -> FixAdvice | None:
    """Fixed-in advice for a cluster whose component runs ``version``; None if none is known.

    The catalog's fixed versions decide; upstream's answers are used where the catalog knows no
    fix at all, and as a labelled hint for a line the catalog says nothing about.
    """
    try:
        current = parse_version(version).key
    except VersionError:
        return None
    line = _line(current)
    catalog = [v for versions in _catalog_by_line(advisory).values() for v in versions]
    upstream = upstream_fixes(advisory, states)
    source = "catalog"
    if not catalog:
        source = "upstream"
        catalog = sorted((fix.key, fix.tag) for fix in upstream.values())
    if not catalog:
        return None
    on_line = [text for key, text in catalog if key.line() == current.line() and key > current]
    later = [text for key, text in catalog if key.line() > current.line()]
    hint = None
    if source == "catalog" and not any(key.line() == current.line() for key, _ in catalog):
        fix = upstream.get(line)
        hint = fix.tag if fix is not None and fix.key > current else None
    if not on_line and not later and hint is None:
        return None
    return FixAdvice(
        line=line,
        on_line=on_line[0] if on_line else None,
        upgrade_to=later[0] if later else None,
        source=source,
        upstream_on_line=hint,
    )
