"""``netadvisor digest``: every channel's digest now, posted (or printed); the same use case
``serve`` runs daily (:meth:`jobs.tracker.Tracker.send_digests`).

Exit codes: 0 when every digest was posted (or printed); 1 when there is no state yet, the
database cannot be used, or a digest could not be posted now (kept, retried later); 2 for usage
errors; 3 when a digest could not be delivered for a reason retrying will not fix (the app is not
in the channel, a revoked token, a missing scope), named on standard error with the fix.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from bot.cli.flags import NOT_DELIVERED, PROG, add_settings_flags, add_severity_flag, config_mutes
from bot.terminal import json as documents
from bot.wiring import Wiring
from jobs.store import StoreError

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``digest``."""
    digest = commands.add_parser(
        "digest",
        help="post (or print) each channel's digest now",
        description="Build every channel's digest now: new since the last digest, resolved, "
        "open by severity and cluster, unknowns with what they depend on, unreadable "
        "clusters, mutes about to expire, upstream changes. Posted to Slack when configured, else "
        "printed. The configuration's mutes: are applied first (not with --dry-run).",
    )
    digest.set_defaults(run=run)
    add_settings_flags(digest)
    digest.add_argument("--json", action="store_true", help="print the digests as JSON")
    digest.add_argument(
        "--dry-run", action="store_true", help="print the digest; post and record nothing"
    )
    digest.add_argument(
        "--demo", action="store_true", help="the digest of the demo fleet's state file"
    )
    add_severity_flag(digest)


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor digest``."""
    database = w.database(fleet_demo=True if args.demo else None)
    if not database.exists():
        print(f"{PROG}: no state yet at {database.path}: run `{PROG} scan` first", file=err)
        return 1
    try:
        store = w.store(database)
    except StoreError as exc:
        print(f"{PROG}: state database: {exc}", file=err)
        return 1
    print(f"{PROG}: state: {store.display_url}", file=err)
    if not args.dry_run and not config_mutes(w, store, err):
        return 2
    messages = w.messaging(err if args.json else out, demo=database.demo)
    if messages.warning:
        print(messages.warning, file=err)
    digests, report = w.digest(store, messages, dry_run=args.dry_run, minimum=args.severity)
    if args.json:
        documents.dump(documents.digests(digests), out)
    for error in report.errors:
        if not any(line.startswith(error) for line in report.permanent):
            print(f"{PROG}: not delivered (kept, retried later): {error}", file=err)
    for line in report.permanent:
        print(f"{PROG}: not delivered, and retrying will not help: {line}", file=err)
    if messages.notifier.posts and not args.dry_run and not report.errors:
        channels = ", ".join(d.channel for d in digests)
        print(f"{PROG}: digest posted to {channels}", file=err)
    if report.permanent:
        return NOT_DELIVERED
    return 1 if report.errors else 0
