"""``inventory`` and ``scan`` for people: per cluster, versions, modes, features and node
groups; the advisories that hold or depend on unknown facts; and what the scan changed and who
was told."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from advisories.facts import FEATURES, VersionDomain
from advisories.fleet import ClusterFacts, ClusterMatch, ClusterStatus
from advisories.models import Severity, Verdict
from advisories.serialize import describe_domain
from jobs.scan import ClusterScan
from jobs.tracker import ScanReport

__all__ = ["ProgressBar", "render_cluster", "render_inventory", "render_scan", "render_summary"]

_MARK = {Verdict.AFFECTED: "AFFECTED", Verdict.UNKNOWN: "UNKNOWN", Verdict.NOT_AFFECTED: "ok"}
_MAX_NODE_NAMES = 6
_SHOWN_FACTS = (
    "kubernetes",
    "kube-proxy",
    "proxy-mode",
    "calico",
    "calico-encapsulation",
    "calico-iptables-backend",
    "spiderpool",
)


def _header(cluster: ClusterFacts, origins: Mapping[str, str]) -> str:
    parts = [f"== {cluster.name}"]
    if cluster.demo:
        parts.append("[DEMO DATA]")
    if cluster.aliases:
        parts.append(f"(also: {', '.join(cluster.aliases)})")
    parts.append(f"- {cluster.status.value}")
    if cluster.status is ClusterStatus.OK:
        parts.append(f"- {len(cluster.nodes)} node{'s' if len(cluster.nodes) != 1 else ''}")
    if cluster.uid:
        parts.append(f"- uid {cluster.uid}")
    line = " ".join(parts)
    origin = origins.get(cluster.name)
    lines = [line]
    if origin:
        lines.append(f"   from {origin}")
    if cluster.labels:
        lines.append("   labels: " + ", ".join(f"{k}={v}" for k, v in cluster.labels.items()))
    if cluster.error:
        lines.append(f"   error: {cluster.error}")
    return "\n".join(lines)


def _shown(cluster: ClusterFacts, key: str) -> str:
    domain = cluster.facts.values.get(key)
    if domain is None:
        return "unknown"
    raw = cluster.facts.raw.get(key)
    if isinstance(domain, VersionDomain) and raw:
        return raw
    described = describe_domain(key, domain)
    if isinstance(described, list):
        return ",".join(described)
    if isinstance(described, bool):
        return "on" if described else "off"
    return str(described)


def _nodes_table(cluster: ClusterFacts) -> list[str]:
    if not cluster.nodes:
        evidence = cluster.evidence.get("nodes")
        return [f"   nodes: {evidence.reason if evidence and evidence.reason else 'none'}"]
    groups: dict[tuple[Any, ...], list[str]] = {}
    for node in cluster.nodes:
        key = (
            node.kernel,
            node.os_image,
            node.kubelet_version,
            node.container_runtime,
            node.architecture,
        )
        groups.setdefault(key, []).append(node.name)
    rows = [("NODES", "KERNEL", "OS IMAGE", "KUBELET", "RUNTIME", "ARCH")]
    for (kernel, os_image, kubelet, runtime, arch), names in groups.items():
        shown = ", ".join(names[:_MAX_NODE_NAMES])
        if len(names) > _MAX_NODE_NAMES:
            shown += f", ... ({len(names)})"
        rows.append(
            (shown, kernel or "?", os_image or "?", kubelet or "?", runtime or "?", arch or "?")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(1, 6)]
    out = []
    for row in rows:
        cells = "  ".join(f"{row[i]:<{widths[i - 1]}}" for i in range(1, 6))
        out.append(f"   {cells}  {row[0]}".rstrip())
    return out


def render_cluster(cluster: ClusterFacts, origins: Mapping[str, str]) -> str:
    """One cluster of ``inventory``: versions and modes, features, unknowns, node groups."""
    lines = [_header(cluster, origins)]
    if cluster.status is not ClusterStatus.OK:
        return "\n".join(lines)
    kube_proxy = _shown(cluster, "kube-proxy")
    mode = _shown(cluster, "proxy-mode")
    lines.append(
        f"   Kubernetes {_shown(cluster, 'kubernetes')}   kube-proxy {kube_proxy} mode {mode}"
    )
    calico = cluster.components.get("calico")
    if calico is not None and calico.installed is False:
        lines.append("   Calico: not installed")
    else:
        lines.append(
            f"   Calico {_shown(cluster, 'calico')}   encapsulation "
            f"{_shown(cluster, 'calico-encapsulation')}   iptables backend "
            f"{_shown(cluster, 'calico-iptables-backend')}"
        )
    spiderpool = cluster.components.get("spiderpool")
    if spiderpool is not None and spiderpool.installed is False:
        lines.append("   Spiderpool: not installed")
    else:
        lines.append(f"   Spiderpool {_shown(cluster, 'spiderpool')}")
    on = [n for n in _features(cluster) if cluster.facts.values.get(n) == frozenset({True})]
    unknown = [n for n in _features(cluster) if n not in cluster.facts.values]
    if on:
        lines.append(
            "   features on: "
            + ", ".join(
                f"{n} ({cluster.facts.raw[n]})" if n in cluster.facts.raw else n for n in on
            )
        )
    if unknown:
        lines.append("   features unknown: " + ", ".join(unknown))
    for key in _SHOWN_FACTS:
        evidence = cluster.evidence.get(key)
        if key not in cluster.facts.values and evidence is not None and evidence.reason:
            if calico is not None and calico.installed is False and key.startswith("calico"):
                continue
            lines.append(f"   unknown {key}: {evidence.reason}")
    overrides = [k for k, e in cluster.evidence.items() if e.object == "configuration override"]
    if overrides:
        lines.append("   from the configuration: " + ", ".join(overrides))
    lines.extend(_nodes_table(cluster))
    return "\n".join(lines)


def _features(cluster: ClusterFacts) -> list[str]:
    spiderpool = cluster.components.get("spiderpool")
    names = list(FEATURES)
    if spiderpool is not None and spiderpool.installed is False:
        names = [n for n in names if not n.startswith("spiderpool-")]
    return names


def _demo_banner(clusters: Sequence[ClusterFacts]) -> list[str]:
    if any(c.demo for c in clusters):
        return [
            "DEMO DATA: the bundled example fleet, not your clusters. Configure clusters "
            "(--kubeconfig, --dump or the configuration file) to see yours.",
            "",
        ]
    return []


def render_inventory(clusters: Sequence[ClusterFacts], origins: Mapping[str, str]) -> str:
    """The ``inventory`` report."""
    lines = _demo_banner(clusters)
    for cluster in clusters:
        lines.append(render_cluster(cluster, origins))
        lines.append("")
    statuses = Counter(c.status.value for c in clusters)
    lines.append(
        f"{len(clusters)} clusters: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    )
    return "\n".join(lines)


def _node_list(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_NODE_NAMES])
    if len(names) > _MAX_NODE_NAMES:
        shown += f", ... ({len(names)} nodes)"
    return shown


def render_scan(
    scans: Sequence[ClusterScan],
    catalog_version: str,
    origins: Mapping[str, str],
    language: str = "en",
    minimum: str | None = None,
) -> str:
    """The ``scan`` report: a summary line, then per cluster the affected and unknown
    advisories (at least ``minimum`` severe, when given)."""
    minimum_rank = Severity(minimum).rank if minimum else 0

    def shown(match: ClusterMatch) -> bool:
        severity = match.result.severity
        return match.verdict is not Verdict.NOT_AFFECTED and (
            not minimum_rank or (severity is not None and severity.rank >= minimum_rank)
        )

    read = [s for s in scans if s.cluster.status is ClusterStatus.OK]
    affected = sum(1 for s in read for m in s.matches if shown(m) and m.verdict is Verdict.AFFECTED)
    unknown = sum(1 for s in read for m in s.matches if shown(m) and m.verdict is Verdict.UNKNOWN)
    at_least = f" (severity {minimum} or worse)" if minimum else ""
    lines = _demo_banner([s.cluster for s in scans])
    lines += [
        f"{len(read)} of {len(scans)} clusters read: {affected} affected, {unknown} unknown"
        f"{at_least}; catalog {catalog_version}",
        "",
    ]
    for scan in scans:
        cluster = scan.cluster
        lines.append(_header(cluster, origins))
        problems = [m for m in scan.matches if shown(m)]
        problems.sort(
            key=lambda m: (-m.verdict.rank, -(m.result.severity.rank if m.result.severity else 0))
        )
        for match in problems:
            result = match.result
            severity = f" [{result.severity.value}]" if result.severity else ""
            lines.append(
                f"   {_MARK[match.verdict]:9} {result.id}{severity}  {result.advisory.title}"
            )
            if match.verdict is Verdict.AFFECTED:
                lines.append(f"             nodes: {_node_list(match.affected_nodes) or 'all'}")
            else:
                depends = ", ".join(result.depends_on) or "nothing that can be read"
                text = result.depends_text()
                lines.append(f"             depends on: {depends}" + (f" ({text})" if text else ""))
            lines.append(f"             impact: {result.impact(language)}")
        if cluster.status is ClusterStatus.OK:
            lines.append(
                f"   {scan.count(Verdict.AFFECTED)} affected, {scan.count(Verdict.UNKNOWN)} "
                f"unknown, {scan.count(Verdict.NOT_AFFECTED)} not affected"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def render_summary(
    report: ScanReport | None, target: str, printed: str = "", *, dry_run: bool = False
) -> str:
    """What changed and who was told, for the end of the ``scan`` report; ``printed`` is the
    text of the messages printed instead of posted."""
    lines: list[str] = []
    if printed:
        lines += [f"Messages (printed: {target}):", printed]
    if report is None:
        return "\n".join(lines)
    changes: dict[str, int] = {}
    told: dict[str, int] = {}
    for outcome in report.clusters.values():
        for match in outcome.matches.values():
            if match.change is not None:
                changes[match.change.value] = changes.get(match.change.value, 0) + 1
            if match.notified is not None:
                told[match.notified.value] = told.get(match.notified.value, 0) + 1
    order = ("new", "updated", "resolved", "stale", "open")
    shown = ", ".join(f"{changes[c]} {c}" for c in order if changes.get(c)) or "no matches"
    lines.append(f"Changes since the last scan: {shown}.")
    if report.retired:
        lines.append(f"Retired (no longer configured): {', '.join(report.retired)}.")
    # Every delivery counts, also of messages an earlier (failed) scan or digest queued.
    delivery = report.delivery
    posted = delivery.posted
    earlier = posted - told.get("posted", 0)
    printed_count = told.get("printed", 0)
    muted = told.get("muted", 0)
    queued = f" ({earlier} queued earlier)" if earlier > 0 else ""
    lines.append(
        f"Messages: {posted} posted{queued}, {printed_count} printed, {muted} muted; to {target}."
    )
    if delivery.pending:
        lines.append(f"Still queued: {delivery.pending}.")
    for intent in delivery.held:
        lines.append(
            f"Held by another worker (it sends it, or the next scan once its lease ends): {intent}"
        )
    permanent = set(delivery.permanent)
    for error in delivery.errors:
        if not any(p.startswith(error) for p in permanent):
            lines.append(f"Not delivered (retried at the next scan): {error}")
    for error in delivery.permanent:
        lines.append(f"Not delivered, and retrying will not help: {error}")
    if dry_run:
        lines.append("Dry run: nothing was written or posted.")
    return "\n".join(lines)


class ProgressBar:
    """A one-line progress bar on a terminal (nothing when ``stream`` is not a TTY)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int, cluster: ClusterFacts) -> None:
        """Show that ``done`` of ``total`` clusters are read, the last being ``cluster``."""
        if not self.shown:
            return
        width = 24
        filled = width * done // total
        bar = "#" * filled + "." * (width - filled)
        name = cluster.name[:30]
        self.stream.write(f"\r[{bar}] {done}/{total} {name:<30} {cluster.status.value}")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar."""
        if self.shown:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()
