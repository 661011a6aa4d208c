"""``netadvisor digest`` and ``netadvisor serve``, and what ``scan`` needs to remember and tell:
the composition root of the state store, the notifiers and the scheduler.

Where messages go: Slack when a bot token and a channel (or label routes) are configured, else
the terminal (standard error under ``--json``). Demo data is printed, never posted, and keeps a
state file of its own. ``serve`` runs the scheduled jobs (scan, digest, upstream sync) and the
Slack app in one process until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TextIO

from advisories.catalog import Catalog, CatalogError, load_catalog
from advisories.engine import Engine
from bot.cli import PROG, UsageError, add_settings_flags, add_state_flag
from bot.settings import Settings, SettingsError, load_settings
from bot.slack.console import ConsoleNotifier, blocks_to_text
from bot.slack.digest_image import attach_after_digest
from bot.slack.messages import digest_messages
from bot.slack.notifier import SlackNotifier, make_client
from bot.state import StateDatabase, apply_config_mutes, state_database
from jobs.digest import UpstreamNote, collect
from jobs.inventory.report import ClusterScan, scan_fleet
from jobs.notify import NotifyError, Routing
from jobs.store import Store, StoreError
from jobs.tracking import ScanReport, Tracker

if TYPE_CHECKING:
    from jobs.schedule import Scheduler

__all__ = [
    "HANDLERS",
    "UPSTREAM_LEAD",
    "Messaging",
    "Tracking",
    "add_tracking_flags",
    "messaging",
    "open_tracking",
    "register",
    "schedule_jobs",
]

log = logging.getLogger(__name__)

KEEP_SCANS: Final = timedelta(days=30)
"""Scans (and facts no later scan shares) older than this are forgotten."""
UPSTREAM_LEAD: Final = timedelta(minutes=30)
"""The daily upstream sync runs this long before the digest: the digest carries its news, and
the two never run at the same time."""


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Composition


def routing(settings: Settings) -> Routing:
    """The channels of the settings."""
    return Routing(settings.slack_channel, tuple(settings.slack_routes))


@dataclass(frozen=True)
class Messaging:
    """Where messages go, and why, for people."""

    notifier: Any
    """The Slack notifier, or the console when nothing is posted."""
    console: ConsoleNotifier
    routing: Routing
    target: str
    """``Slack (@bot in team)`` / ``the terminal (...)``: said at start."""
    warning: str | None = None


def messaging(settings: Settings, stream: TextIO, *, demo: bool = False) -> Messaging:
    """Slack when a token and a channel (or routes) are configured, else the terminal."""
    channels = routing(settings)
    token = settings.slack_bot_token
    if demo:
        console = ConsoleNotifier(stream, label="DEMO DATA: printed here, never posted to Slack")
        return Messaging(console, console, Routing(), "the terminal (demo data is never posted)")
    console = ConsoleNotifier(stream)
    if token is None:
        return Messaging(console, console, Routing(), "the terminal (no SLACK_BOT_TOKEN)")
    if not channels.channels:
        warning = (
            f"{PROG}: warning: SLACK_BOT_TOKEN is set but no channel is "
            "(NETADVISOR_SLACK_CHANNEL or slack-routes): printing instead of posting"
        )
        return Messaging(console, console, Routing(), "the terminal (no Slack channel)", warning)
    client = make_client(token.reveal(), base_url=settings.slack_api_url)
    where = ", ".join(channels.channels)
    return Messaging(SlackNotifier(client), console, channels, f"Slack ({where})")


# ---------------------------------------------------------------------------------------------
# scan: remember and tell


def add_tracking_flags(parser: argparse.ArgumentParser) -> None:
    """``--dry-run`` and ``--state`` for ``scan``."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="compare with the stored state but write nothing and post nothing",
    )
    add_state_flag(parser)


def config_mutes(store: Store, settings: Settings, catalog: Catalog, err: TextIO) -> bool:
    """Apply the configuration's ``mutes:`` to the store, saying what changed; False (after
    printing why) when an entry names an unknown advisory."""
    try:
        synced = apply_config_mutes(store, settings, catalog, _now())
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return False
    if synced.added or synced.lifted:
        print(
            f"{PROG}: mutes from the configuration: {len(synced.added)} added, "
            f"{len(synced.lifted)} lifted, {synced.kept} unchanged",
            file=err,
        )
    return True


@dataclass
class Tracking:
    """One scan's state and messages; use as a context manager (closes the store)."""

    store: Store | None
    tracker: Tracker
    messages: Messaging
    buffer: io.StringIO | None
    """Printed messages, held back until the human report is printed."""
    dry_run: bool
    report: ScanReport | None = None
    notes: list[str] = field(default_factory=list)

    def __enter__(self) -> Tracking:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database."""
        if self.store is not None:
            self.store.close()
            self.store = None

    def record(
        self, scans: Sequence[ClusterScan], catalog_version: str, source: str, *, retire: bool
    ) -> ScanReport:
        """Diff, save, post or print; ``retire``: the scan covered the configured fleet."""
        now = _now()
        scanned = [(s.cluster, s.matches) for s in scans]
        self.report = self.tracker.record(
            scanned,
            now,
            source=source,
            catalog_version=catalog_version,
            retire_missing=retire,
            clock=_now,
        )
        if self.store is not None and not self.dry_run:
            self.store.run(lambda tx: tx.prune(now - KEEP_SCANS))
        return self.report

    def annotate(self, data: dict[str, Any]) -> None:
        """Add ``change`` and ``notified`` to every result of ``scan --json`` (null when the
        match is not tracked), and ``state`` to the document."""
        report = self.report
        for cluster in data.get("clusters", []):
            outcome = report.clusters.get(cluster["name"]) if report else None
            matches = outcome.matches if outcome else {}
            for result in cluster.get("results", []):
                found = matches.get(result["id"])
                result["change"] = found.change.value if found and found.change else None
                result["notified"] = found.notified.value if found and found.notified else None
            if outcome is not None and outcome.unreadable_since is not None:
                cluster["unreadable_since"] = outcome.unreadable_since.isoformat()
                cluster["stale"] = sorted(matches)
        data["state"] = {
            "database": self.store.display_url if self.store else None,
            "dry_run": self.dry_run,
            "messages": self.messages.target,
            "retired": list(report.retired) if report else [],
            "delivery_errors": list(report.delivery.errors) if report else [],
        }

    def summary(self) -> str:
        """What changed and who was told, for the end of the human report."""
        lines: list[str] = []
        if self.buffer is not None and self.buffer.getvalue():
            lines += [f"Messages (printed: {self.messages.target}):", self.buffer.getvalue()]
        report = self.report
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
        posted = told.get("posted", 0)
        printed = told.get("printed", 0)
        muted = told.get("muted", 0)
        lines.append(
            f"Messages: {posted} posted, {printed} printed, {muted} muted; "
            f"to {self.messages.target}."
        )
        for error in report.delivery.errors:
            lines.append(f"Not delivered (retried at the next scan): {error}")
        if self.dry_run:
            lines.append("Dry run: nothing was written or posted.")
        return "\n".join(lines)


def open_tracking(
    args: argparse.Namespace,
    settings: Settings,
    demo: bool,
    json_mode: bool,
    err: TextIO,
    catalog: Catalog,
) -> Tracking | int:
    """Open the state store and the notifiers for ``scan``; says where state and messages go,
    and applies the configuration's mutes (not in a dry run, which writes nothing).

    Returns an exit code when the state database or the mutes cannot be used.
    """
    dry_run = bool(getattr(args, "dry_run", False))
    try:
        database = state_database(settings, getattr(args, "state", None), demo=demo)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2
    store: Store | None = None
    if dry_run and not database.exists():
        print(f"{PROG}: state: none yet at {database.path} (dry run: nothing is written)", file=err)
    else:
        try:
            store = database.open()
        except StoreError as exc:
            print(f"{PROG}: state database: {exc}", file=err)
            return 1
        note = " (demo data has a state file of its own)" if database.demo else ""
        dry = " (dry run: nothing is written)" if dry_run else ""
        print(f"{PROG}: state: {store.display_url}{note}{dry}", file=err)
        if not dry_run and not config_mutes(store, settings, catalog, err):
            store.close()
            return 2
    buffer = None if json_mode else io.StringIO()
    messages = messaging(settings, err if json_mode else buffer or err, demo=demo)
    if messages.warning:
        print(messages.warning, file=err)
    tracker = Tracker(store, messages.notifier, messages.console, messages.routing, dry_run=dry_run)
    return Tracking(store, tracker, messages, buffer, dry_run)


# ---------------------------------------------------------------------------------------------
# digest


def register(commands: Any) -> None:
    """Add ``digest`` and ``serve``."""
    digest = commands.add_parser(
        "digest",
        help="post (or print) each channel's digest now",
        description="Build every channel's digest now: new since the last digest, resolved, "
        "open by severity and cluster, unknowns with what they depend on, unreadable "
        "clusters, mutes about to expire, upstream changes. Posted to Slack when configured, else "
        "printed. The configuration's mutes: are applied first (not with --dry-run).",
    )
    add_settings_flags(digest)
    digest.add_argument("--json", action="store_true", help="print the digests as JSON")
    digest.add_argument(
        "--dry-run", action="store_true", help="print the digest; post and record nothing"
    )
    digest.add_argument(
        "--demo", action="store_true", help="the digest of the demo fleet's state file"
    )
    serve = commands.add_parser(
        "serve",
        help="Slack app plus scheduled scan, digest and upstream sync, until stopped",
        description="Scan every scan-interval seconds (first at start), send the digest daily "
        "at digest-time, sync upstream trackers daily, and answer Slack on /slack/events "
        "(or Socket Mode with SLACK_APP_TOKEN); /healthz, /readyz and /metrics on the same port. "
        "The configuration's mutes: are applied at start. SIGTERM stops it cleanly.",
    )
    add_settings_flags(serve)


def _settings(args: argparse.Namespace, err: TextIO) -> Settings | None:
    try:
        return load_settings(getattr(args, "config", None))
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return None


def _database(
    settings: Settings, flag: str | None, err: TextIO, *, demo: bool | None = None
) -> StateDatabase | None:
    try:
        return state_database(settings, flag, demo=demo)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return None


def cmd_digest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor digest``."""
    settings = _settings(args, err)
    if settings is None:
        return 2
    database = _database(settings, args.state, err, demo=True if args.demo else None)
    if database is None:
        return 2
    demo = database.demo
    if not database.exists():
        print(f"{PROG}: no state yet at {database.path}: run `{PROG} scan` first", file=err)
        return 1
    try:
        catalog = load_catalog(args.catalog_dir)
        store = database.open()
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    except StoreError as exc:
        print(f"{PROG}: state database: {exc}", file=err)
        return 1
    with store:
        print(f"{PROG}: state: {store.display_url}", file=err)
        if not args.dry_run and not config_mutes(store, settings, catalog, err):
            return 2
        stream = err if args.json else out
        messages = messaging(settings, stream, demo=demo)
        if messages.warning:
            print(messages.warning, file=err)
        tracker = Tracker(
            store, messages.notifier, messages.console, messages.routing, dry_run=args.dry_run
        )
        if args.dry_run:
            posting = messages.notifier.posts
            now = _now()
            notes = upstream_news(store)(now - timedelta(days=8))
            digests = store.run(
                lambda tx: collect(tx, messages.routing if posting else None, now, news=notes)
            )
            if not args.json:
                for digest in digests:
                    for step in messages.console.plan(digest, "", digest.channel, None):
                        messages.console.perform(step, None)
            report = None
        else:
            started = _now()
            digests, report = tracker.send_digests(started, clock=_now, news=upstream_news(store))
            # The fleet exposure matrix as a PNG in each delivered digest's thread.
            attach_after_digest(
                store, messages.notifier, catalog, messages.routing, started, _now()
            )
        if args.json:
            data = [d.to_json() for d in digests]
            print(json.dumps({"digests": data}, indent=2, ensure_ascii=False), file=out)
        if report is not None:
            for error in report.errors:
                print(f"{PROG}: not delivered (kept, retried later): {error}", file=err)
            if messages.notifier.posts and not report.errors:
                channels = ", ".join(d.channel for d in digests)
                print(f"{PROG}: digest posted to {channels}", file=err)
            return 1 if report.errors else 0
    return 0


def upstream_news(store: Store) -> Callable[[datetime], list[UpstreamNote]]:
    """Upstream tracking's news since a time, for the digest (none when it never synced)."""

    def read(since: datetime) -> list[UpstreamNote]:
        from jobs.upstream.state import UpstreamStore

        try:
            items = UpstreamStore(store.engine).news_since(since)
        except Exception as exc:  # the digest goes out without them
            log.warning("digest: upstream news unavailable: %s", type(exc).__name__)
            return []
        return [UpstreamNote(tuple(n.advisories), n.text, n.at) for n in items]

    return read


def digest_text(store_url: str, settings: Settings) -> str:
    """Every cluster's digest as mrkdwn text, read now (for the bot's ``digest`` command)."""
    with Store.open(store_url) as store:
        digests = store.run(lambda tx: collect(tx, None, _now()))
    return "\n\n".join(blocks_to_text(m.blocks) for d in digests for m in digest_messages(d))


# ---------------------------------------------------------------------------------------------
# serve


@dataclass
class _Service:
    """The running parts of ``serve``, stopped in reverse order."""

    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception:
                log.exception("while stopping")
        self.stops.clear()


def _scan_job(
    settings: Settings, url: str, demo: bool, catalog_dirs: Sequence[str], stream: TextIO
) -> Callable[[], None]:
    from bot.cli_inventory import fleet_from
    from jobs import metrics
    from jobs.inventory.run import read_fleet

    empty = argparse.Namespace(kubeconfig=[], context=[], dump=[])

    def job() -> None:
        started = time.monotonic()
        catalog = load_catalog(catalog_dirs)
        fleet = fleet_from(empty, settings)
        clusters = read_fleet(
            fleet.targets, concurrency=settings.concurrency, timeout=settings.cluster_timeout
        )
        scans = scan_fleet(clusters, Engine(catalog.advisories))
        with Store.open(url) as store:
            messages = messaging(settings, stream, demo=demo)
            tracker = Tracker(store, messages.notifier, messages.console, messages.routing)
            now = _now()
            report = tracker.record(
                [(s.cluster, s.matches) for s in scans],
                now,
                source=fleet.source,
                catalog_version=catalog.version,
                retire_missing=True,
                clock=_now,
            )
            store.run(lambda tx: tx.prune(now - KEEP_SCANS))
        changed = sum(
            1
            for c in report.clusters.values()
            for m in c.matches.values()
            if m.change is not None and m.change.value != "open"
        )
        metrics.SCAN_SECONDS.observe(time.monotonic() - started)
        readable = sum(1 for c in clusters if c.status.value == "ok")
        log.info(
            "scan: %d of %d clusters read, %d changes, %d messages pending, %d errors",
            readable,
            len(clusters),
            changed,
            report.delivery.pending,
            len(report.delivery.errors),
        )

    return job


def _digest_job(settings: Settings, url: str, demo: bool, stream: TextIO) -> Callable[[], None]:
    def job() -> None:
        with Store.open(url) as store:
            messages = messaging(settings, stream, demo=demo)
            tracker = Tracker(store, messages.notifier, messages.console, messages.routing)
            started = _now()
            digests, report = tracker.send_digests(started, clock=_now, news=upstream_news(store))
            # The fleet exposure matrix as a PNG in each delivered digest's thread.
            with contextlib.suppress(CatalogError):
                catalog = load_catalog()
                attach_after_digest(
                    store, messages.notifier, catalog, messages.routing, started, _now()
                )
        log.info("digest: %d sent, %d errors", len(digests), len(report.errors))

    return job


def _bot(
    settings: Settings,
    url: str,
    catalog: Catalog,
    catalog_dirs: Sequence[str],
    service: _Service,
    store: Store,
) -> str:
    """Start the Slack app (HTTP endpoint or Socket Mode) behind /healthz, /readyz and /metrics
    on one port; say how it listens."""
    from bot.health import Readiness, catalog_check, operations, slack_connection_check, store_check
    from bot.server import HttpServer, create_app, wsgi_app

    app = None
    how = "no Slack app (no SLACK_BOT_TOKEN)"
    checks: dict[str, Callable[[], str]] = {
        "store": store_check(store),
        "catalog": catalog_check(lambda: catalog),
    }
    token = settings.slack_bot_token
    if token is not None:
        from bot.cli_ask import load_clusters
        from bot.listeners import BotContext
        from bot.listeners import register as register_listeners

        secret = settings.slack_signing_secret
        app = create_app(
            token=token.reveal(),
            signing_secret=secret.reveal() if secret else None,
            api_url=settings.slack_api_url,
            token_verification=False,
        )

        def clusters() -> Mapping[str, Any]:
            with Store.open(url) as opened:
                return load_clusters(opened)

        def upstream() -> Mapping[str, Sequence[Any]]:
            from bot.upstream_news import planner_upstream

            with Store.open(url) as opened:
                return planner_upstream(opened, catalog.advisories)

        context = BotContext(
            catalog=load_catalog(catalog_dirs),
            clusters=clusters,
            upstream=upstream,
            store=lambda: Store.open(url),
            digest=lambda: digest_text(url, settings),
            mute_users=frozenset(settings.slack_mute_users),
            mute_channels=frozenset(settings.slack_mute_channels),
        )
        register_listeners(app, context)
        how = "Slack app on /slack/events"
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler
            from slack_sdk.errors import SlackApiError, SlackClientError

            handler = SocketModeHandler(app, settings.slack_app_token.reveal())
            service.stops.append(handler.close)
            try:
                # apps.connections.open, then the WebSocket. A refused token stops the start; a
                # WebSocket that cannot be opened now is retried by the handler (not ready).
                handler.connect()  # type: ignore[no-untyped-call]
            except SlackApiError as exc:
                error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
                raise NotifyError(f"Socket Mode: apps.connections.open: {error}") from None
            except (SlackClientError, OSError) as exc:
                raise NotifyError(f"Socket Mode: {type(exc).__name__}") from None
            socket_mode = handler.client
            checks["slack"] = slack_connection_check(lambda: bool(socket_mode.is_connected()))
            app = None  # the port carries the operations endpoints only
            how = "Slack app in Socket Mode"
        elif secret is None:
            how += " (no SLACK_SIGNING_SECRET: requests are not verified)"
    slack = wsgi_app(app) if app is not None else None
    application = operations(slack, Readiness(checks))
    server = HttpServer(application, host="0.0.0.0", port=settings.port).start()
    service.stops.append(server.stop)
    return f"{how}; /healthz, /readyz, /metrics on port {server.port}"


def _leadership(settings: Settings, service: _Service, on_lead: Callable[[], None]) -> Any:
    """Leader election when on (or ``auto`` in a pod), else this process always leads.
    ``on_lead`` runs each time this replica becomes the leader."""
    from jobs import metrics
    from jobs.leader import ElectionSettings, LeaseElector, SingleProcess, api_client

    env = settings.environment
    wanted = settings.leader_election == "on" or (
        settings.leader_election == "auto" and env.in_cluster
    )
    if not wanted:
        metrics.LEADER.set(1)
        return SingleProcess()
    if not env.pod_name or not env.pod_namespace:
        raise UsageError(
            "leader election needs the pod's name ($HOSTNAME) and namespace (the service "
            "account's); set leader-election: off outside Kubernetes"
        )
    election = ElectionSettings(namespace=env.pod_namespace, identity=env.pod_name)

    def changed(leading: bool) -> None:
        metrics.LEADER.set(int(leading))
        if leading:
            on_lead()

    api = api_client()
    service.stops.append(api.close)
    elector = LeaseElector(api, election, on_change=changed)
    elector.start()
    service.stops.append(elector.stop)  # before the client closes: it releases the Lease
    return elector


def schedule_jobs(
    scheduler: Scheduler,
    settings: Settings,
    *,
    scan: Callable[[], object],
    digest: Callable[[], object],
    upstream: Callable[[], object] | None,
) -> str | None:
    """The scan every ``scan-interval`` seconds (first now), the digest daily at
    ``digest-time`` and, when given, the upstream sync daily :data:`UPSTREAM_LEAD` before it;
    returns when the sync runs (``HH:MM``)."""
    from jobs.schedule import earlier

    scheduler.every("scan", settings.scan_interval, scan, start_now=True)
    scheduler.daily("digest", settings.digest_time, digest)
    if upstream is None:
        return None
    at = earlier(settings.digest_time, int(UPSTREAM_LEAD.total_seconds() // 60))
    scheduler.daily("upstream", at, upstream)
    return at


def cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor serve``: scheduler and Slack app until SIGTERM or SIGINT (logging is set up
    by :func:`bot.cli.main`: ``--log-format``, ``--log-level`` or the settings)."""
    from jobs import metrics
    from jobs.joblock import job_locks_for
    from jobs.leader import run_as_leader
    from jobs.schedule import Scheduler

    settings = _settings(args, err)
    if settings is None:
        return 2
    try:
        catalog = load_catalog(args.catalog_dir)
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    database = _database(settings, args.state, err)
    if database is None:
        return 2
    demo, url = database.demo, database.url
    try:
        store = database.open()
    except StoreError as exc:
        print(f"{PROG}: state database: {exc}", file=err)
        return 1
    if not config_mutes(store, settings, catalog, err):
        store.close()
        return 2
    stop = threading.Event()
    service = _Service()
    service.stops.append(store.close)
    collector = metrics.StoreCollector(lambda: metrics.store_figures(store))
    metrics.REGISTRY.register(collector)
    service.stops.append(lambda: metrics.REGISTRY.unregister(collector))
    messages = messaging(settings, err, demo=demo)
    if messages.warning:
        print(messages.warning, file=err)
    print(f"{PROG}: state: {store.display_url}; messages to {messages.target}", file=err)
    scheduler = Scheduler(timezone=settings.timezone, misfire_grace=settings.misfire_grace)
    try:
        # A new leader scans at once rather than at its next interval.
        leadership = _leadership(settings, service, on_lead=lambda: scheduler.run_now("scan"))
        locks = job_locks_for(store.engine)

        def guarded(name: str, work: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                try:
                    outcome = run_as_leader(name, work, leadership, locks)
                except Exception:
                    metrics.JOB_RUNS.labels(job=name, outcome="failed").inc()
                    raise
                metrics.JOB_RUNS.labels(job=name, outcome=str(outcome)).inc()

            return run

        scan = _scan_job(settings, url, demo, args.catalog_dir, err)
        digest = _digest_job(settings, url, demo, err)
        sync: Callable[[], None] | None = None
        if not demo:  # the demo fleet's clusters are never told anything
            from bot.cli_upstream import upstream_job
            from bot.upstream_news import news_announcer

            news = news_announcer(settings, url, err)
            sync = guarded("upstream", upstream_job(settings, args.catalog_dir, url, on_news=news))
        synced_at = schedule_jobs(
            scheduler,
            settings,
            scan=guarded("scan", scan),
            digest=guarded("digest", digest),
            upstream=sync,
        )
        how = _bot(settings, url, catalog, args.catalog_dir, service, store)
    except (OSError, NotifyError, UsageError) as exc:
        print(f"{PROG}: cannot start: {exc}", file=err)
        service.stop()
        return 2 if isinstance(exc, UsageError) else 1
    scheduler.start()
    service.stops.append(lambda: scheduler.shutdown(wait=True))
    # The handlers before the "serving" line: whoever waits for it may stop us right away.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGTERM, signal.SIGINT):
            previous[number] = signal.signal(number, lambda *_: stop.set())
    print(
        f"{PROG}: serving: {how}; scan every {settings.scan_interval:g} s, digest daily at "
        f"{settings.digest_time} {settings.timezone}"
        + (f", upstream sync daily at {synced_at}" if synced_at else ""),
        file=err,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print(f"{PROG}: stopping", file=err, flush=True)
        service.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    print(f"{PROG}: stopped", file=err, flush=True)
    return 0


HANDLERS: Mapping[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "digest": cmd_digest,
    "serve": cmd_serve,
}
