"""Settings grouped by concern: where each setting lands, overrides by group, where values came
from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.settings import (
    SETTINGS,
    FleetSettings,
    LoggingSettings,
    Secret,
    Settings,
    SettingsError,
    load_settings,
)
from bot.settings.model import GROUPS

CONFIG = """\
clusters:
  - {name: prod, dump: prod.json}
concurrency: 4
cluster-timeout: 9
database: sqlite:////tmp/netadvisor-state.db
github-api-url: https://ghe.example/api/v3/
github-budget: 30
slack-channel: "#network"
slack-api-url: http://127.0.0.1:9/api/
slack-mute-users: U0ADMIN
scan-interval: 600
digest-time: "7:30"
timezone: Europe/Berlin
misfire-grace: 60
leader-election: on
port: 8080
log-format: json
log-level: debug
mutes:
  - {advisory: all, cluster: prod, reason: migrating, days: 7}
"""


def test_each_setting_of_the_file_lands_in_its_group(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    settings = load_settings(str(config), {"SLACK_BOT_TOKEN": "xoxb-1", "GITHUB_TOKEN": "ghp_1"})
    assert [c.name for c in settings.fleet.clusters] == ["prod"]
    assert (settings.fleet.concurrency, settings.fleet.cluster_timeout) == (4, 9.0)
    assert settings.store.database == Secret("sqlite:////tmp/netadvisor-state.db")
    assert (settings.github.api_url, settings.github.budget) == ("https://ghe.example/api/v3", 30)
    assert settings.github.token == Secret("ghp_1")
    assert settings.slack.bot_token == Secret("xoxb-1")
    assert (settings.slack.channel, settings.slack.api_url) == (
        "#network",
        "http://127.0.0.1:9/api/",
    )
    assert settings.slack.mute_users == ("U0ADMIN",)
    assert settings.schedule == dataclasses.replace(
        settings.schedule,
        scan_interval=600.0,
        digest_time="07:30",
        timezone="Europe/Berlin",
        misfire_grace=60.0,
        leader_election="on",
    )
    assert settings.http.port == 8080
    assert settings.logging == LoggingSettings(format="json", level="debug")
    assert [(m.cluster, m.days) for m in settings.mutes] == [("prod", 7)]


def test_where_each_value_came_from_is_kept_by_its_attribute_path(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("concurrency: 4\nlog-format: json\n")
    settings = load_settings(str(config), {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert dict(settings.origins) == {
        "fleet.concurrency": str(config),
        "logging.format": str(config),
        "slack.bot_token": "SLACK_BOT_TOKEN",
    }


def test_nothing_configured_is_every_groups_defaults() -> None:
    settings = load_settings(None, {})
    assert settings == Settings()
    assert settings.fleet == FleetSettings(clusters=(), concurrency=16, cluster_timeout=30.0)
    assert (settings.slack.bot_token, settings.slack.api_url) == (None, "https://slack.com/api/")


def test_every_row_of_the_table_names_an_attribute_of_its_group() -> None:
    for spec in SETTINGS:
        group, _, name = spec.attribute.rpartition(".")
        holder = GROUPS[group] if group else Settings
        assert name in {f.name for f in dataclasses.fields(holder)}, spec.key
    grouped = {f"{g}.{f.name}" for g, kind in GROUPS.items() for f in dataclasses.fields(kind)}
    assert grouped <= {spec.attribute for spec in SETTINGS}


def test_overrides_replace_attributes_of_a_group_and_skip_flags_not_given() -> None:
    settings = load_settings(None, {"NETADVISOR_CLUSTER_TIMEOUT": "12"})
    changed = settings.with_overrides(
        fleet={"concurrency": 2, "cluster_timeout": None},
        logging={"level": "debug"},
        store=None,
    )
    assert (changed.fleet.concurrency, changed.fleet.cluster_timeout) == (2, 12.0)
    assert changed.logging == LoggingSettings(format="text", level="debug")
    assert changed.store == settings.store
    assert settings.fleet.concurrency == 16  # the original is unchanged


def test_an_override_of_an_unknown_group_or_attribute_is_a_type_error() -> None:
    settings = Settings()
    with pytest.raises(TypeError):
        settings.with_overrides(fleet={"concurency": 2})
    with pytest.raises(TypeError):
        settings.with_overrides(slack_channel="#ops")
    with pytest.raises(TypeError, match="takes a mapping"):
        settings.with_overrides(fleet=2)


def test_secret_values_are_found_in_every_group() -> None:
    settings = Settings().with_overrides(
        store={"database": Secret("postgresql://u:pw@db/x")},
        slack={"app_token": Secret("xapp-1"), "signing_secret": Secret("s3cr3t")},
    )
    assert sorted(settings.secret_values()) == ["postgresql://u:pw@db/x", "s3cr3t", "xapp-1"]
    assert "pw@" not in repr(settings) and "xapp-1" not in str(settings)


def test_a_file_key_written_with_underscores_still_reads_and_errors_still_name_it(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("cluster_timeout: 5\nlog_format: json\n")
    settings = load_settings(str(config), {})
    assert (settings.fleet.cluster_timeout, settings.logging.format) == (5.0, "json")
    config.write_text("slack-api-url: ftp://example\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(str(config), {})
    assert (caught.value.where, caught.value.field) == (str(config), "slack-api-url")
