"""``upstream show`` and ``upstream sync`` for people."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from advisories.models import Advisory
from advisories.serialize import fixed_versions
from bot.terminal.json import github_refs, states
from jobs.upstream.compare import disagreements, fix_advice, upstream_fixes
from jobs.upstream.github import RequestStats
from jobs.upstream.models import CherryPick, ReferenceState, RefKey, RefRecord
from jobs.upstream.sync import SyncReport

__all__ = ["render_reference", "render_show", "render_sync"]


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "?"


def _describe(state: ReferenceState) -> str:
    if not state.is_pull:
        if state.state == "closed":
            by = ", ".join(f"#{n}" for n in state.closed_by)
            return f"closed {_day(state.closed_at)}{f' by {by}' if by else ''}"
        return "open"
    if state.merged:
        return f"merged {_day(state.merged_at)} into {state.base}"
    if state.state == "closed":
        return f"closed without merging (base {state.base})"
    return f"open against {state.base}"


def _pick_state(pick: CherryPick) -> str:
    if pick.merged:
        return "merged"
    return "closed unmerged" if pick.state == "closed" else "open"


def render_reference(kind: str, ref: RefKey, record: RefRecord | None) -> list[str]:
    """The lines of one reference in ``upstream show``."""
    label = "issue" if ref.kind == "issues" else "PR"
    head = f"  {kind:<7}{ref} ({label})"
    if record is None or record.state is None:
        lines = [f"{head}: not synced yet"]
    else:
        state = record.state
        lines = [f"{head}: {_describe(state)} - {state.title}"]
        extra = []
        if state.labels:
            extra.append("labels: " + ", ".join(state.labels))
        if state.milestone:
            extra.append(f"milestone {state.milestone}")
        if extra:
            lines.append("           " + "; ".join(extra))
        if state.cherry_picks:
            picks = ", ".join(
                f"#{p.number} -> {p.base} ({_pick_state(p)})" for p in state.cherry_picks
            )
            lines.append(f"           cherry-picks: {picks}")
        if state.fixes:
            fixes = []
            for fix in state.fixes:
                via = "" if fix.pull == ref.number else f" (#{fix.pull})"
                if fix.line is None:
                    fixes.append(f"merged, in no release yet{via}")
                else:
                    fixes.append(f"{fix.line}: {fix.tag or 'not released yet'}{via}")
            lines.append("           first released tag per line: " + "; ".join(fixes))
    if record is not None and record.error:
        lines.append(f"           last sync failed {_day(record.error_at)}: {record.error}")
    return lines


def render_show(
    advisories: Sequence[Advisory],
    records: Mapping[RefKey, RefRecord],
    notes: Sequence[str] = (),
    version: str | None = None,
) -> str:
    """``upstream show`` for people."""
    known = states(records)
    lines = [f"note: {note}" for note in notes]
    if not advisories:
        lines.append("no advisory cites a GitHub PR or issue")
    for advisory in advisories:
        if lines:
            lines.append("")
        lines.append(f"{advisory.id}  {advisory.title}")
        fixed = fixed_versions(advisory)
        lines.append(f"  catalog fixed versions: {', '.join(fixed) if fixed else 'none'}")
        synced = [records[r].synced_at for _, r in github_refs(advisory) if r in records]
        for kind, ref in github_refs(advisory):
            lines.extend(render_reference(kind, ref, records.get(ref)))
        found = upstream_fixes(advisory, known)
        if found:
            ordered = sorted(found.values(), key=lambda f: f.key)
            lines.append(
                "  upstream first fixed: " + ", ".join(f"{f.line}: {f.tag}" for f in ordered)
            )
        for item in disagreements(advisory, known):
            lines.append(f"  ! {item.text.split(': ', 1)[1]}")
        if version:
            advice = fix_advice(advisory, known, version)
            lines.append(f"  for {version}: {advice.text if advice else 'no fixed release known'}")
        times = [t for t in synced if t is not None]
        lines.append(
            f"  last synced {max(times):%Y-%m-%d %H:%M} UTC" if times else "  never synced"
        )
    return "\n".join(lines)


def render_sync(report: SyncReport, stats: RequestStats) -> str:
    """``upstream sync`` for people: what was synced, what failed, the news, disagreements."""
    lines = [
        f"synced {len(report.synced)}, failed {len(report.failed)}, "
        f"not reached {len(report.remaining)}; {stats.sent} requests "
        f"({stats.not_modified} answered 304 Not Modified), {stats.reused} answers reused"
    ]
    if report.stopped:
        lines.append(
            f"stopped early: {report.stopped}; the next sync resumes with "
            f"{len(report.remaining)} reference{'s' if len(report.remaining) != 1 else ''}"
        )
    elif report.pass_done:
        lines.append("every reference has been asked in this pass")
    if report.failed:
        lines.append("failed (the last known state is kept):")
        lines.extend(f"  {ref}: {error}" for ref, error in report.failed)
    lines.append(f"news ({len(report.news)}):" if report.news else "no news")
    for news in report.news:
        lines.append(f"  - {news.text} [{', '.join(news.advisories)}]")
    if report.disagreements:
        lines.append(f"upstream disagrees with the catalog ({len(report.disagreements)}):")
        lines.extend(f"  ! {d.text}" for d in report.disagreements)
    return "\n".join(lines)
