"""The composition root: the one module that builds netadvisor's concrete parts.

Commands and ``serve`` receive what they need from a :class:`Wiring`; nothing else constructs a
store, a notifier, a catalog, a fleet or a GitHub client. Everything built here is built once
per :class:`Wiring` (``serve`` keeps one for the life of the process, so it holds one database
engine) and closed by :meth:`Wiring.close`.

Where the state is (:meth:`Wiring.database`), first that applies:

1. ``--state URL``, for one run;
2. a configured database (``NETADVISOR_DATABASE_URL`` or ``database:`` in the configuration
   file) is used by every command, except by a scan of the bundled demo fleet, which keeps its
   own ``demo.db`` so that example clusters never mix with yours;
3. with no database configured, a file under ``$XDG_STATE_HOME/netadvisor``
   (``~/.local/state/netadvisor``): scans of your clusters (``--kubeconfig``, ``--context``,
   ``--dump``, ``clusters:``, in-cluster, a kubeconfig) write ``state.db``, scans of the demo
   fleet write ``demo.db``; the commands that read state (``digest``, ``ask``, ``plan``,
   ``mute``, ``unmute``, ``mutes``, ``upstream``) read ``state.db`` when it exists, else
   ``demo.db`` when only the demo fleet was scanned; before any scan, the file of the fleet a
   plain ``scan`` would read (``demo.db`` when nothing is configured).

So after ``netadvisor scan --kubeconfig K`` every other command sees those clusters without
extra flags, and demo data never reaches Slack nor answers about real clusters.

Where messages go (:func:`messaging`): Slack when a bot token and a channel (or label routes)
are configured, else the terminal; demo data is always printed, never posted.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Final, TextIO

from advisories.catalog import Catalog, load_catalog
from advisories.engine import Engine
from advisories.fleet import ClusterFacts
from advisories.models import Advisory
from advisories.planning import UpstreamFix
from bot.report.model import FleetReport, read_scan
from bot.settings import (
    ClusterSettings,
    Environment,
    Settings,
    SettingsError,
)
from bot.slack.digest_image import attach_digest_images
from bot.slack.doctor import check_slack
from bot.slack.notifier import SlackNotifier, make_client
from bot.terminal import json as documents
from bot.terminal.notifier import TerminalNotifier
from bot.terminal.style import Painter
from jobs.checks import CheckResult, CheckStatus
from jobs.inventory.access import check_access
from jobs.inventory.dumps import DumpReader, demo_bundles
from jobs.inventory.kube import KubeReader, in_cluster_reader, kubeconfig_reader, list_contexts
from jobs.inventory.mapping import Overrides
from jobs.inventory.port import ClusterReader, InventoryError
from jobs.inventory.run import ClusterTarget, FleetError, check_names
from jobs.news import NewsReport, announce
from jobs.notices import Digest, UpstreamNote
from jobs.notify import Notifier, Routing
from jobs.outbox import DeliveryReport
from jobs.scan import match_fleet, scan
from jobs.store import ClusterState, ConfigMuteSync, Store, Tx, UpstreamStore
from jobs.store.probe import check_database
from jobs.tracker import Tracker
from jobs.upstream.compare import planner_fixes
from jobs.upstream.github import GitHubSource, RequestStats, build_client
from jobs.upstream.github import check_access as check_github
from jobs.upstream.models import News, RefKey
from jobs.upstream.sync import SyncReport, sync

__all__ = [
    "DEMO_FILE",
    "STATE_FILE",
    "Fleet",
    "FleetFlags",
    "Messaging",
    "SetupError",
    "StateDatabase",
    "UpstreamRun",
    "Wiring",
    "apply_config_mutes",
    "fleet_from",
    "messaging",
    "state_database",
    "uses_demo_fleet",
]

log = logging.getLogger(__name__)

PROG: Final = "netadvisor"
STATE_FILE: Final = "state.db"
DEMO_FILE: Final = "demo.db"


def utc_now() -> datetime:
    """The one clock of the program (pure code takes ``now`` as an argument)."""
    return datetime.now(UTC)


class SetupError(Exception):
    """The setup cannot be used as given (a context that does not exist, no state directory);
    the message names the place. Commands exit 2 on it."""


# ---------------------------------------------------------------------------------------------
# Where the state is


@dataclass(frozen=True, slots=True)
class StateDatabase:
    """The state database a command uses, and why."""

    url: str = field(repr=False)
    """SQLAlchemy URL; it may carry a password (never print it: see :attr:`Store.display_url`)."""
    origin: str
    """Why this one: ``--state``, ``database setting``, ``demo fleet`` or ``default``."""
    demo: bool = False
    """The bundled demo fleet's own file."""

    @property
    def path(self) -> Path | None:
        """The file of a SQLite database, else None."""
        prefix = "sqlite:///"
        return Path(self.url[len(prefix) :]) if self.url.startswith(prefix) else None

    def exists(self) -> bool:
        """False only for a SQLite file not created yet (a server database may be empty)."""
        path = self.path
        return path is None or path.exists()

    def open(self) -> Store:
        """Open (create or upgrade) it; raises :class:`jobs.store.StoreError`."""
        return Store.open(self.url)


def uses_demo_fleet(settings: Settings) -> bool:
    """The configured fleet is the bundled demo fleet: no ``clusters:``, not in a pod, and no
    kubeconfig (what ``scan`` reads when it is given no fleet flags)."""
    env = settings.environment
    return not settings.fleet.clusters and not env.in_cluster and env.default_kubeconfig() is None


def state_database(
    settings: Settings, flag: str | None = None, *, fleet_demo: bool | None = None
) -> StateDatabase:
    """The state database (see the module's docstring for the rule).

    ``flag`` is ``--state``. ``fleet_demo`` is whether the command *scans* the demo fleet
    (``scan``, ``serve``), None for the commands that only read state. Raises
    :class:`SetupError` when a SQLite file is needed and there is no state directory.
    """
    if flag:
        return StateDatabase(flag, "--state")
    if settings.store.database is not None and not fleet_demo:
        return StateDatabase(settings.store.database.reveal(), "database setting")
    home = settings.environment.state_home
    if home is None:
        raise SetupError(
            "state database: no state directory: set XDG_STATE_HOME or HOME, or "
            "NETADVISOR_DATABASE_URL"
        )
    real = StateDatabase(f"sqlite:///{home / PROG / STATE_FILE}", "default")
    demo = StateDatabase(f"sqlite:///{home / PROG / DEMO_FILE}", "demo fleet", demo=True)
    if fleet_demo is None:
        # A reader: your clusters' state when there is some, else the demo fleet's; before
        # anything was scanned, that of the fleet a plain ``scan`` would read.
        if real.exists():
            return real
        return demo if demo.exists() or uses_demo_fleet(settings) else real
    return demo if fleet_demo else real


def apply_config_mutes(
    store: Store, settings: Settings, catalog: Catalog, now: datetime
) -> ConfigMuteSync:
    """Make the store's configuration mutes what ``mutes:`` says (added, kept, lifted).

    Advisory ids are checked against ``catalog`` here (the settings do not know it); an
    unknown one raises :class:`SettingsError` naming the file and the entry.
    """
    where = settings.origins.get("mutes", "mutes")
    entries = []
    for mute in settings.mutes:
        if mute.advisory_id is not None:
            found = catalog.get(mute.advisory_id)
            if found is None:
                raise SettingsError(
                    where,
                    f"{mute.field}.advisory",
                    f"unknown advisory {mute.advisory_id!r} (see netadvisor catalog list)",
                )
            mute = replace(mute, advisory_id=found.id)
        entries.append(mute)
    result: ConfigMuteSync = store.run(lambda tx: tx.sync_config_mutes(entries, now))
    return result


# ---------------------------------------------------------------------------------------------
# Where clusters come from


@dataclass(frozen=True, slots=True)
class FleetFlags:
    """The fleet named on the command line (``--kubeconfig``, ``--context``, ``--dump``)."""

    kubeconfig: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    dump: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.kubeconfig or self.context or self.dump)


@dataclass(frozen=True, slots=True)
class Fleet:
    """The clusters to read and, for people, where they come from."""

    targets: tuple[ClusterTarget, ...]
    source: str
    demo: bool = False
    partial: bool = False
    """Named on the command line: a scan of it retires no configured cluster."""


def _contexts(path: str, wanted: Sequence[str]) -> list[str]:
    try:
        names, _current = list_contexts(path)
    except InventoryError as exc:
        raise SetupError(exc.reason) from None
    if not wanted:
        if not names:
            raise SetupError(f"kubeconfig {path} has no contexts")
        return names
    return [c for c in wanted if c in names]


def fleet_from(settings: Settings, flags: FleetFlags = FleetFlags()) -> Fleet:
    """The clusters to read, from the first source that applies: the flags, ``clusters:``, the
    in-cluster service account, ``$KUBECONFIG`` or ``~/.kube/config`` (every context), else the
    bundled demo fleet. Raises :class:`SetupError`."""
    env = settings.environment
    if flags:
        return _fleet_from_flags(flags, env)
    if settings.fleet.clusters:
        targets = tuple(_config_target(c, env, settings) for c in settings.fleet.clusters)
        where = (
            f"the configuration file {settings.config_file}"
            if settings.config_file
            else "NETADVISOR_CLUSTERS"
        )
        return Fleet(targets, where)
    if env.in_cluster:
        return Fleet(
            (ClusterTarget("in-cluster", in_cluster_reader(env.service_account)),),
            "the in-cluster service account",
        )
    default = env.default_kubeconfig()
    if default is not None:
        targets = tuple(
            ClusterTarget(name, kubeconfig_reader(default, name)) for name in _contexts(default, ())
        )
        return Fleet(targets, f"kubeconfig {default} (every context)")
    demo = tuple(ClusterTarget(path.stem, DumpReader(path), demo=True) for path in demo_bundles())
    return Fleet(
        demo,
        "the bundled DEMO fleet (no --kubeconfig, configuration, in-cluster account or "
        "kubeconfig found): example clusters, not yours",
        demo=True,
    )


def _fleet_from_flags(flags: FleetFlags, env: Environment) -> Fleet:
    targets: list[ClusterTarget] = []
    kubeconfigs = list(flags.kubeconfig)
    if flags.context and not kubeconfigs:
        default = env.default_kubeconfig()
        if default is None:
            raise SetupError(
                "argument --context: no --kubeconfig given and neither $KUBECONFIG "
                "nor ~/.kube/config exists"
            )
        kubeconfigs = [default]
    found_contexts: set[str] = set()
    for path in kubeconfigs:
        for name in _contexts(path, flags.context):
            found_contexts.add(name)
            targets.append(ClusterTarget(name, kubeconfig_reader(path, name)))
    missing = [c for c in flags.context if c not in found_contexts]
    if missing:
        raise SetupError(
            f"argument --context: no context {missing[0]!r} in {', '.join(kubeconfigs)}"
        )
    for path in flags.dump:
        targets.append(ClusterTarget(Path(path).stem, DumpReader(path)))
    parts = []
    if kubeconfigs:
        parts.append(f"kubeconfig {', '.join(kubeconfigs)}")
    if flags.dump:
        parts.append(f"{len(flags.dump)} dump file{'s' if len(flags.dump) > 1 else ''}")
    return Fleet(tuple(targets), "the command line: " + " and ".join(parts), partial=True)


def _config_target(cluster: ClusterSettings, env: Environment, settings: Settings) -> ClusterTarget:
    where = f"{settings.config_file or 'NETADVISOR_CLUSTERS'}: cluster {cluster.name!r}"
    reader: ClusterReader
    if cluster.dump is not None:
        reader = DumpReader(cluster.dump)
    elif cluster.in_cluster:
        reader = in_cluster_reader(env.service_account)
    else:
        path = str(cluster.kubeconfig) if cluster.kubeconfig else env.default_kubeconfig()
        if path is None:
            raise SetupError(
                f"{where}: no kubeconfig given and neither $KUBECONFIG nor ~/.kube/config exists"
            )
        reader = kubeconfig_reader(path, cluster.context)
    overrides = Overrides(facts=dict(cluster.overrides), features=dict(cluster.features))
    return ClusterTarget(cluster.name, reader, labels=dict(cluster.labels), overrides=overrides)


# ---------------------------------------------------------------------------------------------
# Where messages go


@dataclass(frozen=True)
class Messaging:
    """Where messages go, and why, for people."""

    notifier: Notifier
    """The Slack notifier, or the terminal when nothing is posted."""
    terminal: TerminalNotifier
    """What must be printed rather than posted (demo data, dry runs)."""
    routing: Routing
    target: str
    """``Slack (#net)`` / ``the terminal (...)``: said at start."""
    warning: str | None = None


def messaging(settings: Settings, stream: TextIO, *, demo: bool = False) -> Messaging:
    """Slack when a token and a channel (or routes) are configured, else the terminal."""
    channels = Routing(settings.slack.channel, tuple(settings.slack.routes))
    token = settings.slack.bot_token
    if demo:
        printed = TerminalNotifier(stream, label="DEMO DATA: printed here, never posted to Slack")
        return Messaging(printed, printed, Routing(), "the terminal (demo data is never posted)")
    terminal = TerminalNotifier(stream)
    if token is None:
        return Messaging(terminal, terminal, Routing(), "the terminal (no SLACK_BOT_TOKEN)")
    if not channels.channels:
        warning = (
            f"{PROG}: warning: SLACK_BOT_TOKEN is set but no channel is "
            "(NETADVISOR_SLACK_CHANNEL or slack-routes): printing instead of posting"
        )
        return Messaging(terminal, terminal, Routing(), "the terminal (no Slack channel)", warning)
    client = make_client(token.reveal(), base_url=settings.slack.api_url)
    where = ", ".join(channels.channels)
    return Messaging(SlackNotifier(client), terminal, channels, f"Slack ({where})")


# ---------------------------------------------------------------------------------------------
# Upstream tracking


@dataclass(frozen=True, slots=True)
class UpstreamRun:
    """A sync's report and what it cost."""

    report: SyncReport
    requests: RequestStats
    api_url: str
    authenticated: bool


def planner_upstream(
    store: Store | None, advisories: Iterable[Advisory]
) -> Mapping[str, Sequence[UpstreamFix]]:
    """Upstream's first fixed tags per advisory from the last sync (empty when it never synced
    or the tables cannot be read: the targets then come from the catalog alone)."""
    if store is None:
        return {}
    try:
        states = UpstreamStore(store.engine).states()
    except Exception as exc:  # safe targets go on from the catalog alone
        log.warning("plan: upstream tracking's state unavailable: %s", type(exc).__name__)
        return {}
    return planner_fixes(advisories, states)


def digest_news(store: Store) -> Callable[[datetime], list[UpstreamNote]]:
    """Upstream tracking's news since a time, for the digest (none when it never synced)."""

    def read(since: datetime) -> list[UpstreamNote]:
        try:
            items = UpstreamStore(store.engine).news_since(since)
        except Exception as exc:  # the digest goes out without them
            log.warning("digest: upstream news unavailable: %s", type(exc).__name__)
            return []
        return [UpstreamNote(tuple(n.advisories), n.text, n.at) for n in items]

    return read


# ---------------------------------------------------------------------------------------------
# The wiring


class Wiring:
    """Everything a command or ``serve`` needs, built on first use and at most once.

    ``catalog_dirs`` are ``--catalog-dir``; ``state`` is ``--state``; ``stream`` is where
    printed messages and notes go (standard error for commands; the log for ``serve``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        catalog_dirs: Sequence[str | Path] = (),
        state: str | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.catalog_dirs = tuple(catalog_dirs)
        self.state = state
        self.stream = stream if stream is not None else sys.stderr
        self.now = clock
        self._stores: dict[str, Store] = {}

    # -- the core -------------------------------------------------------------------------------

    @cached_property
    def catalog(self) -> Catalog:
        """The built-in catalog plus ``--catalog-dir``; raises :class:`CatalogError`."""
        return load_catalog(self.catalog_dirs)

    @cached_property
    def engine(self) -> Engine:
        """The exact engine over :attr:`catalog`."""
        return Engine(self.catalog.advisories)

    # -- state ----------------------------------------------------------------------------------

    def database(self, *, fleet_demo: bool | None = None) -> StateDatabase:
        """Where the state is (see the module's docstring); raises :class:`SetupError`."""
        return state_database(self.settings, self.state, fleet_demo=fleet_demo)

    def store(self, database: StateDatabase) -> Store:
        """The store on ``database``, opened (created or upgraded) once per wiring; raises
        :class:`jobs.store.StoreError`."""
        opened = self._stores.get(database.url)
        if opened is None:
            opened = database.open()
            self._stores[database.url] = opened
        return opened

    def existing_store(self, database: StateDatabase) -> Store | None:
        """The store on ``database``, or None when its SQLite file does not exist yet."""
        return self.store(database) if database.exists() else None

    def apply_config_mutes(self, store: Store) -> ConfigMuteSync:
        """The configuration's ``mutes:`` into ``store``; raises :class:`SettingsError`."""
        return apply_config_mutes(store, self.settings, self.catalog, self.now())

    # -- fleets and messages --------------------------------------------------------------------

    def fleet(self, flags: FleetFlags = FleetFlags()) -> Fleet:
        """The clusters to read (:func:`fleet_from`)."""
        return fleet_from(self.settings, flags)

    def messaging(self, stream: TextIO | None = None, *, demo: bool = False) -> Messaging:
        """Where messages go (:func:`messaging`), printed ones on ``stream``."""
        return messaging(self.settings, stream or self.stream, demo=demo)

    def tracker(
        self, store: Store | None, messages: Messaging, *, dry_run: bool = False
    ) -> Tracker:
        """The only place a :class:`Tracker` is built."""
        return Tracker(
            store, messages.notifier, messages.terminal, messages.routing, dry_run=dry_run
        )

    def painter(self, out: TextIO) -> Painter:
        """Prints a command's text on ``out``: coloured on a terminal unless ``NO_COLOR``."""
        return Painter(out, no_color=self.settings.environment.no_color)

    # -- upstream -------------------------------------------------------------------------------

    def sync_upstream(
        self,
        store: Store,
        *,
        offline: bool = False,
        only: Collection[RefKey] | None = None,
        budget: int | None = None,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> UpstreamRun:
        """One upstream sync with the settings' GitHub API, token and budget."""
        settings = self.settings
        token = settings.github.token.reveal() if settings.github.token is not None else None
        if budget is None and token is None:
            budget = settings.github.budget
        stats = RequestStats()
        client = build_client(settings.github.api_url, token)
        upstream = UpstreamStore(store.engine)
        try:

            def make_source(fresh_since: datetime | None) -> GitHubSource:
                nonlocal stats
                source = GitHubSource(
                    client,
                    upstream,
                    fresh_since=fresh_since,
                    budget=budget,
                    max_wait=max_wait,
                    offline=offline,
                    sleep=sleep,
                    clock=self.now,
                )
                stats = source.stats
                return source

            report = sync(
                self.catalog.advisories,
                upstream,
                make_source,
                clock=self.now,
                only=only,
                offline=offline,
            )
        finally:
            client.close()
        return UpstreamRun(report, stats, settings.github.api_url, token is not None)

    def upstream_store(self, store: Store) -> UpstreamStore:
        """The upstream tables on the state database."""
        return UpstreamStore(store.engine)

    def planner_upstream(self, store: Store | None) -> Mapping[str, Sequence[UpstreamFix]]:
        """Stored upstream fixes for safe targets (:func:`planner_upstream`)."""
        return planner_upstream(store, self.catalog.advisories)

    def announce_news(self, store: Store, messages: Messaging, news: Sequence[News]) -> NewsReport:
        """Tell a sync's news right away to the channels of the clusters it concerns."""
        report = announce(self.tracker(store, messages), news, self.now(), clock=self.now)
        channels = sorted({channel for channel, _ in report.notices})
        log.info(
            "upstream news: %d item(s), %d message(s) to %s, %d error(s)",
            len(news),
            len(report.notices),
            ", ".join(channels) or "nobody (no open match concerns it)",
            len(report.delivery.errors),
        )
        for error in report.delivery.errors:
            log.warning("upstream news not delivered (kept, retried later): %s", error)
        return report

    # -- the digest -----------------------------------------------------------------------------

    def digest(
        self,
        store: Store,
        messages: Messaging,
        *,
        dry_run: bool = False,
        minimum: str | None = None,
    ) -> tuple[list[Digest], DeliveryReport]:
        """Every channel's digest now (:meth:`Tracker.send_digests`); when they went to Slack,
        the fleet exposure matrix as a PNG in each delivered digest's thread."""
        started = self.now()
        tracker = self.tracker(store, messages, dry_run=dry_run)
        digests, report = tracker.send_digests(
            started, clock=self.now, news=digest_news(store), minimum=minimum
        )
        if isinstance(messages.notifier, SlackNotifier) and not dry_run:
            attach_digest_images(
                store,
                messages.notifier.client,
                lambda: store.run(lambda tx: self.stored_report(tx)),
                messages.routing,
                started,
            )
        return digests, report

    def stored_report(self, tx: Tx) -> FleetReport:
        """The fleet exposure matrix of what the store knows now (no cluster is read)."""
        now = self.now()
        readable: list[ClusterFacts] = []
        unreadable: list[dict[str, Any]] = []
        last: datetime | None = None
        muted: list[tuple[str, str]] = []
        mutes = tx.mutes(active_at=now)
        for record in tx.clusters(ClusterState.ACTIVE):
            latest = tx.latest_facts(record.uid)
            if latest is None or record.unreadable_since is not None:
                unreadable.append(
                    {
                        "name": record.name,
                        "status": record.last_status or "error",
                        "error": record.last_error,
                        "labels": dict(record.labels),
                        "results": [],
                    }
                )
                continue
            at, facts = latest
            last = at if last is None or at > last else last
            readable.append(replace(facts, name=record.name, labels=dict(record.labels)))
            muted += [
                (record.name, a.id)
                for a in self.catalog.advisories
                if any(m.covers(record.uid, a.id, record.name) for m in mutes)
            ]
        data = documents.scans(match_fleet(readable, self.engine), self.catalog.version)
        data["clusters"] += unreadable
        return read_scan(data, last, muted=muted)

    def scan_document(self, flags: FleetFlags, err: TextIO) -> dict[str, Any] | int:
        """The ``scan --json`` document of a dry run (nothing stored, nothing posted), or an
        exit code when the fleet cannot be read at all."""
        fleet = self.fleet(flags)
        try:
            check_names(fleet.targets)
        except FleetError as exc:
            print(f"{PROG}: error: {exc}", file=err)
            return 2
        printed = self.messaging(err, demo=True)
        result = scan(
            fleet.targets,
            self.engine,
            self.tracker(None, printed, dry_run=True),
            catalog_version=self.catalog.version,
            source=fleet.source,
            clock=self.now,
            retire=False,
            concurrency=self.settings.fleet.concurrency,
            timeout=self.settings.fleet.cluster_timeout,
        )
        if not result.readable:
            print(f"{PROG}: no cluster could be read", file=err)
            return 1
        return documents.scan(
            result, self.catalog.version, "en", database=None, dry_run=True, messages=printed.target
        )

    # -- doctor ---------------------------------------------------------------------------------

    def check_clusters(self, flags: FleetFlags = FleetFlags()) -> list[CheckResult]:
        """``doctor``'s Kubernetes lines: each cluster reachable, authenticated, and every
        permission inventory needs granted (clusters checked side by side, told in order)."""
        fleet = self.fleet(flags)
        if fleet.demo:
            return [
                CheckResult(
                    "kubernetes",
                    "clusters",
                    CheckStatus.SKIP,
                    "none configured: scan reads the bundled demo fleet",
                    "run `netadvisor init` to write a configuration from your kubeconfig",
                )
            ]
        timeout = min(self.settings.fleet.cluster_timeout, 15.0)
        with ThreadPoolExecutor(max_workers=max(1, self.settings.fleet.concurrency)) as pool:
            futures = {
                target.name: pool.submit(
                    check_access, target.name, target.reader.connect, timeout=timeout
                )
                for target in fleet.targets
                if isinstance(target.reader, KubeReader)
            }
        out: list[CheckResult] = []
        for target in fleet.targets:
            if target.name in futures:
                out += futures[target.name].result()
            else:
                out.append(
                    CheckResult(
                        "kubernetes",
                        target.name,
                        CheckStatus.SKIP,
                        f"read from {target.origin}: nothing to connect to",
                    )
                )
        return out

    def check_slack(self, *, post_test: bool = False) -> list[CheckResult]:
        """``doctor``'s Slack lines (skipped without a bot token)."""
        slack = self.settings.slack
        if slack.bot_token is None:
            return [
                CheckResult(
                    "slack",
                    "token",
                    CheckStatus.SKIP,
                    "no SLACK_BOT_TOKEN: messages are printed, not posted",
                )
            ]
        channels = [slack.channel] if slack.channel else []
        channels += [route.channel for route in slack.routes]
        client = make_client(slack.bot_token.reveal(), slack.api_url, timeout=15)
        results = check_slack(client, channels, post_test=post_test, now=self.now())
        if not channels and not any(r.failed for r in results):
            results.append(
                CheckResult(
                    "slack",
                    "channels",
                    CheckStatus.WARN,
                    "none configured",
                    "set slack-channel (or slack-routes)",
                )
            )
        return results

    def check_github(self) -> list[CheckResult]:
        """``doctor``'s GitHub lines: the token, and the rate limit left."""
        github = self.settings.github
        token = github.token.reveal() if github.token else None
        with build_client(github.api_url, token, timeout=10) as client:
            return check_github(client, token_given=token is not None, now=self.now())

    def check_database(self, database: StateDatabase) -> CheckResult:
        """``doctor``'s database line: reachable, and its schema version (read only)."""
        return check_database(database.url)

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every store opened here."""
        for store in self._stores.values():
            store.close()
        self._stores.clear()

    def __enter__(self) -> Wiring:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
