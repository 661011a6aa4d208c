"""Export advisories as OSV records (https://ossf.github.io/osv-schema/).

Each affected case becomes one ``affected[]`` entry: the component as a Go package (its
upstream module), the component's version ranges as ``SEMVER`` ranges, and every other
condition (kernel, proxy mode, encapsulation, features) under ``ecosystem_specific``, which
OSV leaves to the producer. Pure: ``modified`` is passed in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from advisories.models import Advisory, Case, Condition

__all__ = ["PACKAGES", "to_osv"]

PACKAGES: Final = {
    "kube-proxy": "k8s.io/kubernetes",
    "calico": "github.com/projectcalico/calico",
    "spiderpool": "github.com/spidernet-io/spiderpool",
}
"""The Go module each component ships from, used as the OSV package name."""


def _ranges(cond: Condition) -> list[dict[str, Any]]:
    """One SEMVER range per introduced..end pair (OSV forbids fixed and last_affected together)."""
    ranges: list[dict[str, Any]] = []
    current: list[dict[str, str]] = []
    for kind, text in cond.events:
        current.append({kind: text})
        if kind != "introduced":
            ranges.append({"type": "SEMVER", "events": current})
            current = []
    if current:
        ranges.append({"type": "SEMVER", "events": current})
    return ranges


def _other(cond: Condition) -> Any:
    if cond.versions is not None:
        return [{kind: text} for kind, text in cond.events]
    if cond.values is not None:
        return sorted(cond.values)
    return cond.flag


def _affected(advisory: Advisory, case: Case) -> dict[str, Any]:
    version_cond = next((c for c in case.when if c.key == advisory.component), None)
    ranges = _ranges(version_cond) if version_cond else [
        {"type": "SEMVER", "events": [{"introduced": "0"}]}
    ]  # fmt: skip
    conditions = {c.key: _other(c) for c in case.when if c is not version_cond}
    specific: dict[str, Any] = {
        "component": advisory.component,
        "case": case.id,
        "severity": case.severity.value if case.severity else None,
        "impact": case.impact.en,
        "conditions": conditions,
    }
    if case.uncertain:
        specific["uncertain"] = case.uncertain
    return {
        "package": {"ecosystem": "Go", "name": PACKAGES[advisory.component]},
        "ranges": ranges,
        "ecosystem_specific": specific,
    }


def to_osv(advisory: Advisory, modified: datetime, catalog_version: str) -> dict[str, Any]:
    """One OSV record for an advisory; ``modified`` must be timezone-aware."""
    details = advisory.summary
    if advisory.notes:
        details += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in advisory.notes)
    return {
        "schema_version": "1.6.0",
        "id": f"NETADVISOR-{advisory.id}",
        "modified": modified.isoformat().replace("+00:00", "Z"),
        "summary": advisory.title,
        "details": details,
        "affected": [_affected(advisory, c) for c in advisory.cases if c.affected],
        "references": [{"type": r.type, "url": r.url} for r in advisory.references],
        "database_specific": {
            "catalog_version": catalog_version,
            "decided_by": advisory.decided_by.value,
            "recommendation": advisory.recommendation.en,
            "source": advisory.source,
        },
    }
