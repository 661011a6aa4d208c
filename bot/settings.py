"""netadvisor's settings: one YAML configuration file plus ``NETADVISOR_<KEY>`` variables.

This is the only module that reads the process environment. Everything else receives a
:class:`Settings` value (or parts of it) built here.

Where a setting comes from, first that applies:

1. a command-line flag (applied by the caller with :meth:`Settings.with_overrides`);
2. the environment variable ``NETADVISOR_<KEY>`` (``NETADVISOR_CLUSTER_TIMEOUT``);
3. the configuration file: ``--config PATH``, else ``$NETADVISOR_CONFIG``, else
   ``$XDG_CONFIG_HOME/netadvisor/config.yaml`` (``~/.config/netadvisor/config.yaml``), which may
   be absent;
4. the default in :data:`SETTINGS`.

Every setting is declared once in :data:`SETTINGS` (key, variable, default, parser); the README's
settings table is generated from it, and later features add rows there. Values marked ``secret``
are wrapped in :class:`Secret`, whose ``repr`` and ``str`` never show the value.

Problems raise :class:`SettingsError`, which names the file (or variable) and the field.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from advisories.facts import FACTS, FEATURES, FactError, FactKind, canonical_key, parse_fact
from jobs.mutes import MAX_MUTE_DAYS, MAX_REASON, ConfigMute
from jobs.notify import Route

__all__ = [
    "SETTINGS",
    "ClusterSettings",
    "Environment",
    "Secret",
    "SettingSpec",
    "Settings",
    "SettingsError",
    "load_settings",
    "settings_table",
]

ENV_PREFIX: Final = "NETADVISOR_"
SERVICE_ACCOUNT_TOKEN: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
"""Where Kubernetes mounts a pod's service account token (in-cluster detection)."""
SERVICE_ACCOUNT_NAMESPACE: Final = SERVICE_ACCOUNT_TOKEN.with_name("namespace")
"""The pod's namespace, mounted next to the token."""


class SettingsError(Exception):
    """A setting is wrong; ``where`` is the file or variable, ``field`` the setting's path."""

    def __init__(self, where: str, field: str, message: str) -> None:
        self.where = where
        self.field = field
        self.message = message
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


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
    """What the process environment says about where clusters are (read once, here)."""

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

    def default_kubeconfig(self) -> str | None:
        """``$KUBECONFIG`` if set, else ``~/.kube/config`` if it exists, else None."""
        if self.kubeconfig:
            return self.kubeconfig
        if self.home_kubeconfig is not None and self.home_kubeconfig.is_file():
            return str(self.home_kubeconfig)
        return None


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings of one run. Frozen: change it with :meth:`with_overrides`."""

    config_file: Path | None = None
    """The configuration file that was read, or None when there was none."""
    clusters: tuple[ClusterSettings, ...] = ()
    """The fleet (``clusters:``)."""
    concurrency: int = 16
    """How many clusters are read at the same time."""
    cluster_timeout: float = 30.0
    """Seconds one cluster may take, all requests and credential plugins included."""
    database: Secret | None = None
    """SQLAlchemy URL of the state database (None: SQLite under the state directory)."""
    github_api_url: str = "https://api.github.com"
    """GitHub REST API base URL (GitHub Enterprise: ``https://HOST/api/v3``)."""
    github_token: Secret | None = None
    """GitHub token for upstream tracking (optional; raises the rate limit)."""
    github_budget: int = 60
    """Requests one upstream sync may send when there is no token."""
    slack_bot_token: Secret | None = None
    """``SLACK_BOT_TOKEN``: posting and the bot (None: everything is printed instead)."""
    slack_signing_secret: Secret | None = None
    """``SLACK_SIGNING_SECRET``: verifies requests to ``/slack/events``."""
    slack_app_token: Secret | None = None
    """``SLACK_APP_TOKEN``: Socket Mode instead of the HTTP endpoint."""
    slack_channel: str | None = None
    """The default channel (ID, or ``#name``) of new matches and the digest."""
    slack_routes: tuple[Route, ...] = ()
    """Channels chosen by cluster labels, first match wins."""
    slack_api_url: str = "https://slack.com/api/"
    """Slack Web API base URL, passed unchanged to the WebClient."""
    slack_mute_users: tuple[str, ...] = ()
    """Slack user IDs allowed to ``/netadvisor mute`` and ``unmute``."""
    slack_mute_channels: tuple[str, ...] = ()
    """Slack channel IDs in which anyone may ``/netadvisor mute`` and ``unmute``."""
    scan_interval: float = 3600.0
    """Seconds between scheduled scans (``serve``)."""
    digest_time: str = "09:00"
    """When the daily digest is sent (``serve``), in :attr:`timezone`."""
    timezone: str = "UTC"
    """IANA time zone of :attr:`digest_time`."""
    misfire_grace: float = 300.0
    """Seconds a scheduled job may start late (after a pause) and still run, once."""
    port: int = 3000
    """HTTP port of ``serve``: ``/slack/events`` and ``/healthz``."""
    log_format: str = "text"
    """``text`` or ``json`` (one object per line, with ``cluster`` and ``advisory``)."""
    log_level: str | None = None
    """``debug``, ``info``, ``warning`` or ``error`` (None: ``info`` for ``serve``, ``warning``
    for the one-shot commands)."""
    leader_election: str = "auto"
    """``auto`` (on in a Kubernetes pod), ``on`` or ``off``: scheduled jobs on one replica."""
    mutes: tuple[ConfigMute, ...] = ()
    """Mutes reviewed in Git (``mutes:``), applied to the state store by every scan, digest and
    ``serve`` start."""
    environment: Environment = field(default_factory=Environment, compare=False)
    """Where the environment says clusters are (kubeconfig, in-cluster)."""
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Attribute -> where its value came from (the file or the variable), for messages about
    a value that only a later check finds wrong; defaults are absent."""

    def secret_values(self) -> tuple[str, ...]:
        """The values of the secret settings (tokens, the database URL), for the log
        formatter to mask wherever they appear."""
        return tuple(
            value.reveal()
            for value in (getattr(self, f.name) for f in fields(self))
            if isinstance(value, Secret)
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given settings replaced (command-line flags); None values are skipped."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# ---------------------------------------------------------------------------------------------
# The settings table


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting: its key in the file, its variable, default, and how its value is read."""

    key: str
    """Key in the configuration file (and attribute of :class:`Settings`, ``-`` as ``_``)."""
    default: str
    """The default, as shown in the README."""
    description: str
    parse: Callable[[Any, str, Path | None], Any]
    """(value, field name, directory of the file or None) -> value; raises ValueError."""
    secret: bool = False
    env: str | None = None
    """The variable, when it is not ``NETADVISOR_<KEY>`` (``GITHUB_TOKEN``)."""

    @property
    def variable(self) -> str:
        """``NETADVISOR_<KEY>``, or :attr:`env`."""
        if self.env:
            return self.env
        return ENV_PREFIX + self.key.upper().replace("-", "_")

    @property
    def attribute(self) -> str:
        """The attribute of :class:`Settings` holding it."""
        return self.key.replace("-", "_")


def _positive_int(value: Any, name: str, base: Path | None) -> int:
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit():
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValueError(f"must be a whole number from 1 to 1000, got {value!r}")
    return value


def _seconds(value: Any, name: str, base: Path | None) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip().removesuffix("s"))
        except ValueError:
            raise ValueError(f"must be a number of seconds, got {value!r}") from None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _load_yaml(text: str) -> Any:
    """What the YAML ``text`` holds; a ValueError naming the problem where it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"is not valid YAML: {_yaml_problem(exc)}") from None


def _yaml_list(value: Any, of: str) -> list[Any]:
    """The list ``value`` is, or the YAML text of; empty for None; else "must be a list of <of>"."""
    if isinstance(value, str):
        value = _load_yaml(value)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"must be a list of {of}")
    return value


def _clusters(value: Any, name: str, base: Path | None) -> tuple[ClusterSettings, ...]:
    entries = _yaml_list(value, "clusters (each with a name)")
    out: list[ClusterSettings] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        cluster = _cluster(entry, f"{name}[{index}]", base)
        if cluster.name in seen:
            raise _FieldError(
                f"{name}[{index}].name",
                f"two clusters are named {cluster.name!r} (also {name}[{seen[cluster.name]}]); "
                "names must be unique",
            )
        seen[cluster.name] = index
        out.append(cluster)
    return tuple(out)


def _url(value: Any) -> str:
    """``value`` stripped of white space, once it is known to be an http(s):// URL."""
    if not isinstance(value, str) or not value.strip().startswith(("https://", "http://")):
        raise ValueError(f"must be an http(s):// URL, got {value!r}")
    return value.strip()


def _http_url(value: Any, name: str, base: Path | None) -> str:
    return _url(value).rstrip("/")


def _text(value: Any, name: str, base: Path | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _slack_url(value: Any, name: str, base: Path | None) -> str:
    # Passed unchanged to the WebClient: no trailing slash is added or removed.
    return _url(value)


def _routes(value: Any, name: str, base: Path | None) -> tuple[Route, ...]:
    entries = _yaml_list(value, "{labels: {...}, channel: ...}")
    routes = []
    for index, entry in enumerate(entries):
        where = f"{name}[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"labels", "channel"}:
            raise _FieldError(where, "must be a mapping with `labels` and `channel`")
        channel = entry.get("channel")
        if not isinstance(channel, str) or not channel.strip():
            raise _FieldError(f"{where}.channel", "required: a channel ID or #name")
        labels = _labels(entry.get("labels"), f"{where}.labels")
        if not labels:
            raise _FieldError(f"{where}.labels", "required: at least one label (env: prod)")
        routes.append(Route(labels, channel.strip()))
    return tuple(routes)


_MUTE_KEYS: Final = ("advisory", "cluster", "reason", "expires", "days")


def _mutes(value: Any, name: str, base: Path | None) -> tuple[ConfigMute, ...]:
    entries = _yaml_list(value, "mutes (each with advisory, cluster, reason, expires)")
    out: list[ConfigMute] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        mute = _mute(entry, f"{name}[{index}]")
        key = mute.key()
        if key in seen:
            raise _FieldError(mute.field, f"the same mute as {name}[{seen[key]}]")
        seen[key] = index
        out.append(mute)
    return tuple(out)


def _mute(entry: Any, where: str) -> ConfigMute:
    if not isinstance(entry, dict):
        raise _FieldError(where, "must be a mapping with advisory, cluster, reason and expires")
    for key in entry:
        if key not in _MUTE_KEYS:
            raise _FieldError(f"{where}.{key}", f"unknown key (valid: {', '.join(_MUTE_KEYS)})")
    scope: dict[str, str | None] = {}
    for key, meaning in (("advisory", "an advisory id, or all"), ("cluster", "a name, or all")):
        item = entry.get(key)
        if item is None:
            raise _FieldError(f"{where}.{key}", f"missing ({meaning})")
        if not isinstance(item, str) or not item.strip():
            raise _FieldError(f"{where}.{key}", f"must be {meaning}, got {item!r}")
        scope[key] = None if item.strip().lower() == "all" else item.strip()
    reason = entry.get("reason")
    if reason is None:
        raise _FieldError(f"{where}.reason", "missing (why it is muted, kept with the mute)")
    if not isinstance(reason, str) or not reason.strip():
        raise _FieldError(f"{where}.reason", "must be a non-empty text")
    if len(reason.strip()) > MAX_REASON:
        raise _FieldError(f"{where}.reason", f"longer than {MAX_REASON} characters")
    expires, days = entry.get("expires"), entry.get("days")
    if (expires is None) == (days is None):
        raise _FieldError(
            f"{where}.expires",
            "give exactly one of expires (a date or a date and time) or days"
            + (" (both given)" if expires is not None else " (missing)"),
        )
    return ConfigMute(
        advisory_id=scope["advisory"],
        cluster=scope["cluster"],
        reason=" ".join(reason.split()),
        expires_at=_expiry(expires, f"{where}.expires") if expires is not None else None,
        days=_mute_days(days, f"{where}.days") if days is not None else None,
        field=where,
    )


def _expiry(value: Any, where: str) -> datetime:
    """A date (the mute ends at its start, UTC) or a date and time (UTC unless it says)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise _FieldError(
                where, f"must be a date (2026-12-01) or a date and time, got {text!r}"
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise _FieldError(where, f"must be a date (2026-12-01) or a date and time, got {value!r}")


def _mute_days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MUTE_DAYS:
        raise _FieldError(where, f"must be a whole number of days from 1 to {MAX_MUTE_DAYS}")
    return value


def _slack_ids(value: Any, name: str, base: Path | None) -> tuple[str, ...]:
    items = value
    if isinstance(value, str):
        items = _load_yaml(value) if value.strip().startswith("[") else None
        if items is None:
            items = value.replace(",", " ").split()
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ValueError(
            "must be a list of Slack IDs (U0ADMIN, C0OPS), or them separated by commas"
        )
    return tuple(i.strip() for i in items)


def _time_of_day(value: Any, name: str, base: Path | None) -> str:
    text = str(value).strip()
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"must be a time of day as HH:MM, got {value!r}")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError(f"must be a time of day as HH:MM, got {value!r}")
    return f"{int(hours):02}:{minutes}"


def _timezone(value: Any, name: str, base: Path | None) -> str:
    text = str(value).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)"
        ) from None
    return text


def _choice(*choices: str) -> Callable[[Any, str, Path | None], str]:
    def parse(value: Any, name: str, base: Path | None) -> str:
        text = str(value).strip().lower()
        if isinstance(value, bool):  # YAML reads on/off as booleans
            text = "on" if value else "off"
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _port(value: Any, name: str, base: Path | None) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"must be a port number from 0 to 65535, got {value!r}")
    return int(text)


SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "clusters",
        "none",
        "The fleet: a list of clusters, each with `name` and one of `kubeconfig` (+ `context`), "
        "`context`, `in-cluster: true` or `dump`; optional `labels`, `overrides` (fact key: "
        "value) and `features` (name: true/false). As a variable: the same list in YAML.",
        _clusters,
    ),
    SettingSpec(
        "concurrency",
        "16",
        "How many clusters are read at the same time.",
        _positive_int,
    ),
    SettingSpec(
        "cluster-timeout",
        "30",
        "Seconds one cluster may take in all (requests and credential plugins); a cluster that "
        "takes longer is reported as `timeout`.",
        _seconds,
    ),
    SettingSpec(
        "database",
        "SQLite: `$XDG_STATE_HOME/netadvisor/state.db`",
        "The state database as a SQLAlchemy URL (`sqlite:///PATH`, `postgresql://USER@HOST/DB`); "
        "`--state URL` overrides it. Runs on the demo fleet keep `demo.db` next to the default.",
        _text,
        secret=True,
        env="NETADVISOR_DATABASE_URL",
    ),
    SettingSpec(
        "github-api-url",
        "`https://api.github.com`",
        "GitHub REST API used by upstream tracking (GitHub Enterprise: `https://HOST/api/v3`).",
        _http_url,
    ),
    SettingSpec(
        "github-token",
        "none",
        "GitHub token for upstream tracking (variable `GITHUB_TOKEN`); optional, it raises the "
        "rate limit and makes unchanged syncs free. Never logged.",
        _text,
        secret=True,
        env="GITHUB_TOKEN",
    ),
    SettingSpec(
        "slack-bot-token",
        "none",
        "Bot token (variable `SLACK_BOT_TOKEN`). Without it, or without a channel, what would "
        "be posted is printed instead. Never logged.",
        _text,
        secret=True,
        env="SLACK_BOT_TOKEN",
    ),
    SettingSpec(
        "slack-signing-secret",
        "none",
        "Signing secret (variable `SLACK_SIGNING_SECRET`) verifying requests to `/slack/events`.",
        _text,
        secret=True,
        env="SLACK_SIGNING_SECRET",
    ),
    SettingSpec(
        "slack-app-token",
        "none",
        "App-level token (variable `SLACK_APP_TOKEN`): `serve` uses Socket Mode instead of HTTP.",
        _text,
        secret=True,
        env="SLACK_APP_TOKEN",
    ),
    SettingSpec(
        "slack-channel",
        "none",
        "Default channel of new matches and the digest: an ID (`C0123ABCD`, best) or `#name`.",
        _text,
    ),
    SettingSpec(
        "slack-routes",
        "none",
        "Channels by cluster labels, first match wins: a list of `{labels: {env: prod}, "
        "channel: C0PROD}`. As a variable: the same list in YAML.",
        _routes,
    ),
    SettingSpec(
        "slack-api-url",
        "`https://slack.com/api/`",
        "Slack Web API base URL, passed unchanged to the client (tests, Slack-compatible servers).",
        _slack_url,
    ),
    SettingSpec(
        "slack-mute-users",
        "none",
        "Slack user IDs (`U0ADMIN`) allowed to `/netadvisor mute` and `unmute`; a list, or IDs "
        "separated by commas. Nobody may when neither this nor `slack-mute-channels` is set.",
        _slack_ids,
    ),
    SettingSpec(
        "slack-mute-channels",
        "none",
        "Slack channel IDs (`C0OPS`) in which anyone may `/netadvisor mute` and `unmute`.",
        _slack_ids,
    ),
    SettingSpec(
        "scan-interval",
        "3600",
        "Seconds between the scans `serve` runs.",
        _seconds,
    ),
    SettingSpec(
        "digest-time",
        "`09:00`",
        "When `serve` sends the daily digest (`HH:MM`, in `timezone`).",
        _time_of_day,
    ),
    SettingSpec(
        "timezone",
        "`UTC`",
        "IANA time zone of `digest-time` (`Europe/Berlin`, `Asia/Shanghai`).",
        _timezone,
    ),
    SettingSpec(
        "misfire-grace",
        "300",
        "Seconds a scheduled job may start late (after a pause or a busy period) and still run, "
        "once.",
        _seconds,
    ),
    SettingSpec(
        "port",
        "3000",
        "HTTP port of `serve`: `/slack/events` and `/healthz`.",
        _port,
    ),
    SettingSpec(
        "github-budget",
        "60",
        "Requests one upstream sync may send without a token (GitHub allows 60 an hour); the "
        "next sync resumes where it stopped.",
        _positive_int,
    ),
    SettingSpec(
        "log-format",
        "`text`",
        "`text`, or `json`: one object per line on standard error, with `cluster` and "
        "`advisory` on each (the container image's default). `--log-format` overrides it.",
        _choice("text", "json"),
    ),
    SettingSpec(
        "log-level",
        "`info` for `serve`, else `warning`",
        "`debug`, `info`, `warning` or `error`. `--log-level` overrides it.",
        _choice("debug", "info", "warning", "error"),
    ),
    SettingSpec(
        "leader-election",
        "`auto`",
        "`auto`, `on` or `off`. On, `serve` runs the scheduled jobs only on the replica that "
        "holds the Lease `netadvisor-scheduler` in its namespace (every replica answers "
        "Slack); `auto` is on in a Kubernetes pod and off elsewhere.",
        _choice("auto", "on", "off"),
    ),
    SettingSpec(
        "mutes",
        "none",
        "Mutes reviewed in Git: a list of `{advisory: ID or all, cluster: NAME or all, reason: "
        "..., expires: 2026-12-01}` (or `days: N` instead of `expires`, counted from when "
        "netadvisor first applies the entry). Applied at every scan, digest and `serve` start; "
        "only the file changes or lifts them. As a variable: the same list in YAML.",
        _mutes,
    ),
)
"""Every setting; later features add theirs here (and a field to :class:`Settings`)."""

_BY_KEY: Final = {spec.key: spec for spec in SETTINGS}


class _FieldError(ValueError):
    """A problem in a nested field (the field path is more precise than the setting's key)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field_path = field_path


_CLUSTER_KEYS: Final = (
    "name",
    "kubeconfig",
    "context",
    "in-cluster",
    "dump",
    "labels",
    "overrides",
    "features",
)


def _cluster(entry: Any, where: str, base: Path | None) -> ClusterSettings:
    if not isinstance(entry, dict):
        raise _FieldError(where, "must be a mapping with at least `name`")
    for key in entry:
        if key not in _CLUSTER_KEYS and str(key).replace("_", "-") not in _CLUSTER_KEYS:
            raise _FieldError(f"{where}.{key}", f"unknown key (valid: {', '.join(_CLUSTER_KEYS)})")
    data = {str(k).replace("_", "-"): v for k, v in entry.items()}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _FieldError(f"{where}.name", "required: a non-empty string")
    name = name.strip()
    kubeconfig = _path(data.get("kubeconfig"), f"{where}.kubeconfig", base)
    dump = _path(data.get("dump"), f"{where}.dump", base)
    context = data.get("context")
    if context is not None and (not isinstance(context, str) or not context.strip()):
        raise _FieldError(f"{where}.context", "must be a non-empty string")
    in_cluster = data.get("in-cluster", False)
    if not isinstance(in_cluster, bool):
        raise _FieldError(f"{where}.in-cluster", f"must be true or false, got {in_cluster!r}")
    sources = [
        s
        for s, given in (
            ("kubeconfig/context", kubeconfig is not None or context is not None),
            ("in-cluster", in_cluster),
            ("dump", dump is not None),
        )
        if given
    ]
    if len(sources) != 1:
        raise _FieldError(
            where,
            f"cluster {name!r} needs exactly one source: kubeconfig (with an optional context), "
            f"context, in-cluster: true, or dump (got {', '.join(sources) or 'none'})",
        )
    labels = _labels(data.get("labels"), f"{where}.labels")
    overrides = _overrides(data.get("overrides"), f"{where}.overrides")
    features = _features(data.get("features"), f"{where}.features")
    return ClusterSettings(
        name=name,
        kubeconfig=kubeconfig,
        context=context.strip() if isinstance(context, str) else None,
        in_cluster=in_cluster,
        dump=dump,
        labels=labels,
        overrides=overrides,
        features=features,
    )


def _path(value: Any, where: str, base: Path | None) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _FieldError(where, "must be a file path")
    path = Path(value.strip()).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _FieldError(where, "must be a mapping of label to value (env: prod)")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict | list) or item is None:
            raise _FieldError(f"{where}.{key}", "must be a single value")
        out[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
    return out


def _overrides(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _FieldError(where, "must be a mapping of fact key to value (proxy-mode: ipvs)")
    out: dict[str, str] = {}
    for key, item in value.items():
        name = str(key)
        if name.strip().lower() in FEATURES:
            raise _FieldError(f"{where}.{name}", "is a feature: put it under `features:`")
        try:
            canonical = canonical_key(name)
        except FactError as exc:
            raise _FieldError(f"{where}.{name}", _fact_message(exc)) from None
        if FACTS[canonical].kind is FactKind.TEXT:
            raise _FieldError(f"{where}.{name}", "cannot be overridden: every node reports its own")
        if isinstance(item, list):
            text = ",".join(str(v) for v in item)
        elif isinstance(item, dict) or item is None or isinstance(item, bool):
            raise _FieldError(f"{where}.{name}", f"must be a single value, got {item!r}")
        else:
            text = str(item)
        try:
            parse_fact(canonical, text)
        except FactError as exc:
            raise _FieldError(f"{where}.{name}", _fact_message(exc)) from None
        out[canonical] = text
    return out


def _features(value: Any, where: str) -> dict[str, bool]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _FieldError(where, "must be a mapping of feature name to true or false")
    out: dict[str, bool] = {}
    for key, item in value.items():
        name = str(key).strip().lower()
        if name not in FEATURES:
            raise _FieldError(
                f"{where}.{key}", f"unknown feature (valid: {', '.join(sorted(FEATURES))})"
            )
        if not isinstance(item, bool):
            raise _FieldError(f"{where}.{key}", f"must be true or false, got {item!r}")
        out[name] = item
    return out


def _fact_message(exc: FactError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


# ---------------------------------------------------------------------------------------------
# Loading


def _config_path(explicit: str | None, environ: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The file to read and whether it must exist (given explicitly)."""
    if explicit:
        return Path(explicit).expanduser(), True
    from_env = environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        return Path(from_env).expanduser(), True
    xdg = environ.get("XDG_CONFIG_HOME")
    home = environ.get("HOME")
    if xdg:
        base = Path(xdg)
    elif home:
        base = Path(home) / ".config"
    else:
        return None, False
    return base / "netadvisor" / "config.yaml", False


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(str(path), "", f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(
            str(path), "", f"not UTF-8 text (byte {exc.start + 1} is not UTF-8); save it as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(str(path), "", f"not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(str(path), "", "must be a mapping of settings (clusters:, ...)")
    return {str(k): v for k, v in data.items()}


def _environment(environ: Mapping[str, str]) -> Environment:
    home = environ.get("HOME")
    token_present = SERVICE_ACCOUNT_TOKEN.is_file()
    return Environment(
        kubeconfig=environ.get("KUBECONFIG") or None,
        home_kubeconfig=Path(home) / ".kube" / "config" if home else None,
        in_cluster=bool(environ.get("KUBERNETES_SERVICE_HOST")) and token_present,
        pod_name=environ.get("HOSTNAME") or None,
        pod_namespace=_pod_namespace() if token_present else None,
        state_home=(
            Path(environ["XDG_STATE_HOME"])
            if environ.get("XDG_STATE_HOME")
            else Path(home) / ".local" / "state"
            if home
            else None
        ),
    )


def _pod_namespace() -> str | None:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def load_settings(config: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the configuration file and ``NETADVISOR_*`` variables; raise SettingsError.

    ``config`` is the ``--config`` flag; ``environ`` defaults to the process environment.
    """
    env = os.environ if environ is None else environ
    path, required = _config_path(config, env)
    data: dict[str, Any] = {}
    used: Path | None = None
    if path is not None and (required or path.is_file()):
        if required and not path.is_file():
            where = "--config" if config else ENV_PREFIX + "CONFIG"
            raise SettingsError(where, "", f"{str(path)!r} is not a file")
        data = _read_file(path)
        used = path
    for key in data:
        if key.replace("_", "-") not in _BY_KEY:
            raise SettingsError(
                str(path),
                key,
                f"unknown setting (valid: {', '.join(spec.key for spec in SETTINGS)})",
            )
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    base = used.parent if used is not None else None
    for spec in SETTINGS:
        raw: Any = None
        where = ""
        field_name = spec.key
        file_base: Path | None = None
        if spec.variable in env:
            raw, where, field_name = env[spec.variable], spec.variable, ""
            file_base = Path.cwd()
        elif spec.secret and env.get(spec.variable + "_FILE"):
            # Secrets may come from a file (a mounted Kubernetes Secret): <VARIABLE>_FILE.
            where, field_name = spec.variable + "_FILE", ""
            raw = _read_secret(Path(env[where]), where)
            file_base = Path.cwd()
        else:
            for key in (spec.key, spec.attribute):
                if key in data:
                    raw, where, file_base = data[key], str(path), base
                    break
        if not where:
            continue
        try:
            value = spec.parse(raw, spec.key, file_base)
        except _FieldError as exc:
            raise SettingsError(where, exc.field_path, str(exc)) from None
        except ValueError as exc:
            raise SettingsError(where, field_name, str(exc)) from None
        values[spec.attribute] = Secret(str(value)) if spec.secret else value
        origins[spec.attribute] = where
    _check_mute_clusters(values, origins)
    return Settings(config_file=used, environment=_environment(env), origins=origins, **values)


def _check_mute_clusters(values: Mapping[str, Any], origins: Mapping[str, str]) -> None:
    """With a ``clusters:`` section, a mute must name one of its clusters (a typo would mute
    nothing)."""
    clusters: tuple[ClusterSettings, ...] = values.get("clusters", ())
    if not clusters:
        return
    names = {c.name for c in clusters}
    for mute in values.get("mutes", ()):
        if mute.cluster is not None and mute.cluster not in names:
            raise SettingsError(
                origins["mutes"],
                f"{mute.field}.cluster",
                f"no cluster {mute.cluster!r} in clusters (known: {', '.join(sorted(names))}, "
                "or all)",
            )


def _read_secret(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(where, "", f"cannot read {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(where, "", f"{str(path)!r} is not UTF-8 text") from None


def settings_table(specs: Sequence[SettingSpec] = SETTINGS) -> str:
    """The README's table of settings (Markdown), generated from :data:`SETTINGS`."""
    lines = ["| key | variable | default | meaning |", "|---|---|---|---|"]
    for spec in specs:
        lines.append(f"| `{spec.key}` | `{spec.variable}` | {spec.default} | {spec.description} |")
    return "\n".join(lines)


def _check_table_matches_dataclass() -> None:
    names = {f.name for f in fields(Settings)}
    missing = [spec.attribute for spec in SETTINGS if spec.attribute not in names]
    if missing:  # pragma: no cover - a programming error caught at import
        raise RuntimeError(f"settings without a Settings field: {missing}")


_check_table_matches_dataclass()
