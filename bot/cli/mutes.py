"""``netadvisor mute``, ``unmute`` and ``mutes``: the same mutes as ``/netadvisor mute``
(:mod:`jobs.muting`), in the same state store as the scheduler."""

from __future__ import annotations

import argparse
import getpass
from typing import Any, TextIO

from bot.cli.flags import PROG, UsageError, add_settings_flags, did_you_mean
from bot.terminal import json as documents
from bot.terminal.mutes import render_mutes
from bot.wiring import Wiring
from jobs.mutes import MAX_MUTE_DAYS
from jobs.muting import MuteError, add_mute, lift_mute, list_mutes
from jobs.store import StoreError

__all__ = ["register", "run"]


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def register(commands: Any) -> None:
    """Add ``mute``, ``unmute`` and ``mutes``."""
    mute = commands.add_parser(
        "mute",
        help="stop posting an advisory's matches on a cluster (or all) for some days",
        description="Mute an advisory (or all) on a cluster (or all) for DAYS days: its new "
        "matches are recorded but not posted until the mute ends, and are announced then if "
        "they still hold. The same store as the Slack bot's /netadvisor mute; mutes reviewed "
        "in Git go in the configuration file's mutes: section instead.",
    )
    mute.set_defaults(run=run_mute)
    mute.add_argument("advisory", help="advisory id, or all")
    mute.add_argument("cluster", help="cluster name (scanned or configured), or all")
    mute.add_argument("days", type=_days, help=f"how many days the mute lasts (1-{MAX_MUTE_DAYS})")
    mute.add_argument("reason", nargs="+", help="why (required, kept with the mute)")
    mute.add_argument("--by", metavar="NAME", help="who mutes (default: your user name)")
    add_settings_flags(mute)
    unmute = commands.add_parser(
        "unmute",
        help="lift a mute now (not one from the configuration file)",
        description="Lift a mute made with mute or /netadvisor mute. A mute from the "
        "configuration file's mutes: section cannot be lifted here: remove it from the file.",
    )
    unmute.set_defaults(run=run_unmute)
    unmute.add_argument("id", type=int, help="the mute's id (see: netadvisor mutes)")
    add_settings_flags(unmute)
    mutes = commands.add_parser(
        "mutes",
        help="list the active mutes (from people and from the configuration file)",
        description="List the active mutes with their scope, reason, who made them and when "
        "they end; mutes from the configuration file are marked as such.",
    )
    mutes.set_defaults(run=run)
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


def run_mute(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor mute ADVISORY CLUSTER|all DAYS REASON``."""
    catalog = w.catalog
    advisory: str | None = None
    if args.advisory.lower() != "all":
        found = catalog.get(args.advisory)
        if found is None:
            hint = did_you_mean(args.advisory, [a.id for a in catalog.advisories])
            raise UsageError(f"argument advisory: unknown advisory {args.advisory!r}{hint}")
        advisory = found.id
    reason = " ".join(args.reason)
    configured = [c.name for c in w.settings.fleet.clusters]
    try:
        store = w.store(w.database())
        mute_id = add_mute(store, w.now(), advisory_id=advisory, cluster=args.cluster,
                           days=args.days, reason=reason, by=args.by or _who(),
                           configured=configured)  # fmt: skip
    except MuteError as exc:
        raise UsageError(f"argument {exc.argument}: {exc}") from None
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    print(f"mute {mute_id}: {advisory or 'all advisories'} on {args.cluster} for {args.days} "
          f"day(s): {reason.strip()[:500]}", file=out)  # fmt: skip
    return 0


def run_unmute(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor unmute ID``."""
    try:
        store = w.existing_store(w.database())
        if store is None:
            raise MuteError("id", f"no active mute {args.id}")
        lift_mute(store, args.id, w.now())
    except MuteError as exc:
        print(f"{PROG}: argument id: {exc}", file=err)
        return 2
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    print(f"mute {args.id} lifted", file=out)
    return 0


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor mutes [--all] [--json]``."""
    try:
        store = w.existing_store(w.database())
        found = [] if store is None else list_mutes(store, w.now(), ended=args.all)
    except StoreError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    if args.json:
        documents.dump(documents.mutes(found), out)
    else:
        print(render_mutes(found, w.now(), ended=args.all), file=out)
    return 0
