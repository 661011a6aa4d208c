"""Every ``--json`` document the command line prints, built in one place.

The shapes are netadvisor's own (documented in the README); the core's pieces
(:mod:`advisories.serialize`, :mod:`jobs.upstream.serialize`) are assembled here into whole
documents: ``catalog show|export``, ``check``, ``inventory``, ``scan`` (annotated with what the
scan changed and who was told), ``upstream sync|show`` and ``mutes``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, TextIO

from advisories.answers import Answer
from advisories.catalog import Catalog
from advisories.engine import Result
from advisories.facts import FEATURES, Facts, VersionDomain
from advisories.fixes import Fix
from advisories.fleet import ClusterFacts, ClusterMatch
from advisories.models import Advisory, Verdict
from advisories.osv import to_osv
from advisories.planning import Plan, Target
from advisories.serialize import (
    advisory_to_json,
    describe_domain,
    facts_to_json,
    fix_to_json,
    fixed_versions,
    plan_to_json,
    result_to_json,
    targets_to_json,
)
from jobs.checks import CheckResult
from jobs.muting import MuteView
from jobs.notices import Digest
from jobs.scan import ClusterScan, FleetScan
from jobs.upstream.compare import disagreements, fix_advice, upstream_fixes
from jobs.upstream.github import RequestStats
from jobs.upstream.models import ReferenceState, RefKey, RefRecord, RepoName
from jobs.upstream.serialize import disagreement_to_json, news_to_json, reference_to_json
from jobs.upstream.sync import SyncReport

__all__ = [
    "JSON",
    "advisory",
    "answer",
    "catalog_export",
    "check",
    "checks",
    "digests",
    "dump",
    "inventory",
    "mutes",
    "osv_export",
    "plan",
    "scan",
    "sync",
    "upstream_advisory",
]

JSON = dict[str, Any]


def dump(document: Any, out: TextIO) -> None:
    """Print one document, indented, UTF-8 as it is."""
    print(json.dumps(document, indent=2, ensure_ascii=False), file=out)


# ---------------------------------------------------------------------------------------------
# The catalog and check


def advisory(catalog: Catalog, item: Advisory) -> JSON:
    """``catalog show ID --json``."""
    return {"catalog_version": catalog.version, **advisory_to_json(item)}


def catalog_export(catalog: Catalog) -> JSON:
    """``catalog export`` (netadvisor's JSON)."""
    return {
        "catalog_version": catalog.version,
        "advisories": [advisory_to_json(a) for a in catalog.advisories],
    }


def osv_export(catalog: Catalog, now: datetime) -> list[JSON]:
    """``catalog export --format osv``: one OSV record per advisory."""
    # Stable from one export to the next: the advisory's own last change, else the day of the
    # catalog's version (never the time of the export).
    released = _catalog_day(catalog.version) or now.date()
    return [
        to_osv(a, datetime.combine(a.modified or released, time(), UTC), catalog.version)
        for a in catalog.advisories
    ]


def _catalog_day(version: str) -> date | None:
    """``2026.12.03`` -> that day; None for a version that is not a day."""
    try:
        return date(*(int(part) for part in version.split(".")[:3]))
    except (TypeError, ValueError):
        return None


def check(
    catalog: Catalog,
    facts: Facts,
    components: Sequence[str],
    results: Sequence[Result],
    language: str,
    fixes: Sequence[Fix] = (),
) -> JSON:
    """``check --json``: every verdict, and ``safe_with``: alternatives (best first) that make
    every at-risk advisory of the checked components not affected."""
    return {
        "catalog_version": catalog.version,
        "facts": facts_to_json(facts),
        "components": list(components),
        "results": [result_to_json(r, language) for r in results],
        "safe_with": [fix_to_json(f, language) for f in fixes],
    }


def plan(
    catalog: Catalog,
    changes: Plan,
    targets: Mapping[str, Target] | None,
    cluster: str | None,
    read_at: datetime | None,
    language: str = "en",
    fixes: Sequence[Fix] = (),
) -> JSON:
    """``plan --json``: every advisory before and after; with ``--safe``, the safe targets one
    component at a time and ``fixes``, joint changes that clear every advisory, best first."""
    data: JSON = {
        "catalog_version": catalog.version,
        "cluster": cluster,
        "read_at": read_at.isoformat() if read_at else None,
        **plan_to_json(changes, language),
    }
    if targets is not None:
        data["targets"] = targets_to_json(targets)
        data["fixes"] = [fix_to_json(f, language) for f in fixes]
    return data


def answer(ans: Answer) -> JSON:
    """``ask --json``: the answer's verdict, reading, reasons and named advisories."""
    return ans.to_json()


# ---------------------------------------------------------------------------------------------
# inventory and scan


def _feature(cluster: ClusterFacts, name: str) -> bool | None:
    domain = cluster.facts.values.get(name)
    if isinstance(domain, frozenset) and len(domain) == 1:
        value = next(iter(domain))
        return value if isinstance(value, bool) else None
    return None


def _component(cluster: ClusterFacts, name: str) -> JSON:
    component = cluster.components.get(name)
    if component is None:
        return {"installed": None, "version": None}
    out: JSON = {"installed": component.installed, "version": component.version}
    if component.details:
        out["details"] = dict(component.details)
    return out


def _value(cluster: ClusterFacts, key: str) -> Any:
    domain = cluster.facts.values.get(key)
    if domain is None:
        return None
    described = describe_domain(key, domain)
    if isinstance(domain, frozenset) and isinstance(described, list) and len(described) == 1:
        return described[0]
    return described


def _identity(cluster: ClusterFacts) -> JSON:
    """The fields that open a cluster in every report: who it is and whether it was read."""
    return {
        "name": cluster.name,
        "uid": cluster.uid,
        "status": cluster.status.value,
        "error": cluster.error,
        "demo": cluster.demo,
        "aliases": list(cluster.aliases),
        "labels": dict(cluster.labels),
    }


def cluster(item: ClusterFacts) -> JSON:
    """One cluster as ``inventory --json`` prints it."""
    version = item.facts.values.get("kubernetes")
    calico = _component(item, "calico")
    calico["encapsulation"] = _value(item, "calico-encapsulation")
    calico["iptables_backend"] = _value(item, "calico-iptables-backend")
    return {
        **_identity(item),
        "kubernetes_version": item.facts.raw.get("kubernetes")
        if isinstance(version, VersionDomain)
        else None,
        "proxy_mode": _value(item, "proxy-mode"),
        "kube_proxy": _component(item, "kube-proxy"),
        "calico": calico,
        "spiderpool": _component(item, "spiderpool"),
        "features": {name: _feature(item, name) for name in FEATURES},
        "facts": facts_to_json(item.facts),
        "evidence": {
            key: {"object": e.object, "field": e.field, "value": e.value, "reason": e.reason}
            for key, e in item.evidence.items()
        },
        "nodes": [
            {
                "name": n.name,
                "roles": list(n.roles),
                "kernel": n.kernel,
                "os_image": n.os_image,
                "kubelet_version": n.kubelet_version,
                "container_runtime": n.container_runtime,
                "architecture": n.architecture,
            }
            for n in item.nodes
        ],
    }


def inventory(clusters: Sequence[ClusterFacts]) -> JSON:
    """The whole ``inventory --json`` document."""
    return {"demo": any(c.demo for c in clusters), "clusters": [cluster(c) for c in clusters]}


def _match(match: ClusterMatch, language: str) -> JSON:
    result = match.result
    item = result.advisory
    return {
        "id": item.id,
        "title": item.title,
        "component": item.component,
        "verdict": match.verdict.value,
        "severity": result.severity.value if result.severity else None,
        "nodes": list(match.affected_nodes),
        "unknown_nodes": list(match.unknown_nodes),
        "impact": result.impact(language),
        "recommendation": item.recommendation.get(language),
        "depends_on": list(result.depends_on),
        "depends_text": result.depends_text(),
        "evidence": dict(result.evidence),
    }


def scans(items: Sequence[ClusterScan], catalog_version: str, language: str = "en") -> JSON:
    """The ``scan --json`` document without state: one entry per cluster, one result per
    advisory."""
    clusters = []
    for item in items:
        clusters.append(
            {
                **_identity(item.cluster),
                "summary": {v.value: item.count(v) for v in Verdict},
                "results": [_match(m, language) for m in item.matches],
            }
        )
    return {
        "catalog_version": catalog_version,
        "demo": any(s.cluster.demo for s in items),
        "clusters": clusters,
    }


def scan(
    result: FleetScan,
    catalog_version: str,
    language: str,
    *,
    database: str | None,
    dry_run: bool,
    messages: str,
) -> JSON:
    """The whole ``scan --json`` document: every result with its ``change`` and ``notified``
    (null when the match is not tracked), and the document's ``state``."""
    data = scans(result.scans, catalog_version, language)
    report = result.report
    for entry in data["clusters"]:
        outcome = report.clusters.get(entry["name"])
        matches = outcome.matches if outcome else {}
        for item in entry.get("results", []):
            found = matches.get(item["id"])
            item["change"] = found.change.value if found and found.change else None
            item["notified"] = found.notified.value if found and found.notified else None
        if outcome is not None and outcome.unreadable_since is not None:
            entry["unreadable_since"] = outcome.unreadable_since.isoformat()
            entry["stale"] = sorted(matches)
    data["state"] = {
        "database": database,
        "dry_run": dry_run,
        "messages": messages,
        "retired": list(report.retired),
        "delivery_errors": list(report.delivery.errors),
    }
    return data


def digests(items: Sequence[Digest]) -> JSON:
    """``digest --json``: every channel's digest."""
    return {"digests": [d.to_json() for d in items]}


# ---------------------------------------------------------------------------------------------
# upstream


def github_refs(item: Advisory) -> list[tuple[str, RefKey]]:
    """The advisory's references that are GitHub PRs or issues: (reference type, key)."""
    out = []
    for reference in item.references:
        parsed = reference.github
        if parsed is not None:
            out.append((reference.type, RefKey(RepoName(parsed[0]), parsed[1], parsed[2])))
    return out


def states(records: Mapping[RefKey, RefRecord]) -> dict[RefKey, ReferenceState]:
    """The known states of stored references."""
    return {ref: r.state for ref, r in records.items() if r.state is not None}


def upstream_advisory(
    item: Advisory, records: Mapping[RefKey, RefRecord], version: str | None = None
) -> JSON:
    """One advisory in ``upstream show --json``."""
    known = states(records)
    references = []
    for kind, ref in github_refs(item):
        record = records.get(ref)
        references.append(
            {
                "type": kind,
                "url": ref.url,
                "state": reference_to_json(record.state) if record and record.state else None,
                "error": record.error if record else None,
            }
        )
    found = upstream_fixes(item, known)
    out: JSON = {
        "id": item.id,
        "title": item.title,
        "component": item.component,
        "fixed_in": fixed_versions(item),
        "upstream_fixed_in": {
            line: {"tag": f.tag, "reference": str(f.ref), "pull": f.pull}
            for line, f in sorted(found.items(), key=lambda i: i[1].key)
        },
        "disagreements": [disagreement_to_json(d) for d in disagreements(item, known)],
        "references": references,
    }
    if version:
        advice = fix_advice(item, known, version)
        out["advice"] = (
            None
            if advice is None
            else {
                "version": version,
                "line": advice.line,
                "on_line": advice.on_line,
                "upgrade_to": advice.upgrade_to,
                "source": advice.source,
                "upstream_on_line": advice.upstream_on_line,
                "text": advice.text,
            }
        )
    return out


def upstream_show(
    catalog: Catalog,
    chosen: Sequence[Advisory],
    records: Mapping[RefKey, RefRecord],
    notes: Sequence[str],
    version: str | None,
) -> JSON:
    """``upstream show --json``."""
    return {
        "catalog_version": catalog.version,
        "notes": list(notes),
        "advisories": [upstream_advisory(a, records, version) for a in chosen],
    }


def sync(report: SyncReport, stats: RequestStats, api_url: str, authenticated: bool) -> JSON:
    """``upstream sync --json``: what the sync did and what it cost."""
    return {
        "api_url": api_url,
        "authenticated": authenticated,
        "started_at": report.started_at.isoformat().replace("+00:00", "Z"),
        "synced": [str(r) for r in report.synced],
        "failed": [{"reference": str(r), "error": e} for r, e in report.failed],
        "remaining": [str(r) for r in report.remaining],
        "stopped": report.stopped,
        "pass_done": report.pass_done,
        "requests": {
            "sent": stats.sent,
            "not_modified": stats.not_modified,
            "reused": stats.reused,
        },
        "news": [news_to_json(n) for n in report.news],
        "disagreements": [disagreement_to_json(d) for d in report.disagreements],
    }


# ---------------------------------------------------------------------------------------------
# mutes


def mutes(items: Sequence[MuteView]) -> JSON:
    """``mutes --json``."""
    rows = [
        {
            "id": m.id,
            "advisory": m.advisory,
            "cluster": m.cluster,
            "cluster_uid": m.cluster_uid,
            "reason": m.reason,
            "by": m.by,
            "source": "config" if m.from_config else "people",
            "created_at": m.created_at.isoformat(),
            "expires_at": m.expires_at.isoformat() if m.expires_at else None,
            "lifted_at": m.lifted_at.isoformat() if m.lifted_at else None,
        }
        for m in items
    ]
    return {"mutes": rows}


# ---------------------------------------------------------------------------------------------
# doctor


def checks(results: Sequence[CheckResult]) -> JSON:
    """``doctor --json``: every check with its status, message and fix."""
    return {
        "ok": not any(r.failed for r in results),
        "checks": [
            {
                "area": r.area,
                "subject": r.subject,
                "status": r.status.value,
                "message": r.message,
                "fix": r.fix,
            }
            for r in results
        ],
    }
