"""Plain-text rendering of catalog entries and verdicts for the terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from advisories.catalog import Catalog
from advisories.engine import Result
from advisories.facts import FEATURES
from advisories.models import Advisory, Verdict
from advisories.serialize import fixed_versions

__all__ = ["render_advisory", "render_check", "render_features", "render_list"]

_MARK = {Verdict.AFFECTED: "AFFECTED", Verdict.UNKNOWN: "UNKNOWN", Verdict.NOT_AFFECTED: "ok"}


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def render_result(result: Result, language: str = "en") -> str:
    """One affected or unknown advisory: headline, impact, recommendation, commands."""
    advisory = result.advisory
    severity = f" [{result.severity.value}]" if result.severity else ""
    lines = [f"{_MARK[result.verdict]:9} {advisory.id}{severity}  {advisory.title}"]
    lines.append(_indent("Impact: " + result.impact(language)))
    if result.verdict is Verdict.UNKNOWN:
        lines.append(_indent("Depends on: " + ", ".join(result.depends_on)))
        if result.depends_text():
            lines.append(_indent(result.depends_text()))
        if result.safe_when:
            safe = " or ".join(t.describe() for t in result.safe_when)
            lines.append(_indent("Safe if " + safe))
    for caveat in result.caveats:
        lines.append(_indent("Caveat: " + caveat))
    lines.append(_indent("Recommendation: " + advisory.recommendation.get(language)))
    for workaround in advisory.workaround:
        lines.append(_indent(f"Workaround: {workaround.description}".rstrip(": ")))
        lines.append(_indent("$ " + workaround.command, "      "))
    fixed = fixed_versions(advisory)
    if fixed:
        lines.append(_indent("Fixed in: " + ", ".join(fixed)))
    for ref in advisory.references[:3]:
        lines.append(_indent(f"{ref.type.lower()}: {ref.url}"))
    return "\n".join(lines)


def render_check(
    results: Sequence[Result],
    components: Iterable[str],
    catalog_version: str,
    language: str = "en",
) -> str:
    """The ``check`` report: affected and unknown advisories of the described components."""
    scope = set(components)
    shown = [r for r in results if r.advisory.component in scope]
    problems = [r for r in shown if r.verdict is not Verdict.NOT_AFFECTED]
    problems.sort(key=lambda r: (-r.verdict.rank, -(r.severity.rank if r.severity else 0)))
    counts = Counter(r.verdict for r in shown)
    lines = [
        f"Summary: {counts[Verdict.AFFECTED]} affected, {counts[Verdict.UNKNOWN]} unknown, "
        f"{counts[Verdict.NOT_AFFECTED]} not affected.",
        f"Components checked: {', '.join(sorted(scope))} (netadvisor catalog {catalog_version}, "
        f"{len(results)} advisories)",
        "",
    ]
    for result in problems:
        lines.append(render_result(result, language))
        lines.append("")
    others = [r for r in results if r.advisory.component not in scope]
    if others:
        by_component = Counter(r.advisory.component for r in others)
        described = ", ".join(f"{c} ({n})" for c, n in sorted(by_component.items()))
        lines.append(
            f"Not considered: {len(others)} advisories of components you did not describe: "
            f"{described}. Give --calico/--spiderpool/--proxy-mode (or none) to include them."
        )
    return "\n".join(lines)


def render_list(catalog: Catalog) -> str:
    """One line per advisory."""
    lines = [f"netadvisor catalog {catalog.version}: {len(catalog.advisories)} advisories"]
    width = max((len(a.id) for a in catalog.advisories), default=10)
    for advisory in catalog.advisories:
        severity = advisory.worst_severity.value if advisory.worst_severity else "-"
        lines.append(
            f"{advisory.id:<{width}}  {advisory.component:<10}  {severity:<8}  {advisory.title}"
        )
    return "\n".join(lines)


def render_advisory(advisory: Advisory, catalog_version: str) -> str:
    """Everything about one advisory, cases included."""
    lines = [
        f"{advisory.id}: {advisory.title}",
        f"Component: {advisory.component}    Decided by: {advisory.decided_by.value}"
        f"    Catalog: {catalog_version}",
        "",
        advisory.summary,
        "",
        "Cases:",
    ]
    for case in advisory.cases:
        state = "affected" if case.affected else "not affected"
        if case.uncertain:
            state = "uncertain"
        severity = f", {case.severity.value}" if case.severity else ""
        lines.append(f"  - {case.id} ({state}{severity})")
        lines.append(f"      when: {' and '.join(c.describe() for c in case.when) or 'always'}")
        lines.append(_indent(case.impact.en, "      "))
        if case.uncertain:
            lines.append(_indent("uncertain: " + case.uncertain, "      "))
        if case.note:
            lines.append(_indent("note: " + case.note, "      "))
    lines += ["", "Recommendation: " + advisory.recommendation.en]
    for workaround in advisory.workaround:
        lines.append(f"Workaround: {workaround.description}")
        lines.append(f"  $ {workaround.command}")
    fixed = fixed_versions(advisory)
    if fixed:
        lines.append("Fixed in: " + ", ".join(fixed))
    if advisory.symptoms:
        for language, words in advisory.symptoms.items():
            lines.append(f"Symptoms ({language}): " + "; ".join(words))
    if advisory.notes:
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in advisory.notes)
    lines.append("References:")
    lines.extend(f"  - {r.type}: {r.url}" for r in advisory.references)
    if advisory.source:
        lines.append(f"Seed section: {advisory.source}")
    return "\n".join(lines)


def render_features() -> str:
    """The feature names with what they mean and where inventory reads them."""
    lines = []
    for spec in FEATURES.values():
        lines.append(f"{spec.name}  ({spec.component})")
        lines.append(f"    {spec.description}")
        lines.append(f"    read from: {spec.source}")
    return "\n".join(lines)
