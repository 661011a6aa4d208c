"""The configuration file's ``mutes:`` section: read, validated, errors naming file and field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from jobs.mutes import ConfigMute


def settings_from(tmp_path: Path, text: str) -> tuple[Path, tuple[ConfigMute, ...]]:
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="utf-8")
    return config, load_settings(str(config), {}).mutes


def test_each_entry_has_a_scope_a_reason_and_an_expiry(tmp_path: Path) -> None:
    _, mutes = settings_from(
        tmp_path,
        "mutes:\n"
        "  - {advisory: KP-IPVS-CONN-REUSE, cluster: prod-eu, reason: kernel upgrade in Q1,"
        " expires: 2026-12-01}\n"
        "  - advisory: all\n"
        "    cluster: all\n"
        "    reason: |\n      freeze over the\n      holidays\n"
        "    expires: 2026-12-24T18:00:00+01:00\n"
        "  - {advisory: SP-3118, cluster: edge-7, reason: no Spiderpool there, days: 30}\n",
    )
    assert mutes == (
        ConfigMute(
            "KP-IPVS-CONN-REUSE",
            "prod-eu",
            "kernel upgrade in Q1",
            expires_at=datetime(2026, 12, 1, tzinfo=UTC),  # a date ends at its start, UTC
            field="mutes[0]",
        ),
        ConfigMute(
            None,
            None,
            "freeze over the holidays",
            expires_at=datetime(2026, 12, 24, 17, 0, tzinfo=UTC),
            field="mutes[1]",
        ),
        ConfigMute("SP-3118", "edge-7", "no Spiderpool there", days=30, field="mutes[2]"),
    )


def test_days_count_from_when_netadvisor_first_applies_the_entry() -> None:
    applied = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    mute = ConfigMute("SP-3118", None, "x", days=7)
    assert mute.ends_at(applied) == applied + timedelta(days=7)


def test_an_entry_is_identified_by_its_content_not_its_position() -> None:
    first = ConfigMute("SP-3118", None, "x", days=7, field="mutes[0]")
    moved = ConfigMute("SP-3118", None, "x", days=7, field="mutes[4]")
    assert first.key() == moved.key()
    assert first.key() != ConfigMute("SP-3118", None, "y", days=7).key()
    assert first.key() != ConfigMute("SP-3118", None, "x", days=8).key()


@pytest.mark.parametrize(
    ("entries", "field", "message"),
    [
        ("- {advisory: SP-3118, cluster: all, expires: 2026-12-01}", "mutes[0].reason", "missing"),
        ("- {advisory: SP-3118, cluster: all, reason: '', days: 3}", "mutes[0].reason", "empty"),
        ("- {cluster: all, reason: r, days: 3}", "mutes[0].advisory", "missing"),
        ("- {advisory: SP-3118, reason: r, days: 3}", "mutes[0].cluster", "missing"),
        ("- {advisory: SP-3118, cluster: all, reason: r}", "mutes[0].expires", "exactly one"),
        (
            "- {advisory: SP-3118, cluster: all, reason: r, days: 3, expires: 2026-12-01}",
            "mutes[0].expires",
            "both given",
        ),
        ("- {advisory: SP-3118, cluster: all, reason: r, days: 0}", "mutes[0].days", "1 to 365"),
        ("- {advisory: SP-3118, cluster: all, reason: r, days: 3.5}", "mutes[0].days", "whole"),
        (
            "- {advisory: SP-3118, cluster: all, reason: r, expires: next week}",
            "mutes[0].expires",
            "a date",
        ),
        ("- {advisory: SP-3118, cluster: all, reason: r, days: 3, by: me}", "mutes[0].by", "valid"),
        ("- SP-3118", "mutes[0]", "a mapping"),
        (
            "- {advisory: SP-3118, cluster: all, reason: r, days: 3}\n"
            "  - {advisory: SP-3118, cluster: all, reason: r, days: 3}",
            "mutes[1]",
            "the same mute as mutes[0]",
        ),
    ],
)
def test_a_bad_entry_is_reported_with_the_file_and_the_field(
    tmp_path: Path, entries: str, field: str, message: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("mutes:\n  " + entries + "\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(str(config), {})
    assert caught.value.where == str(config)
    assert caught.value.field == field
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{config}: {field}: ")


def test_an_error_reads_file_field_and_problem(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "mutes:\n"
        + "  - {advisory: SP-3118, cluster: all, reason: r, days: 3}\n"
        + "  - {advisory: SP-2370, cluster: all, reason: r, days: 3}\n"
        + "  - {advisory: SP-2370, cluster: all, days: 3}\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match=r"config\.yaml: mutes\[2\]\.reason: missing"):
        load_settings(str(config), {})


def test_with_a_clusters_section_a_mute_must_name_one_of_its_clusters(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "clusters:\n  - {name: prod-eu, dump: prod.json}\n"
        "mutes:\n  - {advisory: SP-3118, cluster: prod-ue, reason: typo, days: 3}\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(str(config), {})
    assert caught.value.field == "mutes[0].cluster"
    assert "prod-ue" in caught.value.message and "prod-eu" in caught.value.message


def test_the_variable_takes_the_same_list_in_yaml_and_is_named_in_errors() -> None:
    mutes = load_settings(
        None, {"NETADVISOR_MUTES": "[{advisory: SP-3118, cluster: all, reason: r, days: 2}]"}
    ).mutes
    assert [(m.advisory_id, m.cluster, m.days) for m in mutes] == [("SP-3118", None, 2)]
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {"NETADVISOR_MUTES": "[{advisory: SP-3118, cluster: all, days: 2}]"})
    assert (caught.value.where, caught.value.field) == ("NETADVISOR_MUTES", "mutes[0].reason")


def test_who_may_mute_from_slack_is_a_list_of_ids_or_ids_separated_by_commas(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("slack-mute-users: [U0ADMIN, U0OPS]\n", encoding="utf-8")
    settings = load_settings(str(config), {"NETADVISOR_SLACK_MUTE_CHANNELS": "C0OPS, C0NET"})
    assert settings.slack.mute_users == ("U0ADMIN", "U0OPS")
    assert settings.slack.mute_channels == ("C0OPS", "C0NET")
    assert load_settings(None, {}).slack.mute_users == ()
    with pytest.raises(SettingsError) as caught:
        load_settings(None, {"NETADVISOR_SLACK_MUTE_USERS": "[1, 2]"})
    assert caught.value.where == "NETADVISOR_SLACK_MUTE_USERS"
