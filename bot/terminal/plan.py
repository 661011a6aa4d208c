"""``plan`` for people: what the changes resolve, introduce and change, and the safe targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from advisories.fixes import MAX_TARGETS, Fix
from advisories.planning import Plan, Target
from bot.terminal.moments import human

__all__ = ["fix_lines", "render_plan"]


def render_plan(
    plan: Plan,
    targets: Mapping[str, Target] | None,
    catalog_version: str,
    cluster: str | None = None,
    read_at: datetime | None = None,
    fixes: Sequence[Fix] = (),
    searched: bool = True,
) -> str:
    """The plan as plain text (at-risk entries with verdict and impact before and after); with
    ``--safe``, the best joint fixes as sentences, then the per-component targets."""
    subject = cluster or "the stated setup"
    when = f" (facts read {human(read_at)})" if read_at else ""
    lines = [f"netadvisor catalog {catalog_version}: plan for {subject}{when}"]
    if plan.changes:
        lines.append("Changes: " + ", ".join(f"{c.key}={c.raw}" for c in plan.changes))
    unchanged = [e for e in plan.remaining if not e.differs]
    sections: Sequence[tuple[str, Sequence[Any]]] = (
        ("Resolved", plan.resolved),
        ("Introduced", plan.introduced),
        ("Changed", plan.changed),
        ("Remaining (unchanged)", [e for e in unchanged if e.after.verdict.value == "affected"]),
    )
    for title, entries in sections:
        if not entries:
            continue
        lines.append(f"{title}:")
        for entry in entries:
            lines.append(f"  {entry.id}: {entry.before.verdict.value} -> "
                         f"{entry.after.verdict.value}")  # fmt: skip
            if title != "Remaining (unchanged)":
                lines.append(f"      before: {entry.before.impact() or '-'}")
                lines.append(f"      after:  {entry.after.impact() or '-'}")
    unknown = [e.id for e in unchanged if e.after.verdict.value != "affected"]
    if unknown:
        lines.append(f"{len(unknown)} more stay unknown: "
                     + ", ".join(unknown))  # fmt: skip
    if targets is not None:
        lines.extend(fix_lines(fixes, searched))
        lines.append("Safe targets, one component at a time:")
        for key, target in targets.items():
            if target.version is None:
                blocking = ", ".join(target.blocking)
                lines.append(f"  {key}: no version in the catalog clears {blocking}")
                continue
            later = " (the current line has no fix)" if target.current_line_fixed is False else ""
            label = f", {target.label}" if target.label else ""
            lines.append(f"  {key}: {target.version} (line {target.line}){later}{label}"
                         f", now {target.current or 'unknown'}")  # fmt: skip
            for advisory_id, how in target.upstream.items():
                lines.append(f"      {advisory_id}: upstream reports the fix in {how}")
            if target.os_releases:
                lines.append(f"      OS releases: {', '.join(target.os_releases)}")
            for caveat in target.caveats:
                lines.append(f"      caveat: {caveat}")
    return "\n".join(lines)


def fix_lines(fixes: Sequence[Fix], searched: bool = True) -> list[str]:
    """The best joint fixes as one sentence: ``Fix: kernel 5.9 or later (...) and Calico
    3.28.2 or later; or ...``."""
    if not fixes and not searched:
        return [
            f"Fix: more than {MAX_TARGETS} advisories at risk; state more facts to search "
            "combinations"
        ]
    if not fixes:
        return ["Fix: no combination of catalog versions and modes clears every advisory"]
    best = "; or ".join(f.sentence(releases=i == 0) for i, f in enumerate(fixes[:2]))
    lines = [f"Fix: {best[:1].upper()}{best[1:]}."]
    left = sorted({i for f in fixes[:2] for i in f.remaining})
    if left:
        lines.append(
            f"      may stay unknown (on facts not given or not readable): {', '.join(left)}"
        )
    return lines
