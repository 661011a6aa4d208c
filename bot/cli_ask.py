"""``netadvisor ask``, ``plan``, ``mute``, ``unmute``, ``mutes``: the bot's commands in a terminal.

``ask`` answers a plain-language question (:mod:`advisories.questions`,
:mod:`advisories.answers`); ``plan`` compares a cluster's facts from the last scan, or stated
facts, before and after changes (:mod:`advisories.planning`); the mute commands share the state
store with the scheduler and the Slack bot.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from advisories.answers import ClusterData, answer, cluster_data
from advisories.catalog import Catalog, CatalogError, load_catalog
from advisories.derive import OS_RELEASES, parse_os
from advisories.engine import Engine
from advisories.facts import COMPONENTS, FEATURES, FactError, Facts, parse_fact
from advisories.fixes import MAX_TARGETS, Fix, find_fixes
from advisories.models import Verdict
from advisories.planning import (
    Change,
    Plan,
    Target,
    apply_changes,
    safe_targets,
    what_if,
    worst_results,
)
from advisories.questions import parse_question
from advisories.serialize import fix_to_json, plan_to_json, targets_to_json
from bot.cli import (
    PROG,
    UsageError,
    add_fact_flags,
    add_settings_flags,
    described_components,
    facts_from_args,
)
from bot.settings import MAX_MUTE_DAYS, MAX_REASON, Settings, SettingsError, load_settings
from bot.state import StateDatabase, state_database
from bot.upstream_news import planner_upstream
from jobs.store.store import MuteRecord, Store, StoreError, Tx

__all__ = ["HANDLERS", "parse_change", "register"]


def parse_change(text: str) -> Change:
    """``KEY=VALUE`` of ``--set`` (``calico=3.28.2``, ``k8s=1.30``, ``os=Ubuntu 22.04``,
    ``rke2=off``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise UsageError(f"argument --set: {text!r} is not KEY=VALUE")
    if key.strip().lower() in ("os", "os-image", "distro"):
        release = parse_os(value)
        if release is None:
            known = ", ".join(r.name for r in OS_RELEASES)
            raise UsageError(f"argument --set: unknown OS release {value!r} (known: {known})")
        return Change("os", frozenset(), release.name)
    name = key.strip().lower()
    if name in FEATURES:
        # A feature on or off (rke2=on), as joint fixes may state them.
        flag = value.strip().lower()
        if flag not in ("on", "off"):
            raise UsageError(f"argument --set: {name}: give on or off, not {value.strip()!r}")
        return Change(name, frozenset({flag == "on"}), flag)
    try:
        canonical, domain, _ = parse_fact(key, value)
    except FactError as exc:
        raise UsageError(f"argument --set: {exc}") from None
    return Change(canonical, domain, value.strip())


def register(commands: Any) -> None:
    """Add ``ask``, ``plan``, ``mute``, ``unmute`` and ``mutes``."""
    ask = commands.add_parser(
        "ask",
        help="answer a question in plain language (English or Chinese)",
        description='Answer a question such as "is kernel 5.4 safe for IPVS?" from the catalog '
        "(and the last scan for questions that name a cluster).",
    )
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument(
        "--all",
        action="store_true",
        help="show every advisory that may hold, not only those the answer names",
    )
    add_settings_flags(ask)

    plan = commands.add_parser(
        "plan",
        help="what an upgrade resolves, introduces or changes; the lowest safe versions",
        description="Compare every advisory before and after --set changes; with --safe, the "
        "lowest version of each component (and kernel) that clears its advisories.",
    )
    plan.add_argument("--cluster", metavar="NAME", help="use the facts of the last scan")
    add_fact_flags(plan)
    plan.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a change, e.g. calico=3.28.2 k8s=1.30 kernel=5.15 (repeatable)",
    )
    plan.add_argument(
        "--safe",
        action="store_true",
        help="also print safe target versions and joint fixes (versions and modes together)",
    )
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    add_settings_flags(plan)

    mute = commands.add_parser(
        "mute",
        help="stop posting an advisory's matches on a cluster (or all) for some days",
        description="Mute an advisory (or all) on a cluster (or all) for DAYS days: its new "
        "matches are recorded but not posted until the mute ends, and are announced then if "
        "they still hold. The same store as the Slack bot's /netadvisor mute; mutes reviewed "
        "in Git go in the configuration file's mutes: section instead.",
    )
    mute.add_argument("advisory", help="advisory id, or all")
    mute.add_argument("cluster", help="cluster name (scanned or configured), or all")
    mute.add_argument("days", type=_days, help=f"how many days the mute lasts (1-{MAX_MUTE_DAYS})")
    mute.add_argument("reason", nargs="+", help="why (required, kept with the mute)")
    mute.add_argument("--by", default="cli", metavar="NAME", help="who mutes (default: cli)")
    add_settings_flags(mute)
    unmute = commands.add_parser(
        "unmute",
        help="lift a mute now (not one from the configuration file)",
        description="Lift a mute made with mute or /netadvisor mute. A mute from the "
        "configuration file's mutes: section cannot be lifted here: remove it from the file.",
    )
    unmute.add_argument("id", type=int, help="the mute's id (see: netadvisor mutes)")
    add_settings_flags(unmute)
    mutes = commands.add_parser(
        "mutes",
        help="list the active mutes (from people and from the configuration file)",
        description="List the active mutes with their scope, reason, who made them and when "
        "they end; mutes from the configuration file are marked as such.",
    )
    mutes.add_argument("--all", action="store_true", help="also expired and lifted mutes")
    mutes.add_argument("--json", action="store_true", help="print one JSON object")
    add_settings_flags(mutes)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= MAX_MUTE_DAYS:
        raise argparse.ArgumentTypeError(f"days must be between 1 and {MAX_MUTE_DAYS}")
    return days


def _catalog(args: argparse.Namespace, err: TextIO) -> Catalog | None:
    try:
        return load_catalog(args.catalog_dir)
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=err)
        return None


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.config)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


def _database(args: argparse.Namespace) -> StateDatabase:
    """The state database of every command (:func:`bot.state.state_database`)."""
    try:
        return state_database(_settings(args), args.state)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


def _open_store(args: argparse.Namespace, *, create: bool) -> Store | None:
    """The state store, or None when there is none yet and ``create`` is False."""
    database = _database(args)
    if not create and not database.exists():
        return None
    return database.open()


def _unknown_cluster(name: str, known: Sequence[str], database: StateDatabase) -> str:
    """Why a cluster is not found, and where it was looked for."""
    where = f" in the {'demo fleet' if database.demo else 'state'} database"
    hint = ""
    if database.demo:
        # scan --kubeconfig/--context/--dump keeps its clusters in the real database.
        hint = (
            "; clusters scanned with --kubeconfig, --context or --dump are not in the demo "
            "fleet's database: add them to the configuration file, or pass --state"
        )
    listed = ", ".join(sorted(known)) or f"none yet: run {PROG} scan"
    return f"no scanned cluster {name!r}{where} (known: {listed}){hint}"


def load_clusters(store: Store | None) -> dict[str, ClusterData]:
    """Every cluster's facts from its last successful scan, by name."""
    if store is None:
        return {}
    out: dict[str, ClusterData] = {}
    with store.transaction() as tx:
        for record in tx.clusters():
            latest = tx.latest_facts(record.name)
            if latest is not None:
                read_at, facts = latest
                out[record.name] = cluster_data(facts, read_at)
    return out


def _clusters(args: argparse.Namespace) -> dict[str, ClusterData]:
    store = _open_store(args, create=False)
    if store is None:
        return {}
    with store:
        return load_clusters(store)


def cmd_ask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor ask "QUESTION" [--json]``."""
    catalog = _catalog(args, err)
    if catalog is None:
        return 1
    try:
        clusters = _clusters(args)
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    question = parse_question(
        args.question, clusters=tuple(clusters), advisory_ids=[a.id for a in catalog.advisories]
    )
    ans = answer(question, catalog, clusters=clusters, show_all=args.all)
    if args.json:
        print(json.dumps(ans.to_json(), indent=2, ensure_ascii=False), file=out)
    else:
        print(ans.text(), file=out)
    return 0


def cmd_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor plan [--cluster NAME | fact flags] --set KEY=VALUE ... [--safe] [--json]``."""
    catalog = _catalog(args, err)
    if catalog is None:
        return 1
    changes = [parse_change(text) for text in args.set]
    if not changes and not args.safe:
        raise UsageError("argument --set: give at least one change, or --safe")
    stated = facts_from_args(args)
    read_at: datetime | None = None
    if args.cluster:
        if stated.values or stated.os_name:
            raise UsageError("argument --cluster: not allowed with fact flags")
        try:
            clusters = _clusters(args)
        except StoreError as exc:
            print(f"{PROG}: {exc}", file=err)
            return 1
        if args.cluster not in clusters:
            message = _unknown_cluster(args.cluster, list(clusters), _database(args))
            print(f"{PROG}: argument --cluster: {message}", file=err)
            return 2
        groups: list[Facts] = list(clusters[args.cluster].groups)
        read_at = clusters[args.cluster].read_at
    else:
        groups = [stated]
    engine = Engine(catalog.advisories)
    plan = what_if(engine, groups, changes)
    targets = None
    fixes: list[Fix] = []
    searched = True
    if args.safe:
        # Upstream tracking's fixes count where the catalog knows none (labelled as such).
        try:
            store = _open_store(args, create=False)
        except StoreError as exc:
            print(f"{PROG}: {exc}", file=err)
            return 1
        with store or contextlib.nullcontext():
            upstream = planner_upstream(store, catalog.advisories)
        targets = safe_targets(engine, groups, upstream=upstream)
        after = [apply_changes(g, changes) for g in groups]
        # Stated facts: the components they describe, as check does; a cluster: all of it.
        components = list(COMPONENTS) if args.cluster else described_components(stated)
        at_risk = [
            r.id
            for r in worst_results(engine, after)
            if r.verdict is not Verdict.NOT_AFFECTED and r.advisory.component in components
        ]
        fixes = find_fixes(engine, after, at_risk, strict=False)
        searched = len(at_risk) <= MAX_TARGETS
    lang = getattr(args, "lang", "en")
    if args.json:
        data: dict[str, Any] = {
            "catalog_version": catalog.version,
            "cluster": args.cluster,
            "read_at": read_at.isoformat() if read_at else None,
            **plan_to_json(plan, lang),
        }
        if targets is not None:
            data["targets"] = targets_to_json(targets)
            data["fixes"] = [fix_to_json(f, lang) for f in fixes]
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        text = render_plan(plan, targets, catalog.version, args.cluster, read_at, fixes, searched)
        print(text, file=out)
    return 0


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
    when = f" (facts read {read_at.strftime('%Y-%m-%d %H:%M UTC')})" if read_at else ""
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


def _cluster_uid(store: Store, name: str) -> str | None:
    with store.transaction() as tx:
        for record in tx.clusters():
            if record.name == name or record.uid == name:
                return record.uid
    return None


def mute_rows(tx: Tx, records: Sequence[MuteRecord]) -> list[dict[str, Any]]:
    """Mutes as people read them: clusters by name, and where each mute comes from."""
    names = {c.uid: c.name for c in tx.clusters()}
    return [
        {
            "id": r.id,
            "advisory": r.advisory_id or "all",
            "cluster": (
                names.get(r.cluster_uid, r.cluster_name or r.cluster_uid)
                if r.cluster_uid
                else r.cluster_name or "all"
            ),
            "cluster_uid": r.cluster_uid,
            "reason": r.reason,
            "by": r.created_by,
            "source": "config" if r.from_config else "people",
            "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "lifted_at": r.lifted_at.isoformat() if r.lifted_at else None,
        }
        for r in records
    ]


CONFIG_MUTE: Final = (
    "mute {id} comes from the configuration file's mutes: section; it cannot be lifted from "
    "Slack or the command line: remove or change the entry in the file"
)
"""Why ``unmute`` (and ``/netadvisor unmute``) refuses a mute from the configuration file."""


def cmd_mute(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor mute ADVISORY CLUSTER|all DAYS REASON``."""
    catalog = _catalog(args, err)
    if catalog is None:
        return 1
    advisory: str | None = None
    if args.advisory.lower() != "all":
        found = catalog.get(args.advisory)
        if found is None:
            raise UsageError(f"argument advisory: unknown advisory {args.advisory!r}")
        advisory = found.id
    reason = " ".join(args.reason).strip()[:MAX_REASON]
    if not reason:
        raise UsageError("argument reason: give a reason (kept with the mute)")
    settings = _settings(args)
    database = _database(args)
    try:
        with database.open() as store:
            uid: str | None = None
            name: str | None = None
            if args.cluster.lower() != "all":
                uid = _cluster_uid(store, args.cluster)
                name = args.cluster
                configured = {c.name for c in settings.clusters}
                if uid is None and args.cluster not in configured:
                    with store.transaction() as tx:
                        scanned = [c.name for c in tx.clusters()]
                    known = ", ".join(sorted(set(scanned) | configured)) or "none yet"
                    raise UsageError(
                        f"argument cluster: unknown cluster {args.cluster!r} in {store.display_url}"
                        f" (scanned or configured: {known})"
                    )
            now = datetime.now(UTC)
            with store.transaction() as tx:
                mute_id = tx.add_mute(now, reason, args.by, advisory_id=advisory,
                                      cluster_uid=uid, cluster_name=name,
                                      expires_at=now + timedelta(days=args.days))  # fmt: skip
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    print(f"mute {mute_id}: {advisory or 'all advisories'} on {args.cluster} for {args.days} "
          f"day(s): {reason}", file=out)  # fmt: skip
    return 0


def cmd_unmute(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor unmute ID``."""
    try:
        store = _open_store(args, create=False)
        if store is None:
            found, lifted = None, False
        else:
            with store, store.transaction() as tx:
                found = tx.mute(args.id)
                lifted = tx.lift_mute(args.id, datetime.now(UTC))
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    if found is not None and found.from_config and found.lifted_at is None:
        print(f"{PROG}: argument id: {CONFIG_MUTE.format(id=args.id)}", file=err)
        return 2
    if not lifted:
        print(f"{PROG}: argument id: no active mute {args.id}", file=err)
        return 2
    print(f"mute {args.id} lifted", file=out)
    return 0


def cmd_mutes(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor mutes [--all] [--json]``."""
    try:
        store = _open_store(args, create=False)
        rows: list[dict[str, Any]] = []
        if store is not None:
            with store, store.transaction() as tx:
                rows = mute_rows(tx, tx.mutes(None if args.all else datetime.now(UTC)))
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    if args.json:
        print(json.dumps({"mutes": rows}, indent=2, ensure_ascii=False), file=out)
        return 0
    if not rows:
        print("no mutes" if args.all else "no active mutes", file=out)
    for row in rows:
        source = "configuration file" if row["source"] == "config" else row["by"]
        ended = f", lifted {row['lifted_at']}" if row["lifted_at"] else ""
        print(f"{row['id']}: {row['advisory']} on {row['cluster']} until {row['expires_at']} "
              f"({source}{ended}): {row['reason']}", file=out)  # fmt: skip
    return 0


HANDLERS: Mapping[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "ask": cmd_ask,
    "plan": cmd_plan,
    "mute": cmd_mute,
    "unmute": cmd_unmute,
    "mutes": cmd_mutes,
}
