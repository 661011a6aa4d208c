"""``netadvisor upstream sync`` and ``netadvisor upstream show``: what upstream says about the
PRs and issues the catalog cites (the GitHub client is built by :mod:`bot.wiring`).

Exit codes: 0 when the command completed (a sync that stopped early at its budget or a rate limit
completed: the next one resumes; references that are gone are reported); 1 when nothing could be
done (the catalog or the database cannot be read, or the API could not be used at all: wrong URL,
network, bad token); 2 for usage errors.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from advisories.catalog import Catalog
from advisories.models import Advisory
from bot.cli.flags import PROG, UsageError, add_settings_flags, did_you_mean
from bot.terminal import json as documents
from bot.terminal.upstream import render_show, render_sync
from bot.wiring import Wiring
from jobs.store import Store, StoreError
from jobs.upstream.errors import UpstreamError
from jobs.upstream.models import News, RefKey, RefRecord

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``upstream sync`` and ``upstream show``."""
    upstream = commands.add_parser(
        "upstream",
        help="sync or show what upstream says about the PRs and issues the catalog cites",
        description="Track every GitHub PR and issue the catalog cites: state, cherry-picks, "
        "and the first released tag of each line that contains a fix. The catalog stays "
        "authoritative: where upstream says otherwise, that is reported, never applied.",
    )
    upstream.set_defaults(run=run)
    sub = upstream.add_subparsers(dest="upstream_command", metavar="ACTION")
    sub.required = True
    sync_parser = sub.add_parser(
        "sync",
        help="ask GitHub what changed; print news and disagreements with the catalog",
        description="Ask GitHub about every reference (conditional requests: unchanged answers "
        "cost nothing with a token). Without a token, at most --budget requests are sent and the "
        "next sync resumes where this one stopped.",
    )
    sync_parser.add_argument(
        "--offline",
        action="store_true",
        help="send nothing: re-read the stored answers (e.g. after a catalog change)",
    )
    sync_parser.add_argument(
        "--budget",
        type=_budget,
        metavar="N",
        help="requests this sync may send (default: no limit with a token, else github-budget)",
    )
    sync_parser.add_argument(
        "--max-wait",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="wait out a rate limit at most this long, else stop and resume next time "
        "(default: 60)",
    )
    sync_parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_settings_flags(sync_parser)
    show = sub.add_parser(
        "show",
        help="the references of one advisory (or all) with state, cherry-picks and fixed tags",
        description="Show the catalog's references with their upstream state, cherry-picks and "
        "first released tag per line, as the last sync stored them (no network); --refresh asks "
        "GitHub about them first.",
    )
    show.add_argument("id", nargs="?", help="advisory id, e.g. KP-ENDPOINT-UPDATE-DELAY")
    show.add_argument("--refresh", action="store_true", help="sync these references first")
    show.add_argument(
        "--offline", action="store_true", help="the last known state only (the default)"
    )
    show.add_argument(
        "--version",
        metavar="VERSION",
        help="also say where the fix is for a cluster running this component version",
    )
    show.add_argument("--json", action="store_true", help="print one JSON object")
    add_settings_flags(show)


def _budget(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 86400 seconds")
    return value


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor upstream sync|show``."""
    catalog = w.catalog
    if args.upstream_command == "show" and args.id and catalog.get(args.id) is None:
        ids = [a.id for a in catalog.advisories]
        hint = did_you_mean(args.id, ids) or f" (known: {', '.join(ids)})"
        raise UsageError(f"argument id: unknown advisory {args.id!r}{hint}")
    database = w.database()
    if args.upstream_command == "show" and not args.refresh and not database.exists():
        return _show(args, catalog, {}, (), out)
    try:
        store = w.store(database)
        if args.upstream_command == "sync":
            return _sync(args, w, store, database.demo, out, err)
        return _show_command(args, w, store, out)
    except (StoreError, UpstreamError) as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1


def _sync(
    args: argparse.Namespace, w: Wiring, store: Store, demo: bool, out: TextIO, err: TextIO
) -> int:
    settings = w.settings
    where = "stored answers only" if args.offline else settings.github.api_url
    auth = "" if args.offline else (", with a token" if settings.github.token else ", no token")
    print(f"{PROG}: upstream sync ({where}{auth})", file=err)
    run = w.sync_upstream(store, offline=args.offline, budget=args.budget, max_wait=args.max_wait)
    report = run.report
    if args.json:
        documents.dump(documents.sync(report, run.requests, run.api_url, run.authenticated), out)
    else:
        print(render_sync(report, run.requests), file=out)
    if report.news and not demo:
        _post_news(w, store, report.news, err)
    return 1 if report.api_unusable else 0


def _post_news(w: Wiring, store: Store, news: Sequence[News], err: TextIO) -> None:
    """Post a sync's news right away to the channels of the clusters it concerns, and say so
    (without Slack the report above already printed it)."""
    messages = w.messaging(err)
    if not messages.notifier.posts:
        return
    report = w.announce_news(store, messages, news)
    channels = ", ".join(sorted({c for c, _ in report.notices}))
    if not report.notices:
        print(f"{PROG}: upstream news: no open match it concerns, nothing posted", file=err)
    elif not report.delivery.errors:
        print(f"{PROG}: upstream news: {len(report.notices)} message(s) posted to "
              f"{channels}", file=err)  # fmt: skip
    for error in report.delivery.errors:
        print(f"{PROG}: upstream news not delivered (kept, retried at the next scan): "
              f"{error}", file=err)  # fmt: skip


def _show_command(args: argparse.Namespace, w: Wiring, store: Store, out: TextIO) -> int:
    catalog = w.catalog
    advisories = [catalog.get(args.id)] if args.id else list(catalog.advisories)
    chosen = [a for a in advisories if a is not None]
    notes: list[str] = []
    if args.refresh:
        refs = {ref for a in chosen for _, ref in documents.github_refs(a)}
        run = w.sync_upstream(store, only=None if not args.id else refs)
        if run.report.stopped:
            notes.append(f"sync stopped early: {run.report.stopped}; showing the last known state")
    return _show(args, catalog, w.upstream_store(store).records(), tuple(notes), out)


def _show(
    args: argparse.Namespace,
    catalog: Catalog,
    records: Mapping[RefKey, RefRecord],
    notes: Sequence[str],
    out: TextIO,
) -> int:
    advisories: list[Advisory | None] = (
        [catalog.get(args.id)] if args.id else list(catalog.advisories)
    )
    chosen = [a for a in advisories if a is not None and documents.github_refs(a)]
    if args.json:
        documents.dump(documents.upstream_show(catalog, chosen, records, notes, args.version), out)
    else:
        print(render_show(chosen, records, notes, args.version), file=out)
    return 0
