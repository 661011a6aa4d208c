"""What the settings are: :class:`Settings`, grouped by concern, and the values it holds.

One frozen dataclass per concern, as an operator framework groups its settings
(``settings.fleet.concurrency``, ``settings.slack.channel``, ``settings.schedule.digest_time``):

========== ==================================================================================
group      settings
========== ==================================================================================
fleet      ``clusters``, ``concurrency``, ``cluster-timeout``
store      ``database``
slack      ``slack-bot-token``, ``slack-signing-secret``, ``slack-app-token``, ``slack-channel``,
           ``slack-routes``, ``slack-api-url``, ``slack-mute-users``, ``slack-mute-channels``
github     ``github-api-url``, ``github-token``, ``github-budget``
schedule   ``scan-interval``, ``digest-time``, ``timezone``, ``misfire-grace``,
           ``leader-election``
http       ``port``
logging    ``log-format``, ``log-level``
========== ==================================================================================

``mutes`` stays at the top, next to where the settings came from (``config_file``,
``environment``, ``origins``). Which configuration key fills which attribute is declared once,
in :data:`bot.settings.table.SETTINGS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from jobs.mutes import ConfigMute
from jobs.notify import Route

__all__ = [
    "GROUPS",
    "SERVICE_ACCOUNT_DIR",
    "ClusterSettings",
    "Environment",
    "FleetSettings",
    "GitHubSettings",
    "HttpSettings",
    "LoggingSettings",
    "ScheduleSettings",
    "Secret",
    "Settings",
    "SlackSettings",
    "StoreSettings",
]


SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
"""Where Kubernetes mounts a pod's service account: ``token``, ``ca.crt``, ``namespace``."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that must never be printed or logged (tokens, passwords, URLs with passwords)."""

    value: str = field(repr=False)

    def reveal(self) -> str:
        """The secret itself, for the one place that hands it to a client."""
        return self.value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """One entry of the ``clusters:`` section: where to read a cluster, and what to add."""

    name: str
    """Display name; unique in the fleet."""
    kubeconfig: Path | None = None
    """Kubeconfig file (None with ``context``: the default kubeconfig)."""
    context: str | None = None
    """Context in the kubeconfig (None: its current context)."""
    in_cluster: bool = False
    """Read the cluster netadvisor runs in, with its pod's service account."""
    dump: Path | None = None
    """A dump bundle or ``kubectl get -o json`` List, for clusters netadvisor cannot reach."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Free labels (``env: prod``, ``team: payments``) shown with the cluster."""
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Canonical fact key -> value text, for facts the API cannot show; they win over reads."""
    features: Mapping[str, bool] = field(default_factory=dict)
    """Feature name -> on/off, stated by the operator; they win over reads."""


@dataclass(frozen=True, slots=True)
class Environment:
    """What the process environment says about where clusters are (read once, at loading)."""

    kubeconfig: str | None = None
    """``$KUBECONFIG`` (may list several files separated by ``:``)."""
    home_kubeconfig: Path | None = None
    """``~/.kube/config``."""
    in_cluster: bool = False
    """True in a pod: ``KUBERNETES_SERVICE_HOST`` is set and the service account token exists."""
    state_home: Path | None = None
    """``$XDG_STATE_HOME`` or ``~/.local/state``: netadvisor keeps its state under it."""
    pod_name: str | None = None
    """In a pod: its name (``$HOSTNAME``), this replica's identity in leader election."""
    pod_namespace: str | None = None
    """In a pod: its namespace (from the service account), where the election's Lease is."""
    no_color: bool = False
    """``$NO_COLOR`` is set (https://no-color.org): never colour the terminal's text."""
    service_account: Path = SERVICE_ACCOUNT_DIR
    """The directory of the pod's service account, which the in-cluster reader reads."""

    def default_kubeconfig(self) -> str | None:
        """``$KUBECONFIG`` if set, else ``~/.kube/config`` if it exists, else None."""
        if self.kubeconfig:
            return self.kubeconfig
        if self.home_kubeconfig is not None and self.home_kubeconfig.is_file():
            return str(self.home_kubeconfig)
        return None


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """Which clusters are read, and how many at once."""

    clusters: tuple[ClusterSettings, ...] = ()
    """The fleet (``clusters:``)."""
    concurrency: int = 16
    """How many clusters are read at the same time."""
    cluster_timeout: float = 30.0
    """Seconds one cluster may take, all requests and credential plugins included."""


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the state is kept."""

    database: Secret | None = None
    """SQLAlchemy URL of the state database (None: SQLite under the state directory)."""


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Posting to Slack and answering it."""

    bot_token: Secret | None = None
    """``SLACK_BOT_TOKEN``: posting and the bot (None: everything is printed instead)."""
    signing_secret: Secret | None = None
    """``SLACK_SIGNING_SECRET``: verifies requests to ``/slack/events``."""
    app_token: Secret | None = None
    """``SLACK_APP_TOKEN``: Socket Mode instead of the HTTP endpoint."""
    channel: str | None = None
    """The default channel (ID, or ``#name``) of new matches and the digest."""
    routes: tuple[Route, ...] = ()
    """Channels chosen by cluster labels, first match wins."""
    api_url: str = "https://slack.com/api/"
    """Slack Web API base URL, passed unchanged to the WebClient."""
    mute_users: tuple[str, ...] = ()
    """Slack user IDs allowed to ``/netadvisor mute`` and ``unmute``."""
    mute_channels: tuple[str, ...] = ()
    """Slack channel IDs in which anyone may ``/netadvisor mute`` and ``unmute``."""


@dataclass(frozen=True, slots=True)
class GitHubSettings:
    """Upstream tracking's access to GitHub."""

    api_url: str = "https://api.github.com"
    """GitHub REST API base URL (GitHub Enterprise: ``https://HOST/api/v3``)."""
    token: Secret | None = None
    """GitHub token for upstream tracking (optional; raises the rate limit)."""
    budget: int = 60
    """Requests one upstream sync may send when there is no token."""


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """When ``serve`` runs its jobs, and on which replica."""

    scan_interval: float = 3600.0
    """Seconds between scheduled scans."""
    digest_time: str = "09:00"
    """When the daily digest is sent, in :attr:`timezone`."""
    timezone: str = "UTC"
    """IANA time zone of :attr:`digest_time`."""
    misfire_grace: float = 300.0
    """Seconds a scheduled job may start late (after a pause) and still run, once."""
    leader_election: str = "auto"
    """``auto`` (on in a Kubernetes pod), ``on`` or ``off``: scheduled jobs on one replica."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``serve``'s HTTP endpoint."""

    port: int = 3000
    """HTTP port of ``serve``: ``/slack/events`` and ``/healthz``."""


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """What log lines look like and which are written."""

    format: str = "text"
    """``text`` or ``json`` (one object per line, with ``cluster`` and ``advisory``)."""
    level: str | None = None
    """``debug``, ``info``, ``warning`` or ``error`` (None: ``info`` for ``serve``, ``warning``
    for the one-shot commands)."""


GROUPS: dict[str, type[Any]] = {
    "fleet": FleetSettings,
    "store": StoreSettings,
    "slack": SlackSettings,
    "github": GitHubSettings,
    "schedule": ScheduleSettings,
    "http": HttpSettings,
    "logging": LoggingSettings,
}
"""Attribute of :class:`Settings` -> the dataclass of that group."""


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings of one run, grouped by concern. Frozen: change it with
    :meth:`with_overrides`."""

    config_file: Path | None = None
    """The configuration file that was read, or None when there was none."""
    fleet: FleetSettings = field(default_factory=FleetSettings)
    """The clusters and how they are read."""
    store: StoreSettings = field(default_factory=StoreSettings)
    """The state database."""
    slack: SlackSettings = field(default_factory=SlackSettings)
    """Slack: tokens, channels, who may mute."""
    github: GitHubSettings = field(default_factory=GitHubSettings)
    """GitHub, for upstream tracking."""
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    """``serve``'s schedule and leader election."""
    http: HttpSettings = field(default_factory=HttpSettings)
    """``serve``'s HTTP endpoint."""
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    """Log format and level."""
    mutes: tuple[ConfigMute, ...] = ()
    """Mutes reviewed in Git (``mutes:``), applied to the state store by every scan, digest and
    ``serve`` start."""
    environment: Environment = field(default_factory=Environment, compare=False)
    """Where the environment says clusters are (kubeconfig, in-cluster)."""
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Attribute path (``fleet.clusters``, ``mutes``) -> where its value came from (the file or
    the variable), for messages about a value that only a later check finds wrong; defaults
    are absent."""

    def secret_values(self) -> tuple[str, ...]:
        """The values of the secret settings (tokens, the database URL), for the log
        formatter to mask wherever they appear."""
        return tuple(value.reveal() for value in self._values() if isinstance(value, Secret))

    def _values(self) -> Iterator[Any]:
        for name in GROUPS:
            group = getattr(self, name)
            yield from (getattr(group, f.name) for f in dataclasses.fields(group))

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with settings replaced (command-line flags), named by group.

        A group takes a mapping of its attributes (``fleet={"concurrency": 4}``,
        ``logging={"level": "debug"}``); a top-level attribute (``mutes``, ``config_file``)
        takes its value. None values are skipped: a flag that was not given changes nothing.
        An unknown group or attribute raises TypeError, as a wrong keyword does.
        """
        top: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None:
                continue
            if name in GROUPS:
                if not isinstance(value, Mapping):
                    raise TypeError(f"{name}= takes a mapping of its settings, got {value!r}")
                given = {k: v for k, v in value.items() if v is not None}
                top[name] = replace(getattr(self, name), **given)
            else:
                top[name] = value
        return replace(self, **top)
