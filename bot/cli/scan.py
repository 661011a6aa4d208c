"""``netadvisor scan``: read the fleet, match it against the catalog, remember what changed and
post (or print) it: the :func:`jobs.scan.scan` use case that ``serve`` schedules too.

Exit codes: 0 when the run completed, even if some clusters could not be read (they are
reported) or messages wait to be retried; 1 when no cluster could be read or a ``--fail-on``
level was reached; 2 for usage errors (bad flags, a bad configuration file, two clusters with one
name); 3 when messages could not be delivered for a reason retrying will not fix (the app is not
in the channel, the channel does not exist, a revoked token, a missing scope): each is named on
standard error with the channel and the fix, and stays queued for when it is fixed.
"""

from __future__ import annotations

import argparse
import io
from typing import Any, TextIO

from advisories.models import Verdict
from bot.cli.flags import (
    NOT_DELIVERED,
    PROG,
    add_fleet_flags,
    add_output_flag,
    add_severity_flag,
    add_state_flag,
    config_mutes,
    prepare_fleet,
    severe_enough,
)
from bot.report.html import render_html
from bot.report.markdown import render_scan_markdown
from bot.report.model import read_scan
from bot.terminal import json as documents
from bot.terminal.fleet import ProgressBar, render_scan, render_summary
from bot.wiring import Wiring
from jobs.scan import scan
from jobs.store import Store, StoreError

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``scan``."""
    parser = commands.add_parser(
        "scan",
        help="match every cluster against the catalog; post or print what changed",
        description="Read every cluster and match it against the catalog: per cluster, the "
        "advisories that hold (with the affected nodes) and those that depend on unknown facts.",
    )
    parser.set_defaults(run=run)
    add_fleet_flags(parser)
    add_output_flag(parser, ("text", "json", "markdown", "html"))
    parser.add_argument(
        "--fail-on",
        choices=("affected", "unknown"),
        help="exit 1 when a readable cluster has an advisory at this level",
    )
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="language of texts")
    add_severity_flag(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="compare with the stored state but write nothing and post nothing",
    )
    add_state_flag(parser)


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor scan``."""
    catalog = w.catalog
    fleet = prepare_fleet(args, w, err)
    if isinstance(fleet, int):
        return fleet
    dry_run = bool(args.dry_run)
    database = w.database(fleet_demo=fleet.demo)
    store: Store | None = None
    if dry_run and not database.exists():
        print(f"{PROG}: state: none yet at {database.path} (dry run: nothing is written)", file=err)
    else:
        try:
            store = w.store(database)
        except StoreError as exc:
            print(f"{PROG}: state database: {exc}", file=err)
            return 1
        note = " (demo data has a state file of its own)" if database.demo else ""
        dry = " (dry run: nothing is written)" if dry_run else ""
        print(f"{PROG}: state: {store.display_url}{note}{dry}", file=err)
        if not dry_run and not config_mutes(w, store, err):
            return 2
    # Printed messages wait until the report is printed (standard error for a document).
    buffer = None if args.output != "text" else io.StringIO()
    messages = w.messaging(err if buffer is None else buffer, demo=fleet.demo)
    if messages.warning:
        print(messages.warning, file=err)
    bar = ProgressBar(err)
    result = scan(
        fleet.targets,
        w.engine,
        w.tracker(store, messages, dry_run=dry_run),
        catalog_version=catalog.version,
        source=fleet.source,
        clock=w.now,
        retire=not fleet.partial,
        concurrency=args.concurrency or w.settings.fleet.concurrency,
        timeout=args.timeout or w.settings.fleet.cluster_timeout,
        progress=bar,
    )
    bar.clear()
    if args.output != "text":
        document = documents.scan(
            result,
            catalog.version,
            args.lang,
            database=store.display_url if store else None,
            dry_run=dry_run,
            messages=messages.target,
        )
        if args.output == "json":
            documents.dump(document, out)
        else:
            report = read_scan(document, w.now().replace(microsecond=0))
            shown = render_html(report) if args.output == "html" else render_scan_markdown(report)
            out.write(shown)
    else:
        origins = {t.name: t.origin for t in fleet.targets}
        shown = render_scan(result.scans, catalog.version, origins, args.lang, args.severity)
        w.painter(out).print(shown)
        printed = buffer.getvalue() if buffer is not None else ""
        summary = render_summary(result.report, messages.target, printed, dry_run=dry_run)
        w.painter(out).print(summary)
    if result.readable == 0:
        print(f"{PROG}: no cluster could be read", file=err)
        return 1
    if result.report.delivery.permanent:
        for line in result.report.delivery.permanent:
            print(f"{PROG}: not delivered, and retrying will not help: {line}", file=err)
        return NOT_DELIVERED
    if args.fail_on is not None:
        threshold = Verdict(args.fail_on).rank
        if any(
            m.verdict.rank >= threshold and severe_enough(m.result.severity, args.severity)
            for s in result.scans
            for m in s.matches
        ):
            return 1
    return 0
