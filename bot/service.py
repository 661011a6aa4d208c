"""``serve``'s runtime: the scheduled jobs, leader election, the operations port and the Slack
app, in one process, built from one :class:`bot.wiring.Wiring`.

The jobs are the same use cases the command line runs: :func:`jobs.scan.scan` every
``scan-interval`` seconds (first at start), :meth:`jobs.tracker.Tracker.send_digests` daily at
``digest-time``, and the upstream sync daily :data:`UPSTREAM_LEAD` before the digest. Where
several replicas run, only the leader (a ``coordination.k8s.io`` Lease) runs them, and job locks
in the state store keep a job from running twice even then. The process holds one state store
(one database engine) for all of it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, TextIO

from advisories.answers import ClusterData
from advisories.planning import UpstreamFix
from bot.http import (
    HttpServer,
    Readiness,
    catalog_check,
    operations,
    slack_connection_check,
    store_check,
)
from bot.settings import Settings
from bot.slack.app import SocketMode, create_app, socket_mode, wsgi_app
from bot.slack.listeners import BotContext
from bot.slack.listeners import register as register_listeners
from bot.slack.messages import digest_text
from bot.wiring import PROG, Messaging, Wiring
from jobs import metrics
from jobs.digest import collect
from jobs.joblock import job_locks_for
from jobs.leader import ElectionSettings, LeaseElector, SingleProcess, api_client, run_as_leader
from jobs.notify import NotifyError
from jobs.scan import LastScan, scan
from jobs.schedule import Scheduler, earlier
from jobs.store import Store, store_figures
from jobs.upstream.sync import SyncReport

__all__ = ["UPSTREAM_LEAD", "Service", "StartError", "schedule_jobs"]

log = logging.getLogger(__name__)

UPSTREAM_LEAD: Final = timedelta(minutes=30)
"""The daily upstream sync runs this long before the digest: the digest carries its news, and
the two never run at the same time."""


class StartError(Exception):
    """``serve`` cannot start as configured; the message says why (never a secret).
    ``usage``: the configuration asks for something impossible here (exit 2, not 1)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        self.usage = usage
        super().__init__(message)


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
    scheduler.every("scan", settings.schedule.scan_interval, scan, start_now=True)
    scheduler.daily("digest", settings.schedule.digest_time, digest)
    if upstream is None:
        return None
    at = earlier(settings.schedule.digest_time, int(UPSTREAM_LEAD.total_seconds() // 60))
    scheduler.daily("upstream", at, upstream)
    return at


@dataclass
class _Stops:
    """The running parts, stopped in reverse order."""

    stops: list[Callable[[], None]] = field(default_factory=list)

    def add(self, stop: Callable[[], None]) -> None:
        self.stops.append(stop)

    def run(self) -> None:
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception:
                log.exception("while stopping")
        self.stops.clear()


class Service:
    """``serve``: build with a wiring and an opened store, :meth:`start`, then :meth:`stop`."""

    def __init__(self, w: Wiring, store: Store, *, demo: bool, stream: TextIO) -> None:
        self.w = w
        self.store = store
        self.demo = demo
        """The configured fleet is the bundled demo fleet: nothing is ever posted."""
        self.stream = stream
        self.messages: Messaging = w.messaging(stream, demo=demo)
        self.scheduler = Scheduler(
            timezone=w.settings.schedule.timezone, misfire_grace=w.settings.schedule.misfire_grace
        )
        self._stops = _Stops()
        self.upstream_at: str | None = None
        self.listening = ""

    # -- the jobs -------------------------------------------------------------------------------

    def scan_job(self) -> None:
        """One scheduled scan of the configured fleet (the same use case as ``scan``)."""
        started = time.monotonic()
        w = self.w
        fleet = w.fleet()
        result = scan(
            fleet.targets,
            w.engine,
            w.tracker(self.store, self.messages),
            catalog_version=w.catalog.version,
            source=fleet.source,
            clock=w.now,
            retire=True,
            concurrency=w.settings.fleet.concurrency,
            timeout=w.settings.fleet.cluster_timeout,
        )
        metrics.SCAN_SECONDS.observe(time.monotonic() - started)
        report = result.report
        log.info(
            "scan: %d of %d clusters read, %d changes, %d messages pending, %d errors",
            result.readable,
            len(result.scans),
            result.changed,
            report.delivery.pending,
            len(report.delivery.errors),
        )

    def digest_job(self) -> None:
        """The daily digest (the same use case as ``digest``)."""
        digests, report = self.w.digest(self.store, self.messages)
        log.info("digest: %d sent, %d errors", len(digests), len(report.errors))

    def upstream_job(self) -> SyncReport:
        """The daily upstream sync; its news is kept for the digest and posted right away to
        the channels it concerns (the same as ``upstream sync``)."""
        report = self.w.sync_upstream(self.store).report
        if report.news:
            self.w.announce_news(self.store, self.messages, report.news)
        return report

    # -- starting and stopping ------------------------------------------------------------------

    def start(self) -> None:
        """Leader election, the jobs, the HTTP port and the Slack app; raises
        :class:`StartError` (after stopping what had started)."""
        try:
            self._start()
        except StartError:
            self.stop()
            raise
        except (OSError, NotifyError) as exc:
            self.stop()
            raise StartError(str(exc)) from None

    def _start(self) -> None:
        w = self.w
        collector = metrics.StoreCollector(lambda: store_figures(self.store))
        metrics.REGISTRY.register(collector)
        self._stops.add(lambda: metrics.REGISTRY.unregister(collector))
        # A new leader scans at once rather than at its next interval.
        leadership = self._leadership(on_lead=lambda: self.scheduler.run_now("scan"))
        locks = job_locks_for(self.store.engine)

        def guarded(name: str, work: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                try:
                    outcome = run_as_leader(name, work, leadership, locks)
                except Exception:
                    metrics.JOB_RUNS.labels(job=name, outcome="failed").inc()
                    raise
                metrics.JOB_RUNS.labels(job=name, outcome=str(outcome)).inc()

            return run

        # The demo fleet's clusters are never told anything, upstream news included.
        sync = None if self.demo else guarded("upstream", self.upstream_job)
        self.upstream_at = schedule_jobs(
            self.scheduler,
            w.settings,
            scan=guarded("scan", self.scan_job),
            digest=guarded("digest", self.digest_job),
            upstream=sync,
        )
        self.listening = self._http()
        self.scheduler.start()
        self._stops.add(lambda: self.scheduler.shutdown(wait=True))

    def _leadership(self, on_lead: Callable[[], None]) -> SingleProcess | LeaseElector:
        """Leader election when on (or ``auto`` in a pod), else this process always leads."""
        settings = self.w.settings
        env = settings.environment
        wanted = settings.schedule.leader_election == "on" or (
            settings.schedule.leader_election == "auto" and env.in_cluster
        )
        if not wanted:
            metrics.LEADER.set(1)
            return SingleProcess()
        if not env.pod_name or not env.pod_namespace:
            raise StartError(
                "leader election needs the pod's name ($HOSTNAME) and namespace (the service "
                "account's); set leader-election: off outside Kubernetes",
                usage=True,
            )
        election = ElectionSettings(namespace=env.pod_namespace, identity=env.pod_name)

        def changed(leading: bool) -> None:
            metrics.LEADER.set(int(leading))
            if leading:
                on_lead()

        api = api_client()
        self._stops.add(api.close)
        elector = LeaseElector(api, election, on_change=changed)
        elector.start()
        self._stops.add(elector.stop)  # before the client closes: it releases the Lease
        return elector

    def bot_context(self) -> BotContext:
        """What the Slack listeners need: the catalog, the last scan (decoded once per scan),
        the store for mutes, who may mute, the digest and upstream's fixes."""
        w, store = self.w, self.store
        clusters: Callable[[], Mapping[str, ClusterData]] = LastScan(store)

        def upstream() -> Mapping[str, Sequence[UpstreamFix]]:
            return w.planner_upstream(store)

        def digest() -> str:
            return digest_text(store.run(lambda tx: collect(tx, None, w.now())))

        return BotContext(
            catalog=w.catalog,
            engine=w.engine,
            clusters=clusters,
            upstream=upstream,
            store=store,
            digest=digest,
            mute_users=frozenset(w.settings.slack.mute_users),
            mute_channels=frozenset(w.settings.slack.mute_channels),
            configured=tuple(c.name for c in w.settings.fleet.clusters),
            now=w.now,
        )

    def _http(self) -> str:
        """The Slack app (HTTP endpoint or Socket Mode) behind /healthz, /readyz and /metrics on
        one port; says how it listens."""
        settings = self.w.settings
        checks: dict[str, Callable[[], str]] = {
            "store": store_check(self.store),
            "catalog": catalog_check(lambda: self.w.catalog),
        }
        how = "no Slack app (no SLACK_BOT_TOKEN)"
        slack = None
        token = settings.slack.bot_token
        if token is not None:
            secret = settings.slack.signing_secret
            app = create_app(
                token=token.reveal(),
                signing_secret=secret.reveal() if secret else None,
                api_url=settings.slack.api_url,
                token_verification=False,
            )
            register_listeners(app, self.bot_context())
            how = "Slack app on /slack/events"
            if settings.slack.app_token is not None:
                connection: SocketMode = socket_mode(app, settings.slack.app_token.reveal())
                self._stops.add(connection.close)
                connection.connect()
                checks["slack"] = slack_connection_check(connection.is_connected)
                how = "Slack app in Socket Mode"
            else:
                slack = wsgi_app(app)
                if secret is None:
                    how += " (no SLACK_SIGNING_SECRET: requests are not verified)"
        application = operations(slack, Readiness(checks))
        server = HttpServer(application, host="0.0.0.0", port=settings.http.port).start()
        self._stops.add(server.stop)
        return f"{how}; /healthz, /readyz, /metrics on port {server.port}"

    def stop(self) -> None:
        """Stop everything that started, in reverse order."""
        self._stops.run()

    def run_until_signal(self, err: TextIO) -> None:
        """Serve until SIGTERM or SIGINT (or :meth:`stop` from another thread), then stop."""
        stop = threading.Event()
        # The handlers before the "serving" line: whoever waits for it may stop us right away.
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                previous[number] = signal.signal(number, lambda *_: stop.set())
        schedule = self.w.settings.schedule
        print(
            f"{PROG}: serving: {self.listening}; scan every {schedule.scan_interval:g} s, digest "
            f"daily at {schedule.digest_time} {schedule.timezone}"
            + (f", upstream sync daily at {self.upstream_at}" if self.upstream_at else ""),
            file=err,
            flush=True,
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            print(f"{PROG}: stopping", file=err, flush=True)
            self.stop()
            for number, handler in previous.items():
                signal.signal(number, handler)
        print(f"{PROG}: stopped", file=err, flush=True)
