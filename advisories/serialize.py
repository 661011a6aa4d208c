"""netadvisor's own JSON shapes for advisories, facts and results (documented in the README).

Pure functions from domain values to JSON-ready dicts; every adapter (command line, scan,
Slack) uses these so that one fact or verdict looks the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisories.engine import Result, Term
from advisories.facts import FEATURES, Domain, Facts, KernelDomain, VersionDomain
from advisories.fixes import Fix
from advisories.models import Advisory, Case, Condition
from advisories.planning import Plan, PlanEntry, Target
from advisories.versions import VersionSet, parse_version

__all__ = [
    "advisory_to_json",
    "describe_domain",
    "facts_to_json",
    "fix_to_json",
    "fixed_versions",
    "plan_to_json",
    "result_to_json",
    "targets_to_json",
]

JSON = dict[str, Any]


def describe_domain(key: str, domain: Domain) -> str | list[str] | bool | None:
    """A fact's value as people read it: ``5.4`` series as ``>= 5.4.0 and < 5.5.0``, etc."""
    if isinstance(domain, VersionDomain):
        if not domain.versions and domain.absent:
            return "none"
        text = _versions(domain.versions)
        return f"{text} or none" if domain.absent else text
    if isinstance(domain, KernelDomain):
        return _versions(domain.versions)
    values: list[object] = sorted(domain, key=str)
    if key in FEATURES:
        return bool(values[0]) if len(values) == 1 else None
    return ["+".join(sorted(v)) if isinstance(v, frozenset) else str(v) for v in values]


def _versions(versions: VersionSet) -> str:
    if versions.is_point():
        return str(versions.lowest())
    return versions.describe()


def facts_to_json(facts: Facts) -> JSON:
    """Every known fact with its value and, where one was read, the raw string."""
    out: JSON = {}
    for key, domain in facts.values.items():
        entry: JSON = {"value": describe_domain(key, domain)}
        if key in facts.raw:
            entry["raw"] = facts.raw[key]
        out[key] = entry
    if facts.os_name:
        out.setdefault("os", {})["release"] = facts.os_name
    return out


def _term(term: Term) -> JSON:
    return {"text": term.describe(), "facts": dict(term.words)}


def result_to_json(result: Result, language: str = "en") -> JSON:
    """One advisory's verdict with the fields ``check --json`` documents."""
    advisory = result.advisory
    return {
        "id": advisory.id,
        "title": advisory.title_in(language),
        "component": advisory.component,
        "verdict": result.verdict.value,
        "severity": result.severity.value if result.severity else None,
        "impact": result.impact(language),
        "recommendation": advisory.recommendation.get(language),
        "depends_on": list(result.depends_on),
        "depends_text": result.depends_text(),
        "affected_when": [_term(t) for t in result.affected_when],
        "safe_when": [_term(t) for t in result.safe_when],
        "uncertain": list(result.uncertain),
        "caveats": list(result.caveats),
        "cases": [c.id for c in result.cases],
        "evidence": dict(result.evidence),
        "workaround": [{"description": w.describe(language), "command": w.command,
                        "cases": list(w.cases)} for w in advisory.workaround],
        "references": [r.url for r in advisory.references],
    }  # fmt: skip


def _condition(cond: Condition) -> JSON:
    if cond.versions is not None:
        return {"events": [{kind: text} for kind, text in cond.events]}
    if cond.values is not None:
        return {"any_of": sorted(cond.values)}
    return {"on": cond.flag}


def _case(case: Case) -> JSON:
    return {
        "id": case.id,
        "affected": case.affected,
        "severity": case.severity.value if case.severity else None,
        "uncertain": case.uncertain,
        "when": {c.key: _condition(c) for c in case.when},
        "impact": {"en": case.impact.en, "zh": case.impact.zh},
        "note": case.note,
        "symptoms": {k: list(v) for k, v in case.symptoms.items()},
    }


def fixed_versions(advisory: Advisory) -> list[str]:
    """The first fixed release of each line, derived from the affected cases' ranges.

    A version is listed when an affected band of the component's version ends there and the
    version itself is not affected by any other case (``3.24.6``, ``3.25.1``, ``3.26.0``).
    """
    key = advisory.component
    ends: set[str] = set()
    affected_sets: list[VersionSet] = []
    for case in advisory.cases:
        for cond in case.when:
            if cond.key != key or cond.versions is None:
                continue
            if case.affected:
                affected_sets.append(cond.versions)
                ends.update(text for kind, text in cond.events if kind == "fixed")
    out = []
    for text in ends:
        version_key = parse_version(text).key
        if not any(version_key in s for s in affected_sets):
            out.append((version_key, text))
    return [text for _, text in sorted(out)]


def advisory_to_json(advisory: Advisory) -> JSON:
    """The whole advisory in netadvisor's own schema (``catalog export --format json``)."""
    return {
        "id": advisory.id,
        "title": advisory.title,
        "component": advisory.component,
        "decided_by": advisory.decided_by.value,
        "summary": advisory.summary,
        "severity": advisory.worst_severity.value if advisory.worst_severity else None,
        "symptoms": {k: list(v) for k, v in advisory.symptoms.items()},
        "recommendation": {"en": advisory.recommendation.en, "zh": advisory.recommendation.zh},
        "title_zh": advisory.title_zh,
        "workaround": [{"description": w.description, "description_zh": w.description_zh,
                        "command": w.command, "cases": list(w.cases)} for w in
                       advisory.workaround],
        "references": [{"type": r.type, "url": r.url, "note": r.note} for r in
                       advisory.references],
        "source": advisory.source,
        "notes": list(advisory.notes),
        "fixed_in": fixed_versions(advisory),
        "cases": [_case(c) for c in advisory.cases],
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Planning (shared by ``ask``, ``plan`` and ``check``)


def fix_to_json(fix: Fix, language: str = "en") -> JSON:
    """One alternative: ``{"changes": {fact: value}, "clears": [...], "remaining": [...],
    "or_later": [...], "text": ...}``; ``changes`` are values ``check`` / ``plan --set`` take."""
    return {
        "changes": dict(fix.changes),
        "clears": list(fix.clears),
        "remaining": list(fix.remaining),
        "or_later": sorted(fix.or_later),
        "text": fix.describe(language),
    }


def _side(result: Result, lang: str) -> JSON:
    return {
        "verdict": result.verdict.value,
        "impact": result.impact(lang),
        "cases": [c.id for c in result.cases if c.affected],
        "severity": result.severity.value if result.severity else None,
        "depends_on": list(result.depends_on),
        "uncertain": list(result.uncertain),
    }


def _entry(entry: PlanEntry, lang: str) -> JSON:
    return {
        "id": entry.id,
        "title": entry.before.advisory.title_in(lang),
        "component": entry.before.advisory.component,
        "before": _side(entry.before, lang),
        "after": _side(entry.after, lang),
    }


def plan_to_json(plan: Plan, language: str = "en") -> JSON:
    """``resolved`` / ``introduced`` / ``remaining`` / ``changed`` with before and after."""
    return {
        "changes": [{"key": c.key, "value": c.raw} for c in plan.changes],
        "resolved": [_entry(e, language) for e in plan.resolved],
        "introduced": [_entry(e, language) for e in plan.introduced],
        "remaining": [_entry(e, language) for e in plan.remaining],
        "changed": [_entry(e, language) for e in plan.changed],
    }


def targets_to_json(targets: Mapping[str, Target]) -> JSON:
    """component -> ``{version, line, current, current_line_fixed, blocking, caveats, ...}``;
    ``source`` is ``upstream`` (``label``: "from upstream, not curated") when the version relies
    on upstream tracking, for the advisories in ``upstream``."""
    return {
        key: {
            "version": t.version,
            "line": t.line,
            "current": t.current,
            "current_line_fixed": t.current_line_fixed,
            "blocking": list(t.blocking),
            "reasons": dict(t.reasons),
            "caveats": list(t.caveats),
            "os_releases": list(t.os_releases),
            "source": t.source,
            "label": t.label,
            "upstream": dict(t.upstream),
        }
        for key, t in targets.items()
    }
