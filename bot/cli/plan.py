"""``netadvisor plan``: a cluster's facts from the last scan, or stated facts, before and after
changes; with ``--safe``, the lowest versions that clear its advisories."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from advisories.facts import COMPONENTS, Facts
from advisories.fixes import MAX_TARGETS, Fix, find_fixes
from advisories.models import Verdict
from advisories.planning import apply_changes, safe_targets, what_if, worst_results
from bot.cli.flags import (
    PROG,
    UsageError,
    add_fact_flags,
    add_settings_flags,
    described_components,
    did_you_mean,
    facts_from_args,
    parse_change,
)
from bot.terminal import json as documents
from bot.terminal.plan import render_plan
from bot.wiring import StateDatabase, Wiring
from jobs.scan import last_scan
from jobs.store import StoreError

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``plan``."""
    plan = commands.add_parser(
        "plan",
        help="what an upgrade resolves, introduces or changes; the lowest safe versions",
        description="Compare every advisory before and after --set changes; with --safe, the "
        "lowest version of each component (and kernel) that clears its advisories.",
    )
    plan.set_defaults(run=run)
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


def _unknown_cluster(name: str, known: Sequence[str], database: StateDatabase) -> str:
    """Why a cluster is not found, and where it was looked for."""
    where = f" in the {'demo fleet' if database.demo else 'state'} database"
    hint = ""
    if database.demo:
        hint = (
            "; clusters scanned with --kubeconfig, --context or --dump are kept in state.db, "
            "which does not exist yet: scan them, or pass --state"
        )
    listed = ", ".join(sorted(known)) or f"none yet: run {PROG} scan"
    return f"no scanned cluster {name!r}{where}{did_you_mean(name, known)} (known: {listed}){hint}"


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor plan [--cluster NAME | fact flags] --set KEY=VALUE ... [--safe] [--json]``."""
    catalog = w.catalog
    changes = [parse_change(text) for text in args.set]
    if not changes and not args.safe:
        raise UsageError("argument --set: give at least one change, or --safe")
    stated = facts_from_args(args)
    read_at: datetime | None = None
    database = w.database()
    try:
        store = w.existing_store(database)
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    if args.cluster:
        if stated.values or stated.os_name:
            raise UsageError("argument --cluster: not allowed with fact flags")
        try:
            clusters = last_scan(store)
        except StoreError as exc:
            print(f"{PROG}: {exc}", file=err)
            return 1
        if args.cluster not in clusters:
            message = _unknown_cluster(args.cluster, list(clusters), database)
            print(f"{PROG}: argument --cluster: {message}", file=err)
            return 2
        groups: list[Facts] = list(clusters[args.cluster].groups)
        read_at = clusters[args.cluster].read_at
    else:
        groups = [stated]
    plan = what_if(w.engine, groups, changes)
    targets = None
    fixes: list[Fix] = []
    searched = True
    if args.safe:
        # Upstream tracking's fixes count where the catalog knows none (labelled as such).
        targets = safe_targets(w.engine, groups, upstream=w.planner_upstream(store))
        after = [apply_changes(g, changes) for g in groups]
        # Stated facts: the components they describe, as check does; a cluster: all of it.
        components = list(COMPONENTS) if args.cluster else described_components(stated)
        at_risk = [
            r.id
            for r in worst_results(w.engine, after)
            if r.verdict is not Verdict.NOT_AFFECTED and r.advisory.component in components
        ]
        fixes = find_fixes(w.engine, after, at_risk, strict=False)
        searched = len(at_risk) <= MAX_TARGETS
    if args.json:
        document = documents.plan(catalog, plan, targets, args.cluster, read_at, fixes=fixes)
        documents.dump(document, out)
    else:
        text = render_plan(plan, targets, catalog.version, args.cluster, read_at, fixes, searched)
        w.painter(out).print(text)
    return 0
