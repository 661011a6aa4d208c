"""``plan`` for people: what the changes resolve, introduce and change, and the safe targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from advisories.planning import Plan, Target
from bot.terminal.moments import human

__all__ = ["render_plan"]


def render_plan(
    plan: Plan,
    targets: Mapping[str, Target] | None,
    catalog_version: str,
    cluster: str | None = None,
    read_at: datetime | None = None,
) -> str:
    """The plan as plain text (at-risk entries with verdict and impact before and after)."""
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
        lines.append("Safe targets:")
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
