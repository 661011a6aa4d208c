"""The operations settings: log format and level, leader election, and what a pod tells."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from bot.settings import load as settings_load


def test_defaults_are_text_logs_at_the_commands_level_and_automatic_election() -> None:
    settings = load_settings(None, {})
    assert (settings.logging.format, settings.logging.level, settings.schedule.leader_election) == (
        "text",
        None,  # info for serve, warning for the one-shot commands
        "auto",
    )


def test_variables_and_the_file_set_them(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("log-format: json\nleader-election: off\n")  # YAML reads off as false
    from_file = load_settings(str(config), {})
    assert (from_file.logging.format, from_file.schedule.leader_election) == ("json", "off")
    from_env = load_settings(str(config), {"NETADVISOR_LOG_LEVEL": "Debug",
                                           "NETADVISOR_LEADER_ELECTION": "on"})  # fmt: skip
    assert (from_env.logging.level, from_env.schedule.leader_election) == ("debug", "on")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NETADVISOR_LOG_FORMAT", "yaml"),
        ("NETADVISOR_LOG_LEVEL", "loud"),
        ("NETADVISOR_LEADER_ELECTION", "sometimes"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_choices(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {variable: value})
    assert caught.value.where == variable
    assert "must be one of" in str(caught.value)


def test_secret_values_are_listed_for_the_log_formatter() -> None:
    settings = load_settings(
        None,
        {
            "SLACK_BOT_TOKEN": "xoxb-123-456-abc",
            "GITHUB_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "NETADVISOR_DATABASE_URL": "postgresql://u:pw@db/netadvisor",
        },
    )
    assert set(settings.secret_values()) == {
        "xoxb-123-456-abc",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "postgresql://u:pw@db/netadvisor",
    }
    assert "pw@" not in repr(settings)


def test_in_a_pod_the_name_and_namespace_come_from_the_hostname_and_the_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    (tmp_path / "namespace").write_text("netadvisor\n")
    monkeypatch.setattr(settings_load, "SERVICE_ACCOUNT_TOKEN", token)
    monkeypatch.setattr(settings_load, "SERVICE_ACCOUNT_NAMESPACE", tmp_path / "namespace")
    environment = load_settings(
        None, {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "HOSTNAME": "netadvisor-7d9f-abcde"}
    ).environment
    assert environment.in_cluster
    assert (environment.pod_name, environment.pod_namespace) == (
        "netadvisor-7d9f-abcde",
        "netadvisor",
    )
