"""``netadvisor inventory`` and ``netadvisor scan``: the composition root of fleet reading.

Where clusters come from, first that applies: the ``--kubeconfig`` / ``--context`` / ``--dump``
flags; the configuration file's ``clusters:``; the in-cluster service account; ``$KUBECONFIG`` or
``~/.kube/config`` (every context); else the bundled demo fleet, labelled as demo data wherever
it shows. The source is said on standard error at start.

Exit codes: 0 when the run completed, even if some clusters could not be read (they are
reported); 1 when no cluster could be read or a ``--fail-on`` level was reached; 2 for usage
errors (bad flags, a bad configuration file, two clusters with one name).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from advisories.catalog import CatalogError, load_catalog
from advisories.engine import Engine
from advisories.facts import FEATURES, VersionDomain
from advisories.fleet import ClusterFacts, ClusterStatus
from advisories.models import Verdict
from advisories.serialize import describe_domain
from bot import settings as settings_module
from bot.cli import PROG, UsageError
from bot.cli_service import add_tracking_flags, open_tracking
from bot.settings import ClusterSettings, Environment, Settings, SettingsError, load_settings
from jobs.inventory.dumps import DumpReader, demo_bundles, dump_script
from jobs.inventory.kube import in_cluster_reader, kubeconfig_reader, list_contexts
from jobs.inventory.mapping import Overrides
from jobs.inventory.port import InventoryError
from jobs.inventory.report import (
    ClusterScan,
    inventory_to_json,
    scan_fleet,
    scan_to_json,
)
from jobs.inventory.run import ClusterTarget, FleetError, check_names, read_fleet

__all__ = ["HANDLERS", "Fleet", "cmd_inventory", "cmd_scan", "fleet_from", "register"]

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


def _add_fleet_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where clusters come from (first that applies)")
    group.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $NETADVISOR_CONFIG, else "
        "$XDG_CONFIG_HOME/netadvisor/config.yaml)",
    )
    group.add_argument(
        "--kubeconfig",
        action="append",
        default=[],
        metavar="PATH",
        help="read every context of this kubeconfig, or those of --context (repeatable)",
    )
    group.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="NAME",
        help="read this context (repeatable; of --kubeconfig, else of "
        "$KUBECONFIG or ~/.kube/config)",
    )
    group.add_argument(
        "--dump",
        action="append",
        default=[],
        metavar="PATH",
        help="read a dump bundle or a `kubectl get -o json` List (repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="clusters read at the same time (default 16)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="time one cluster may take in all (default 30)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (and nothing else) on standard output",
    )


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def register(commands: Any) -> None:
    """Add ``inventory`` and ``scan``."""
    inventory = commands.add_parser(
        "inventory",
        help="read the fleet: versions, modes, features and nodes of every cluster",
        description="Read every cluster of the fleet (read-only) and show what the advisories "
        "depend on, with where each fact was read or why it is unknown.",
    )
    _add_fleet_flags(inventory)
    inventory.add_argument(
        "--print-dump-command",
        action="store_true",
        help="print a POSIX sh script that dumps a cluster with kubectl "
        "(for clusters netadvisor cannot reach), and exit",
    )
    scan = commands.add_parser(
        "scan",
        help="match every cluster against the catalog; post or print what changed",
        description="Read every cluster and match it against the catalog: per cluster, the "
        "advisories that hold (with the affected nodes) and those that depend on unknown facts.",
    )
    _add_fleet_flags(scan)
    scan.add_argument(
        "--fail-on",
        choices=("affected", "unknown"),
        help="exit 1 when a readable cluster has an advisory at this level",
    )
    scan.add_argument("--lang", choices=("en", "zh"), default="en", help="language of texts")
    add_tracking_flags(scan)


# ---------------------------------------------------------------------------------------------
# Composition: settings + flags -> targets


@dataclass(frozen=True, slots=True)
class Fleet:
    """The clusters to read and, for people, where they come from."""

    targets: tuple[ClusterTarget, ...]
    source: str
    demo: bool = False


def _overrides(cluster: ClusterSettings) -> Overrides:
    return Overrides(facts=dict(cluster.overrides), features=dict(cluster.features))


def _contexts(path: str, wanted: Sequence[str]) -> list[str]:
    try:
        names, _current = list_contexts(path)
    except InventoryError as exc:
        raise UsageError(exc.reason) from None
    if not wanted:
        if not names:
            raise UsageError(f"kubeconfig {path} has no contexts")
        return names
    return [c for c in wanted if c in names]


def fleet_from(args: argparse.Namespace, settings: Settings) -> Fleet:
    """The clusters to read, from the first source that applies; raise UsageError."""
    env = settings.environment
    if args.kubeconfig or args.context or args.dump:
        return _fleet_from_flags(args, env)
    if settings.clusters:
        targets = tuple(_config_target(c, env, settings) for c in settings.clusters)
        return Fleet(
            targets,
            f"the configuration file {settings.config_file}"
            if settings.config_file
            else "NETADVISOR_CLUSTERS",
        )
    if env.in_cluster:
        return Fleet(
            (ClusterTarget("in-cluster", in_cluster_reader(_service_account_dir())),),
            "the in-cluster service account",
        )
    default = env.default_kubeconfig()
    if default is not None:
        targets = tuple(
            ClusterTarget(name, kubeconfig_reader(default, name)) for name in _contexts(default, ())
        )
        return Fleet(targets, f"kubeconfig {default} (every context)")
    demo = tuple(ClusterTarget(path.stem, DumpReader(path), demo=True) for path in demo_bundles())
    return Fleet(
        demo,
        "the bundled DEMO fleet (no --kubeconfig, configuration, in-cluster account or "
        "kubeconfig found): example clusters, not yours",
        demo=True,
    )


def _fleet_from_flags(args: argparse.Namespace, env: Environment) -> Fleet:
    targets: list[ClusterTarget] = []
    kubeconfigs = list(args.kubeconfig)
    if args.context and not kubeconfigs:
        default = env.default_kubeconfig()
        if default is None:
            raise UsageError(
                "argument --context: no --kubeconfig given and neither $KUBECONFIG "
                "nor ~/.kube/config exists"
            )
        kubeconfigs = [default]
    found_contexts: set[str] = set()
    for path in kubeconfigs:
        for name in _contexts(path, args.context):
            found_contexts.add(name)
            targets.append(ClusterTarget(name, kubeconfig_reader(path, name)))
    missing = [c for c in args.context if c not in found_contexts]
    if missing:
        raise UsageError(
            f"argument --context: no context {missing[0]!r} in {', '.join(kubeconfigs)}"
        )
    for path in args.dump:
        targets.append(ClusterTarget(Path(path).stem, DumpReader(path)))
    parts = []
    if kubeconfigs:
        parts.append(f"kubeconfig {', '.join(kubeconfigs)}")
    if args.dump:
        parts.append(f"{len(args.dump)} dump file{'s' if len(args.dump) > 1 else ''}")
    return Fleet(tuple(targets), "the command line: " + " and ".join(parts))


def _config_target(cluster: ClusterSettings, env: Environment, settings: Settings) -> ClusterTarget:
    where = f"{settings.config_file or 'NETADVISOR_CLUSTERS'}: cluster {cluster.name!r}"
    if cluster.dump is not None:
        reader: Any = DumpReader(cluster.dump)
    elif cluster.in_cluster:
        reader = in_cluster_reader(_service_account_dir())
    else:
        path = str(cluster.kubeconfig) if cluster.kubeconfig else env.default_kubeconfig()
        if path is None:
            raise UsageError(
                f"{where}: no kubeconfig given and neither $KUBECONFIG nor ~/.kube/config exists"
            )
        reader = kubeconfig_reader(path, cluster.context)
    return ClusterTarget(
        cluster.name, reader, labels=dict(cluster.labels), overrides=_overrides(cluster)
    )


# ---------------------------------------------------------------------------------------------
# Running


def _prepare(args: argparse.Namespace, err: TextIO) -> tuple[Fleet, Settings] | int:
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    settings = settings.with_overrides(concurrency=args.concurrency, cluster_timeout=args.timeout)
    fleet = fleet_from(args, settings)
    try:
        check_names(fleet.targets)
    except FleetError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 2
    if not fleet.targets:
        print(f"{PROG}: error: no clusters to read from {fleet.source}", file=err)
        return 1
    count = len(fleet.targets)
    print(
        f"{PROG}: reading {count} cluster{'s' if count != 1 else ''} from {fleet.source}", file=err
    )
    return fleet, settings


def _read(fleet: Fleet, settings: Settings, err: TextIO) -> list[ClusterFacts]:
    progress: Callable[[int, int, ClusterFacts], None] | None = None
    tty = hasattr(err, "isatty") and err.isatty()
    if tty:

        def progress(done: int, total: int, cluster: ClusterFacts) -> None:
            width = 24
            filled = width * done // total
            bar = "#" * filled + "." * (width - filled)
            err.write(f"\r[{bar}] {done}/{total} {cluster.name[:30]:<30} {cluster.status.value}")
            err.flush()

    clusters = read_fleet(
        fleet.targets,
        concurrency=settings.concurrency,
        timeout=settings.cluster_timeout,
        progress=progress,
    )
    if tty:
        err.write("\r" + " " * 80 + "\r")
        err.flush()
    return clusters


def _exit_code(clusters: Sequence[ClusterFacts], err: TextIO) -> int:
    if not any(c.status is ClusterStatus.OK for c in clusters):
        print(f"{PROG}: no cluster could be read", file=err)
        return 1
    return 0


def cmd_inventory(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor inventory``."""
    if args.print_dump_command:
        out.write(dump_script())
        return 0
    prepared = _prepare(args, err)
    if isinstance(prepared, int):
        return prepared
    fleet, settings = prepared
    clusters = _read(fleet, settings, err)
    if args.json:
        print(json.dumps(inventory_to_json(clusters), indent=2, ensure_ascii=False), file=out)
    else:
        origins = {t.name: t.origin for t in fleet.targets}
        print(render_inventory(clusters, origins), file=out)
    return _exit_code(clusters, err)


def cmd_scan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor scan``."""
    try:
        catalog = load_catalog(args.catalog_dir)
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    prepared = _prepare(args, err)
    if isinstance(prepared, int):
        return prepared
    fleet, settings = prepared
    # State and messages (see bot.cli_service): diff against the last scan, then post or print.
    tracking = open_tracking(args, settings, fleet.demo, args.json, err, catalog)
    if isinstance(tracking, int):
        return tracking
    with tracking:
        clusters = _read(fleet, settings, err)
        scans = scan_fleet(clusters, Engine(catalog.advisories))
        # Only a scan of the whole configured fleet retires the clusters it did not see.
        partial = bool(args.kubeconfig or args.context or args.dump)
        tracking.record(scans, catalog.version, fleet.source, retire=not partial)
        if args.json:
            data = scan_to_json(scans, catalog.version, args.lang)
            tracking.annotate(data)
            print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
        else:
            origins = {t.name: t.origin for t in fleet.targets}
            print(render_scan(scans, catalog.version, origins, args.lang), file=out)
            print(tracking.summary(), file=out)
    code = _exit_code(clusters, err)
    if code == 0 and args.fail_on is not None:
        threshold = Verdict(args.fail_on).rank
        if any(m.verdict.rank >= threshold for s in scans for m in s.matches):
            return 1
    return code


HANDLERS: Mapping[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "inventory": cmd_inventory,
    "scan": cmd_scan,
}


# ---------------------------------------------------------------------------------------------
# Rendering for people


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
) -> str:
    """The ``scan`` report: per cluster, affected and unknown advisories."""
    lines = _demo_banner([s.cluster for s in scans])
    lines.append(f"netadvisor catalog {catalog_version}")
    lines.append("")
    for scan in scans:
        cluster = scan.cluster
        lines.append(_header(cluster, origins))
        problems = [m for m in scan.matches if m.verdict is not Verdict.NOT_AFFECTED]
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
    read = sum(1 for s in scans if s.cluster.status is ClusterStatus.OK)
    lines.append(f"{read} of {len(scans)} clusters read")
    return "\n".join(lines)


def _service_account_dir() -> Path:
    """The pod's mounted service account (the directory of its token)."""
    return settings_module.SERVICE_ACCOUNT_TOKEN.parent
