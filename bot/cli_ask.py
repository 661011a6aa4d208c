"""``netadvisor ask``, ``plan``, ``mute``, ``unmute``, ``mutes``: the bot's commands in a terminal.

``ask`` answers a plain-language question (:mod:`advisories.questions`,
:mod:`advisories.answers`); ``plan`` compares a cluster's facts from the last scan, or stated
facts, before and after changes (:mod:`advisories.planning`); the mute commands share the state
store with the scheduler and the Slack bot.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from advisories.answers import ClusterData, answer, cluster_data, plan_to_json, targets_to_json
from advisories.catalog import Catalog, CatalogError, load_catalog
from advisories.derive import OS_RELEASES, parse_os
from advisories.engine import Engine
from advisories.facts import FactError, Facts, parse_fact
from advisories.planning import Change, Plan, Target, safe_targets, what_if
from advisories.questions import parse_question
from bot.cli import PROG, UsageError, add_fact_flags, facts_from_args
from jobs.store.store import Store, StoreError, default_state_path

__all__ = ["HANDLERS", "parse_change", "register"]


def parse_change(text: str) -> Change:
    """``KEY=VALUE`` of ``--set`` (``calico=3.28.2``, ``k8s=1.30``, ``os=Ubuntu 22.04``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise UsageError(f"argument --set: {text!r} is not KEY=VALUE")
    if key.strip().lower() in ("os", "os-image", "distro"):
        release = parse_os(value)
        if release is None:
            known = ", ".join(r.name for r in OS_RELEASES)
            raise UsageError(f"argument --set: unknown OS release {value!r} (known: {known})")
        return Change("os", frozenset(), release.name)
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
    _state_flag(ask)

    plan = commands.add_parser(
        "plan",
        help="what changes if a cluster or a stated setup moves to other versions",
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
    plan.add_argument("--safe", action="store_true", help="also print safe target versions")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    _state_flag(plan)

    mute = commands.add_parser("mute", help="stop posting an advisory's matches for a while")
    mute.add_argument("advisory", help="advisory id, or all")
    mute.add_argument("cluster", help="cluster name, or all")
    mute.add_argument("days", type=_days, help="how many days the mute lasts")
    mute.add_argument("reason", nargs="+", help="why (kept with the mute)")
    mute.add_argument("--by", default="cli", help="who mutes (default: cli)")
    _state_flag(mute)
    unmute = commands.add_parser("unmute", help="lift a mute now")
    unmute.add_argument("id", type=int, help="the mute's id (see: netadvisor mutes)")
    _state_flag(unmute)
    mutes = commands.add_parser("mutes", help="list active mutes")
    mutes.add_argument("--all", action="store_true", help="also expired and lifted mutes")
    mutes.add_argument("--json", action="store_true", help="print one JSON object")
    _state_flag(mutes)


def _state_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        metavar="URL",
        help="state database URL (default: sqlite file under $XDG_STATE_HOME/netadvisor)",
    )


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= 365:
        raise argparse.ArgumentTypeError("days must be between 1 and 365")
    return days


def _catalog(args: argparse.Namespace, err: TextIO) -> Catalog | None:
    try:
        return load_catalog(args.catalog_dir)
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=err)
        return None


def _open_store(args: argparse.Namespace, *, create: bool) -> Store | None:
    """The state store, or None when there is none yet and ``create`` is False."""
    url = args.state
    if url is None:
        path = default_state_path()
        if not create and not path.exists():
            return None
        url = f"sqlite:///{path}"
    elif not create and url.startswith("sqlite:///") and not Path(url[10:]).exists():
        return None
    return Store.open(url)


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


def cmd_ask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor ask "QUESTION" [--json]``."""
    catalog = _catalog(args, err)
    if catalog is None:
        return 1
    try:
        store = _open_store(args, create=False)
        clusters = load_clusters(store)
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    question = parse_question(
        args.question, clusters=tuple(clusters), advisory_ids=[a.id for a in catalog.advisories]
    )
    ans = answer(question, catalog, clusters=clusters)
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
            store = _open_store(args, create=False)
            clusters = load_clusters(store)
        except StoreError as exc:
            print(f"{PROG}: {exc}", file=err)
            return 1
        if args.cluster not in clusters:
            known = ", ".join(sorted(clusters)) or "none yet: run netadvisor scan"
            print(f"{PROG}: argument --cluster: no scanned cluster {args.cluster!r} "
                  f"(known: {known})", file=err)  # fmt: skip
            return 2
        groups: list[Facts] = list(clusters[args.cluster].groups)
        read_at = clusters[args.cluster].read_at
    else:
        groups = [stated]
    engine = Engine(catalog.advisories)
    plan = what_if(engine, groups, changes)
    targets = safe_targets(engine, groups) if args.safe else None
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
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        print(render_plan(plan, targets, catalog.version, args.cluster, read_at), file=out)
    return 0


def render_plan(
    plan: Plan,
    targets: Mapping[str, Target] | None,
    catalog_version: str,
    cluster: str | None = None,
    read_at: datetime | None = None,
) -> str:
    """The plan as plain text (at-risk entries with verdict and impact before and after)."""
    subject = cluster or "the stated setup"
    when = f" (facts read {read_at.isoformat()})" if read_at else ""
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
            lines.append(f"  {key}: {target.version} (line {target.line}){later}"
                         f", now {target.current or 'unknown'}")  # fmt: skip
            if target.os_releases:
                lines.append(f"      OS releases: {', '.join(target.os_releases)}")
            for caveat in target.caveats:
                lines.append(f"      caveat: {caveat}")
    return "\n".join(lines)


def _cluster_uid(store: Store, name: str) -> str | None:
    with store.transaction() as tx:
        for record in tx.clusters():
            if record.name == name or record.uid == name:
                return record.uid
    return None


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
    reason = " ".join(args.reason).strip()[:500]
    try:
        store = _open_store(args, create=True)
        assert store is not None
        with store:
            uid: str | None = None
            if args.cluster.lower() != "all":
                uid = _cluster_uid(store, args.cluster)
                if uid is None:
                    raise UsageError(f"argument cluster: unknown cluster {args.cluster!r}")
            now = datetime.now(UTC)
            with store.transaction() as tx:
                mute_id = tx.add_mute(now, reason, args.by, advisory_id=advisory,
                                      cluster_uid=uid,
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
        store = _open_store(args, create=True)
        assert store is not None
        with store, store.transaction() as tx:
            lifted = tx.lift_mute(args.id, datetime.now(UTC))
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    if not lifted:
        print(f"{PROG}: argument id: no active mute {args.id}", file=err)
        return 2
    print(f"mute {args.id} lifted", file=out)
    return 0


def cmd_mutes(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor mutes [--all] [--json]``."""
    try:
        store = _open_store(args, create=False)
        if store is None:
            records = []
        else:
            with store, store.transaction() as tx:
                records = tx.mutes(None if args.all else datetime.now(UTC))
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    rows = [
        {
            "id": r.id,
            "advisory": r.advisory_id or "all",
            "cluster": r.cluster_uid or "all",
            "reason": r.reason,
            "by": r.created_by,
            "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "lifted_at": r.lifted_at.isoformat() if r.lifted_at else None,
        }
        for r in records
    ]
    if args.json:
        print(json.dumps({"mutes": rows}, indent=2, ensure_ascii=False), file=out)
        return 0
    if not rows:
        print("no mutes", file=out)
    for row in rows:
        print(f"{row['id']}: {row['advisory']} on {row['cluster']} until {row['expires_at']} "
              f"({row['by']}): {row['reason']}", file=out)  # fmt: skip
    return 0


HANDLERS: Mapping[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "ask": cmd_ask,
    "plan": cmd_plan,
    "mute": cmd_mute,
    "unmute": cmd_unmute,
    "mutes": cmd_mutes,
}
