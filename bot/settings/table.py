"""The settings table: every setting declared once, and the README's table generated from it.

A row (:class:`SettingSpec`) says a setting's key in the configuration file, its variable, its
default as the README shows it, what it means, how its value is read (a parser from
:mod:`bot.settings.fields`) and the attribute of :class:`~bot.settings.model.Settings` that holds
it (``slack.channel``: the group, then the attribute). Importing this module checks that every
row has its attribute and every attribute its row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bot.settings import fields as parse
from bot.settings.fields import Parser
from bot.settings.model import GROUPS, Settings

__all__ = ["ENV_PREFIX", "SETTINGS", "SettingSpec", "settings_table"]

ENV_PREFIX: Final = "NETADVISOR_"


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting: its key in the file, its variable, default, and how its value is read."""

    key: str
    """Key in the configuration file (``_`` is accepted for ``-``)."""
    default: str
    """The default, as shown in the README."""
    description: str
    """What it means, as shown in the README (Markdown)."""
    parse: Parser
    """(value, field name, directory of the file or None) -> value; raises ValueError."""
    secret: bool = False
    """The value is wrapped in :class:`~bot.settings.model.Secret` (and may come from a file)."""
    env: str | None = None
    """The variable, when it is not ``NETADVISOR_<KEY>`` (``GITHUB_TOKEN``)."""
    attribute: str = field(kw_only=True)
    """Where :class:`~bot.settings.model.Settings` holds it: ``group.name`` (``fleet.clusters``),
    or ``name`` for a top-level attribute (``mutes``)."""

    @property
    def variable(self) -> str:
        """``NETADVISOR_<KEY>``, or :attr:`env`."""
        if self.env:
            return self.env
        return ENV_PREFIX + self.key.upper().replace("-", "_")


SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "clusters",
        "none",
        "The fleet: a list of clusters, each with `name` and one of `kubeconfig` (+ `context`), "
        "`context`, `in-cluster: true` or `dump`; optional `labels`, `overrides` (fact key: "
        "value) and `features` (name: true/false). As a variable: the same list in YAML.",
        parse.clusters,
        attribute="fleet.clusters",
    ),
    SettingSpec(
        "concurrency",
        "16",
        "How many clusters are read at the same time.",
        parse.positive_int,
        attribute="fleet.concurrency",
    ),
    SettingSpec(
        "cluster-timeout",
        "30",
        "Seconds one cluster may take in all (requests and credential plugins); a cluster that "
        "takes longer is reported as `timeout`.",
        parse.seconds,
        attribute="fleet.cluster_timeout",
    ),
    SettingSpec(
        "database",
        "SQLite: `$XDG_STATE_HOME/netadvisor/state.db`",
        "The state database as a SQLAlchemy URL (`sqlite:///PATH`, `postgresql://USER@HOST/DB`); "
        "`--state URL` overrides it. Scans of the demo fleet keep `demo.db` next to the default.",
        parse.text,
        secret=True,
        env="NETADVISOR_DATABASE_URL",
        attribute="store.database",
    ),
    SettingSpec(
        "github-api-url",
        "`https://api.github.com`",
        "GitHub REST API used by upstream tracking (GitHub Enterprise: `https://HOST/api/v3`).",
        parse.http_url,
        attribute="github.api_url",
    ),
    SettingSpec(
        "github-token",
        "none",
        "GitHub token for upstream tracking (variable `GITHUB_TOKEN`); optional, it raises the "
        "rate limit and makes unchanged syncs free. Never logged.",
        parse.text,
        secret=True,
        env="GITHUB_TOKEN",
        attribute="github.token",
    ),
    SettingSpec(
        "slack-bot-token",
        "none",
        "Bot token (variable `SLACK_BOT_TOKEN`). Without it, or without a channel, what would "
        "be posted is printed instead. Never logged.",
        parse.text,
        secret=True,
        env="SLACK_BOT_TOKEN",
        attribute="slack.bot_token",
    ),
    SettingSpec(
        "slack-signing-secret",
        "none",
        "Signing secret (variable `SLACK_SIGNING_SECRET`) verifying requests to `/slack/events`.",
        parse.text,
        secret=True,
        env="SLACK_SIGNING_SECRET",
        attribute="slack.signing_secret",
    ),
    SettingSpec(
        "slack-app-token",
        "none",
        "App-level token (variable `SLACK_APP_TOKEN`): `serve` uses Socket Mode instead of HTTP.",
        parse.text,
        secret=True,
        env="SLACK_APP_TOKEN",
        attribute="slack.app_token",
    ),
    SettingSpec(
        "slack-channel",
        "none",
        "Default channel of new matches and the digest: an ID (`C0123ABCD`, best) or `#name`.",
        parse.text,
        attribute="slack.channel",
    ),
    SettingSpec(
        "slack-routes",
        "none",
        "Channels by cluster labels and by severity, first match wins (else `slack-channel`): "
        "a list of `{labels: {env: prod}, severity: high, channel: C0PROD}` with `labels`, "
        "`severity` (the least severe match the route takes: `critical`, `high`, `medium` or "
        "`low`; also `min-severity`) or both. `[{severity: high, channel: C0ONCALL}]` sends "
        "high and critical matches to C0ONCALL and the rest to `slack-channel`. As a variable: "
        "the same list in YAML.",
        parse.routes,
        attribute="slack.routes",
    ),
    SettingSpec(
        "slack-api-url",
        "`https://slack.com/api/`",
        "Slack Web API base URL, passed unchanged to the client (tests, Slack-compatible servers).",
        parse.slack_url,
        attribute="slack.api_url",
    ),
    SettingSpec(
        "slack-mute-users",
        "none",
        "Slack user IDs (`U0ADMIN`) allowed to `/netadvisor mute` and `unmute`; a list, or IDs "
        "separated by commas. Nobody may when neither this nor `slack-mute-channels` is set.",
        parse.slack_ids,
        attribute="slack.mute_users",
    ),
    SettingSpec(
        "slack-mute-channels",
        "none",
        "Slack channel IDs (`C0OPS`) in which anyone may `/netadvisor mute` and `unmute`.",
        parse.slack_ids,
        attribute="slack.mute_channels",
    ),
    SettingSpec(
        "scan-interval",
        "3600",
        "Seconds between the scans `serve` runs.",
        parse.seconds,
        attribute="schedule.scan_interval",
    ),
    SettingSpec(
        "digest-time",
        "`09:00`",
        "When `serve` sends the daily digest (`HH:MM`, in `timezone`).",
        parse.time_of_day,
        attribute="schedule.digest_time",
    ),
    SettingSpec(
        "timezone",
        "`UTC`",
        "IANA time zone of `digest-time` (`Europe/Berlin`, `Asia/Shanghai`).",
        parse.timezone,
        attribute="schedule.timezone",
    ),
    SettingSpec(
        "misfire-grace",
        "300",
        "Seconds a scheduled job may start late (after a pause or a busy period) and still run, "
        "once.",
        parse.seconds,
        attribute="schedule.misfire_grace",
    ),
    SettingSpec(
        "port",
        "3000",
        "HTTP port of `serve`: `/slack/events` and `/healthz`.",
        parse.port,
        attribute="http.port",
    ),
    SettingSpec(
        "github-budget",
        "60",
        "Requests one upstream sync may send without a token (GitHub allows 60 an hour); the "
        "next sync resumes where it stopped.",
        parse.positive_int,
        attribute="github.budget",
    ),
    SettingSpec(
        "log-format",
        "`text`",
        "`text`, or `json`: one object per line on standard error, with `cluster` and "
        "`advisory` on each (the container image's default). `--log-format` overrides it.",
        parse.choice("text", "json"),
        attribute="logging.format",
    ),
    SettingSpec(
        "log-level",
        "`info` for `serve`, else `warning`",
        "`debug`, `info`, `warning` or `error`. `--log-level` overrides it.",
        parse.choice("debug", "info", "warning", "error"),
        attribute="logging.level",
    ),
    SettingSpec(
        "leader-election",
        "`auto`",
        "`auto`, `on` or `off`. On, `serve` runs the scheduled jobs only on the replica that "
        "holds the Lease `netadvisor-scheduler` in its namespace (every replica answers "
        "Slack); `auto` is on in a Kubernetes pod and off elsewhere.",
        parse.choice("auto", "on", "off"),
        attribute="schedule.leader_election",
    ),
    SettingSpec(
        "mutes",
        "none",
        "Mutes reviewed in Git: a list of `{advisory: ID or all, cluster: NAME or all, reason: "
        "..., expires: 2026-12-01}` (or `days: N` instead of `expires`, counted from when "
        "netadvisor first applies the entry). Applied at every scan, digest and `serve` start; "
        "only the file changes or lifts them. As a variable: the same list in YAML.",
        parse.mutes,
        attribute="mutes",
    ),
)
"""Every setting, in the README's order; later features add theirs here (and an attribute to
the group of :class:`~bot.settings.model.Settings` it belongs to)."""


BY_KEY: Final = {spec.key: spec for spec in SETTINGS}
"""Key -> its row."""


def settings_table(specs: Sequence[SettingSpec] = SETTINGS) -> str:
    """The README's table of settings (Markdown), generated from :data:`SETTINGS`."""
    lines = ["| key | variable | default | meaning |", "|---|---|---|---|"]
    for spec in specs:
        lines.append(f"| `{spec.key}` | `{spec.variable}` | {spec.default} | {spec.description} |")
    return "\n".join(lines)


_NOT_SETTINGS: Final = frozenset({"config_file", "environment", "origins"})
"""Attributes of :class:`~bot.settings.model.Settings` that say where the settings came from."""


def _attributes() -> set[str]:
    """Every attribute path a row may name: ``group.name`` for the groups' attributes, and the
    top-level attributes that are settings themselves."""
    paths = {
        f"{group}.{f.name}" for group, kind in GROUPS.items() for f in dataclasses.fields(kind)
    }
    top = {f.name for f in dataclasses.fields(Settings)} - set(GROUPS) - _NOT_SETTINGS
    return paths | top


def _check_table_matches_dataclass() -> None:
    attributes = _attributes()
    named = [spec.attribute for spec in SETTINGS]
    missing = [a for a in named if a not in attributes]
    unread = sorted(attributes - set(named))
    twice = sorted({a for a in named if named.count(a) > 1})
    if missing or unread or twice:  # pragma: no cover - a programming error caught at import
        raise RuntimeError(
            f"settings table and Settings disagree: rows without an attribute {missing}, "
            f"attributes without a row {unread}, attributes with two rows {twice}"
        )


_check_table_matches_dataclass()
