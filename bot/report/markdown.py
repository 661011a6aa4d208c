"""Scan and check results in Markdown, fit for a ticket or a pull-request comment.

The first line is the verdict; then one table row per match that holds (worst first), the
matches that depend on facts not read, and the clusters that could not be read. Matches that
do not hold are counted, not listed. GitHub, GitLab and Jira render the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.report.model import (
    SEVERITIES,
    Cell,
    ClusterRow,
    FleetReport,
    ReportError,
    Shade,
    human_time,
)

__all__ = ["render_check_markdown", "render_scan_markdown"]

_AFFECTED = (Shade.CRITICAL, Shade.HIGH, Shade.MEDIUM, Shade.LOW)


def _cell_text(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _nodes(nodes: tuple[str, ...], limit: int = 5) -> str:
    if not nodes:
        return "-"
    shown = ", ".join(f"`{n}`" for n in nodes[:limit])
    return shown + (f" and {len(nodes) - limit} more" if len(nodes) > limit else "")


def _order(pair: tuple[ClusterRow, Cell]) -> tuple[int, str, str]:
    row, cell = pair
    return (-cell.shade.rank, row.name, cell.advisory_id)


def render_scan_markdown(report: FleetReport) -> str:
    """The scan as Markdown (verdict first)."""
    titles = {c.id: c.title for c in report.columns}
    pairs = [(row, cell) for row in report.clusters if row.readable for cell in row.cells.values()]
    affected = sorted(((r, c) for r, c in pairs if c.shade in _AFFECTED), key=_order)
    unknown = sorted(((r, c) for r, c in pairs if c.shade is Shade.UNKNOWN), key=_order)
    muted = sorted(((r, c) for r, c in pairs if c.shade is Shade.MUTED), key=_order)
    unreadable = report.unreadable
    clusters = {r.name for r, _ in affected}
    if affected:
        worst = affected[0][1].severity or "high"
        verdict = (
            f"**{len(clusters)} of {len(report.clusters) - len(unreadable)} clusters affected** "
            f"by {len(affected)} known network issue{'s' if len(affected) != 1 else ''} "
            f"(worst: {worst}). Act on the recommendations below."
        )
    elif unknown:
        verdict = (
            f"**No cluster is known to be affected**, but {len(unknown)} match"
            f"{'es depend' if len(unknown) != 1 else ' depends'} on facts that were not read."
        )
    else:
        verdict = "**No cluster is affected** by a known network issue."
    if unreadable:
        verdict += f" {len(unreadable)} cluster{'s' if len(unreadable) != 1 else ''} not read."
    lines = [
        verdict,
        "",
        f"Catalog {report.catalog_version} · scanned {human_time(report.scanned_at)}"
        + (" · DEMO DATA" if report.demo else ""),
    ]
    if affected:
        lines += [
            "",
            "| severity | cluster | advisory | nodes | recommendation |",
            "|---|---|---|---|---|",
        ]
        for row, cell in affected:
            lines.append(
                f"| {(cell.severity or '?').upper()} | {_cell_text(row.name)} | "
                f"**{cell.advisory_id}**: {_cell_text(titles.get(cell.advisory_id, ''))} | "
                f"{len(cell.nodes)}: {_nodes(cell.nodes)} | {_cell_text(cell.recommendation)} |"
            )
    if unknown:
        lines += ["", "**Depends on facts not read:**", ""]
        for row, cell in unknown:
            why = cell.depends_text or "facts that could not be read"
            lines.append(f"- {row.name}: **{cell.advisory_id}** - {_cell_text(why)}")
    if muted:
        lines += ["", "**Muted (holds, nobody is told):**", ""]
        for row, cell in muted:
            lines.append(f"- {row.name}: **{cell.advisory_id}**")
    if unreadable:
        lines += ["", "**Not read (verdicts unknown):**", ""]
        for row in unreadable:
            lines.append(f"- {row.name}: {_cell_text(row.error or row.status)}")
    not_affected = sum(1 for _, c in pairs if c.shade is Shade.NOT_AFFECTED)
    lines += ["", f"<sub>{not_affected} cluster x advisory pairs not affected.</sub>"]
    return "\n".join(lines) + "\n"


def render_check_markdown(data: Mapping[str, Any]) -> str:
    """``check --json``'s document as Markdown (verdict first)."""
    results = data.get("results")
    if not isinstance(results, list) or not all(isinstance(r, Mapping) for r in results):
        raise ReportError("check document: 'results' must be a list of objects")
    for index, result in enumerate(results):
        for key in ("id", "verdict"):
            if not isinstance(result.get(key), str):
                raise ReportError(f"check document: results[{index}].{key} missing")
    components = data.get("components") or []
    scoped = [r for r in results if not components or r.get("component") in components]

    def rank(result: Mapping[str, Any]) -> tuple[int, str]:
        severity = result.get("severity")
        index = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
        return (index, str(result["id"]))

    affected = sorted((r for r in scoped if r["verdict"] == "affected"), key=rank)
    unknown = sorted((r for r in scoped if r["verdict"] == "unknown"), key=rank)
    if affected:
        verdict = (
            f"**Affected by {len(affected)} known network issue{'s' if len(affected) != 1 else ''}"
            f"**" + (f", {len(unknown)} more depend on facts not given." if unknown else ".")
        )
    elif unknown:
        verdict = f"**Not known to be affected**; {len(unknown)} depend on facts not given."
    else:
        verdict = "**Not affected** by any known network issue of the checked components."
    lines = [verdict, "", f"Catalog {data.get('catalog_version', '?')}"]
    if affected:
        lines += ["", "| severity | advisory | impact | recommendation |", "|---|---|---|---|"]
        for result in affected:
            lines.append(
                f"| {str(result.get('severity') or '?').upper()} | **{result['id']}**: "
                f"{_cell_text(str(result.get('title') or ''))} | "
                f"{_cell_text(str(result.get('impact') or ''))} | "
                f"{_cell_text(str(result.get('recommendation') or ''))} |"
            )
    if unknown:
        lines += ["", "**Depends on facts not given:**", ""]
        for result in unknown:
            why = str(result.get("depends_text") or "facts not given")
            lines.append(f"- **{result['id']}** - {_cell_text(why)}")
    return "\n".join(lines) + "\n"
