"""``netadvisor upstream sync`` and ``netadvisor upstream show``: the composition root of upstream
tracking.

Here, and only here, the GitHub client is built from the settings (API URL, token, budget) and
the upstream tables are opened on the state database. :func:`upstream_job` gives the scheduler a
ready-to-call daily job.

Exit codes: 0 when the command completed (a sync that stopped early at its budget or a rate limit
completed: the next one resumes; references that are gone are reported); 1 when nothing could be
done (the catalog or the database cannot be read, or the API could not be used at all: wrong URL,
network, bad token); 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from advisories.catalog import Catalog, CatalogError, load_catalog
from advisories.models import Advisory
from advisories.serialize import fixed_versions
from bot.cli import PROG, UsageError, add_settings_flags
from bot.settings import Settings, SettingsError, load_settings
from bot.state import state_database
from jobs.store import Store, StoreError, UpstreamStore
from jobs.upstream.compare import disagreements, fix_advice, upstream_fixes
from jobs.upstream.errors import UpstreamError
from jobs.upstream.github import GitHubSource, RequestStats, build_client
from jobs.upstream.models import CherryPick, News, ReferenceState, RefKey, RefRecord, RepoName
from jobs.upstream.serialize import disagreement_to_json, news_to_json, reference_to_json
from jobs.upstream.sync import SyncReport, sync

__all__ = ["HANDLERS", "UpstreamRun", "register", "run_upstream_sync", "upstream_job"]


def register(commands: Any) -> None:
    """Add ``upstream sync`` and ``upstream show``."""
    upstream = commands.add_parser(
        "upstream",
        help="sync or show what upstream says about the PRs and issues the catalog cites",
        description="Track every GitHub PR and issue the catalog cites: state, cherry-picks, "
        "and the first released tag of each line that contains a fix. The catalog stays "
        "authoritative: where upstream says otherwise, that is reported, never applied.",
    )
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
        type=_positive_int,
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
        "first released tag per line. Asks GitHub about them first, unless --offline.",
    )
    show.add_argument("id", nargs="?", help="advisory id, e.g. KP-ENDPOINT-UPDATE-DELAY")
    show.add_argument("--offline", action="store_true", help="show the last known state only")
    show.add_argument(
        "--version",
        metavar="VERSION",
        help="also say where the fix is for a cluster running this component version",
    )
    show.add_argument("--json", action="store_true", help="print one JSON object")
    add_settings_flags(show)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 86400 seconds")
    return value


# ---------------------------------------------------------------------------------------------
# Composition


@contextmanager
def open_upstream_store(url: str) -> Iterator[UpstreamStore]:
    """The upstream tables on the shared state database (created or upgraded as needed)."""
    store = Store.open(url)
    try:
        yield UpstreamStore(store.engine)
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class UpstreamRun:
    """A sync's report and what it cost."""

    report: SyncReport
    requests: RequestStats
    api_url: str
    authenticated: bool


def _now() -> datetime:
    return datetime.now(UTC)


def run_upstream_sync(
    settings: Settings,
    advisories: Sequence[Advisory],
    store: UpstreamStore,
    *,
    offline: bool = False,
    only: Collection[RefKey] | None = None,
    budget: int | None = None,
    max_wait: float = 60.0,
    clock: Callable[[], datetime] = _now,
    sleep: Callable[[float], None] = time.sleep,
) -> UpstreamRun:
    """One sync with the settings' GitHub API, token and budget."""
    token = settings.github_token.reveal() if settings.github_token is not None else None
    if budget is None and token is None:
        budget = settings.github_budget
    stats = RequestStats()
    client = build_client(settings.github_api_url, token)
    try:

        def make_source(fresh_since: datetime | None) -> GitHubSource:
            source = GitHubSource(
                client,
                store,
                fresh_since=fresh_since,
                budget=budget,
                max_wait=max_wait,
                offline=offline,
                sleep=sleep,
                clock=clock,
            )
            nonlocal stats
            stats = source.stats
            return source

        report = sync(advisories, store, make_source, clock=clock, only=only, offline=offline)
    finally:
        client.close()
    return UpstreamRun(report, stats, settings.github_api_url, token is not None)


def upstream_job(
    settings: Settings,
    catalog_dirs: Sequence[str | Path] = (),
    state: str | None = None,
    on_news: Callable[[Sequence[News]], object] | None = None,
) -> Callable[[], SyncReport]:
    """The scheduled job (daily by default), e.g. ``scheduler.daily("upstream", "06:00", job)``.

    Each run is a full sync (resuming an unfinished pass). Its news is stored for the digest
    (:meth:`~jobs.store.UpstreamStore.news_since`), handed to ``on_news`` (to post
    right away to the channels of clusters the advisories affect) and returned. The catalog is
    read at every run, so that a catalog change is compared at the next sync.
    """

    def job() -> SyncReport:
        catalog = load_catalog(catalog_dirs)
        with open_upstream_store(state_database(settings, state).url) as store:
            report = run_upstream_sync(settings, catalog.advisories, store).report
        if on_news is not None and report.news:
            on_news(report.news)
        return report

    return job


# ---------------------------------------------------------------------------------------------
# Commands


def _setup(args: argparse.Namespace, err: TextIO) -> tuple[Settings, Catalog] | int:
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    try:
        catalog = load_catalog(args.catalog_dir)
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    return settings, catalog


def cmd_upstream(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor upstream sync|show``."""
    prepared = _setup(args, err)
    if isinstance(prepared, int):
        return prepared
    settings, catalog = prepared
    if args.upstream_command == "show" and args.id and catalog.get(args.id) is None:
        known = ", ".join(a.id for a in catalog.advisories)
        raise UsageError(f"argument id: unknown advisory {args.id!r} (known: {known})")
    try:
        database = state_database(settings, args.state)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    if args.upstream_command == "show" and args.offline and not database.exists():
        return _show(args, catalog, {}, (), out)
    try:
        with open_upstream_store(database.url) as store:
            if args.upstream_command == "sync":
                tell = _news_poster(settings, database.url, database.demo, err)
                return _sync(args, settings, catalog, store, out, err, tell)
            return _show_command(args, settings, catalog, store, out, err)
    except (StoreError, UpstreamError) as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1


def _news_poster(
    settings: Settings, url: str, demo: bool, err: TextIO
) -> Callable[[Sequence[News]], object] | None:
    """Posts a sync's news right away to the channels of the clusters it concerns, and says so;
    None without Slack (the report prints the news) and for the demo fleet."""
    from bot.cli_service import messaging
    from bot.upstream_news import news_announcer

    if demo or not messaging(settings, err).notifier.posts:
        return None
    announcer = news_announcer(settings, url, err)

    def post(news: Sequence[News]) -> None:
        report = announcer(news)
        channels = ", ".join(sorted({c for c, _ in report.notices}))
        if not report.notices:
            print(f"{PROG}: upstream news: no open match it concerns, nothing posted", file=err)
        elif not report.delivery.errors:
            print(f"{PROG}: upstream news: {len(report.notices)} message(s) posted to "
                  f"{channels}", file=err)  # fmt: skip
        for error in report.delivery.errors:
            print(f"{PROG}: upstream news not delivered (kept, retried at the next scan): "
                  f"{error}", file=err)  # fmt: skip

    return post


def _sync(
    args: argparse.Namespace,
    settings: Settings,
    catalog: Catalog,
    store: UpstreamStore,
    out: TextIO,
    err: TextIO,
    tell: Callable[[Sequence[News]], object] | None = None,
) -> int:
    where = "stored answers only" if args.offline else settings.github_api_url
    auth = "" if args.offline else (", with a token" if settings.github_token else ", no token")
    print(f"{PROG}: upstream sync ({where}{auth})", file=err)
    run = run_upstream_sync(
        settings,
        catalog.advisories,
        store,
        offline=args.offline,
        budget=args.budget,
        max_wait=args.max_wait,
    )
    report = run.report
    if args.json:
        print(json.dumps(sync_to_json(run), indent=2, ensure_ascii=False), file=out)
    else:
        print(render_sync(run), file=out)
    if tell is not None and report.news:
        tell(report.news)
    return 1 if report.api_unusable else 0


def _show_command(
    args: argparse.Namespace,
    settings: Settings,
    catalog: Catalog,
    store: UpstreamStore,
    out: TextIO,
    err: TextIO,
) -> int:
    advisories = [catalog.get(args.id)] if args.id else list(catalog.advisories)
    chosen = [a for a in advisories if a is not None]
    notes: list[str] = []
    if not args.offline:
        refs = {
            RefKey(RepoName(g[0]), g[1], g[2])
            for a in chosen
            for r in a.references
            if (g := r.github) is not None
        }
        run = run_upstream_sync(
            settings, catalog.advisories, store, only=None if not args.id else refs
        )
        if run.report.stopped:
            notes.append(f"sync stopped early: {run.report.stopped}; showing the last known state")
    return _show(args, catalog, store.records(), tuple(notes), out)


def _show(
    args: argparse.Namespace,
    catalog: Catalog,
    records: Mapping[RefKey, RefRecord],
    notes: Sequence[str],
    out: TextIO,
) -> int:
    advisories = [catalog.get(args.id)] if args.id else list(catalog.advisories)
    chosen = [a for a in advisories if a is not None and _github_refs(a)]
    if args.json:
        data = {
            "catalog_version": catalog.version,
            "notes": list(notes),
            "advisories": [advisory_to_json(a, records, args.version) for a in chosen],
        }
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        print(render_show(chosen, records, notes, args.version), file=out)
    return 0


HANDLERS: Mapping[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "upstream": cmd_upstream,
}


# ---------------------------------------------------------------------------------------------
# Rendering


def _github_refs(advisory: Advisory) -> list[tuple[str, RefKey]]:
    out = []
    for reference in advisory.references:
        parsed = reference.github
        if parsed is not None:
            out.append((reference.type, RefKey(RepoName(parsed[0]), parsed[1], parsed[2])))
    return out


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "?"


def _states(records: Mapping[RefKey, RefRecord]) -> dict[RefKey, ReferenceState]:
    return {ref: r.state for ref, r in records.items() if r.state is not None}


def _describe(state: ReferenceState) -> str:
    if not state.is_pull:
        if state.state == "closed":
            by = ", ".join(f"#{n}" for n in state.closed_by)
            return f"closed {_day(state.closed_at)}{f' by {by}' if by else ''}"
        return "open"
    if state.merged:
        return f"merged {_day(state.merged_at)} into {state.base}"
    if state.state == "closed":
        return f"closed without merging (base {state.base})"
    return f"open against {state.base}"


def _pick_state(pick: CherryPick) -> str:
    if pick.merged:
        return "merged"
    return "closed unmerged" if pick.state == "closed" else "open"


def render_reference(kind: str, ref: RefKey, record: RefRecord | None) -> list[str]:
    """The lines of one reference in ``upstream show``."""
    label = "issue" if ref.kind == "issues" else "PR"
    head = f"  {kind:<7}{ref} ({label})"
    if record is None or record.state is None:
        lines = [f"{head}: not synced yet"]
    else:
        state = record.state
        lines = [f"{head}: {_describe(state)} - {state.title}"]
        extra = []
        if state.labels:
            extra.append("labels: " + ", ".join(state.labels))
        if state.milestone:
            extra.append(f"milestone {state.milestone}")
        if extra:
            lines.append("           " + "; ".join(extra))
        if state.cherry_picks:
            picks = ", ".join(
                f"#{p.number} -> {p.base} ({_pick_state(p)})" for p in state.cherry_picks
            )
            lines.append(f"           cherry-picks: {picks}")
        if state.fixes:
            fixes = []
            for fix in state.fixes:
                via = "" if fix.pull == ref.number else f" (#{fix.pull})"
                if fix.line is None:
                    fixes.append(f"merged, in no release yet{via}")
                else:
                    fixes.append(f"{fix.line}: {fix.tag or 'not released yet'}{via}")
            lines.append("           first released tag per line: " + "; ".join(fixes))
    if record is not None and record.error:
        lines.append(f"           last sync failed {_day(record.error_at)}: {record.error}")
    return lines


def render_show(
    advisories: Sequence[Advisory],
    records: Mapping[RefKey, RefRecord],
    notes: Sequence[str] = (),
    version: str | None = None,
) -> str:
    """``upstream show`` for people."""
    states = _states(records)
    lines = [f"note: {note}" for note in notes]
    if not advisories:
        lines.append("no advisory cites a GitHub PR or issue")
    for advisory in advisories:
        if lines:
            lines.append("")
        lines.append(f"{advisory.id}  {advisory.title}")
        fixed = fixed_versions(advisory)
        lines.append(f"  catalog fixed versions: {', '.join(fixed) if fixed else 'none'}")
        synced = [records[r].synced_at for _, r in _github_refs(advisory) if r in records]
        for kind, ref in _github_refs(advisory):
            lines.extend(render_reference(kind, ref, records.get(ref)))
        found = upstream_fixes(advisory, states)
        if found:
            ordered = sorted(found.values(), key=lambda f: f.key)
            lines.append(
                "  upstream first fixed: " + ", ".join(f"{f.line}: {f.tag}" for f in ordered)
            )
        for item in disagreements(advisory, states):
            lines.append(f"  ! {item.text.split(': ', 1)[1]}")
        if version:
            advice = fix_advice(advisory, states, version)
            lines.append(f"  for {version}: {advice.text if advice else 'no fixed release known'}")
        times = [t for t in synced if t is not None]
        lines.append(
            f"  last synced {max(times):%Y-%m-%d %H:%M} UTC" if times else "  never synced"
        )
    return "\n".join(lines)


def advisory_to_json(
    advisory: Advisory, records: Mapping[RefKey, RefRecord], version: str | None = None
) -> dict[str, Any]:
    """One advisory in ``upstream show --json``."""
    states = _states(records)
    references = []
    for kind, ref in _github_refs(advisory):
        record = records.get(ref)
        references.append(
            {
                "type": kind,
                "url": ref.url,
                "state": reference_to_json(record.state) if record and record.state else None,
                "error": record.error if record else None,
            }
        )
    found = upstream_fixes(advisory, states)
    out: dict[str, Any] = {
        "id": advisory.id,
        "title": advisory.title,
        "component": advisory.component,
        "fixed_in": fixed_versions(advisory),
        "upstream_fixed_in": {
            line: {"tag": f.tag, "reference": str(f.ref), "pull": f.pull}
            for line, f in sorted(found.items(), key=lambda i: i[1].key)
        },
        "disagreements": [disagreement_to_json(d) for d in disagreements(advisory, states)],
        "references": references,
    }
    if version:
        advice = fix_advice(advisory, states, version)
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


def render_sync(run: UpstreamRun) -> str:
    """``upstream sync`` for people."""
    report, stats = run.report, run.requests
    lines = [
        f"synced {len(report.synced)}, failed {len(report.failed)}, "
        f"not reached {len(report.remaining)}; {stats.sent} requests "
        f"({stats.not_modified} answered 304 Not Modified), {stats.reused} answers reused"
    ]
    if report.stopped:
        lines.append(
            f"stopped early: {report.stopped}; the next sync resumes with "
            f"{len(report.remaining)} reference{'s' if len(report.remaining) != 1 else ''}"
        )
    elif report.pass_done:
        lines.append("every reference has been asked in this pass")
    if report.failed:
        lines.append("failed (the last known state is kept):")
        lines.extend(f"  {ref}: {error}" for ref, error in report.failed)
    lines.append(f"news ({len(report.news)}):" if report.news else "no news")
    for news in report.news:
        lines.append(f"  - {news.text} [{', '.join(news.advisories)}]")
    if report.disagreements:
        lines.append(f"upstream disagrees with the catalog ({len(report.disagreements)}):")
        lines.extend(f"  ! {d.text}" for d in report.disagreements)
    return "\n".join(lines)


def sync_to_json(run: UpstreamRun) -> dict[str, Any]:
    """``upstream sync --json``."""
    report, stats = run.report, run.requests
    return {
        "api_url": run.api_url,
        "authenticated": run.authenticated,
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
