"""The configuration file and NETADVISOR_* variables: fleet, concurrency, timeout, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Secret, SettingsError, load_settings, settings_table
from tests.runner import run

FLEET = """\
concurrency: 8
cluster-timeout: 12.5
clusters:
  - name: prod-eu
    kubeconfig: kubeconfigs/prod.yaml
    context: prod-eu
    labels: {env: prod, team: payments}
    overrides:
      iptables-version: 1.8.4
      host-iptables-mode: nft
      mode: ipvs
    features:
      rke2: false
  - name: edge
    dump: dumps/edge.json
  - name: here
    in-cluster: true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_fleet_comes_from_the_configuration_file(tmp_path: Path) -> None:
    settings = load_settings(str(write(tmp_path, FLEET)), environ={})
    assert settings.fleet.concurrency == 8
    assert settings.fleet.cluster_timeout == 12.5
    prod, edge, here = settings.fleet.clusters
    assert prod.kubeconfig == tmp_path / "kubeconfigs/prod.yaml"
    assert prod.context == "prod-eu"
    assert dict(prod.labels) == {"env": "prod", "team": "payments"}
    assert dict(prod.overrides) == {
        "iptables-version": "1.8.4",
        "host-iptables-mode": "nft",
        "proxy-mode": "ipvs",
    }
    assert dict(prod.features) == {"rke2": False}
    assert edge.dump == tmp_path / "dumps/edge.json"
    assert here.in_cluster


def test_variables_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, FLEET)
    env = {
        "NETADVISOR_CONCURRENCY": "3",
        "NETADVISOR_CLUSTER_TIMEOUT": "7s",
        "NETADVISOR_CLUSTERS": "[{name: x, dump: /tmp/x.json}]",
    }
    settings = load_settings(str(path), environ=env)
    assert (settings.fleet.concurrency, settings.fleet.cluster_timeout) == (3, 7.0)
    assert [c.name for c in settings.fleet.clusters] == ["x"]


def test_the_file_is_found_by_variable_then_xdg_and_may_be_absent(tmp_path: Path) -> None:
    path = write(tmp_path, "concurrency: 5\n")
    assert load_settings(environ={"NETADVISOR_CONFIG": str(path)}).fleet.concurrency == 5
    xdg = tmp_path / "xdg" / "netadvisor"
    xdg.mkdir(parents=True)
    (xdg / "config.yaml").write_text("concurrency: 6\n")
    assert load_settings(environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).fleet.concurrency == 6
    nothing = load_settings(environ={"HOME": str(tmp_path / "nobody")})
    assert nothing.config_file is None
    assert (nothing.fleet.clusters, nothing.fleet.concurrency) == ((), 16)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("concurency: 3\n", "concurency", "unknown setting"),
        ("concurrency: zero\n", "concurrency", "whole number from 1 to 1000"),
        ("cluster-timeout: -1\n", "cluster-timeout", "positive number of seconds"),
        ("clusters: {a: 1}\n", "clusters", "must be a list"),
        ("clusters:\n  - kubeconfig: a\n", "clusters[0].name", "required"),
        ("clusters:\n  - name: a\n", "clusters[0]", "needs exactly one source"),
        (
            "clusters:\n  - {name: a, dump: x, in-cluster: true}\n",
            "clusters[0]",
            "got in-cluster, dump",
        ),
        (
            "clusters:\n  - {name: a, dump: x}\n  - {name: a, dump: y}\n",
            "clusters[1].name",
            "two clusters are named 'a'",
        ),
        (
            "clusters:\n  - {name: a, dump: x, overrides: {proxy-mode: fast}}\n",
            "clusters[0].overrides.proxy-mode",
            "unknown value 'fast' (valid: iptables",
        ),
        (
            "clusters:\n  - {name: a, dump: x, overrides: {colour: red}}\n",
            "clusters[0].overrides.colour",
            "unknown fact",
        ),
        (
            "clusters:\n  - {name: a, dump: x, overrides: {rke2: true}}\n",
            "clusters[0].overrides.rke2",
            "is a feature",
        ),
        (
            "clusters:\n  - {name: a, dump: x, features: {rke2: yes please}}\n",
            "clusters[0].features.rke2",
            "must be true or false",
        ),
        ("clusters:\n  - {name: a, dump: x, colour: red}\n", "clusters[0].colour", "unknown key"),
        ("clusters: [\n", "", "not valid YAML"),
    ],
)
def test_a_wrong_setting_names_the_file_and_the_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        load_settings(str(path), environ={})
    assert caught.value.where == str(path)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")


def test_a_wrong_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^NETADVISOR_CONCURRENCY: must be a whole number"):
        load_settings(environ={"NETADVISOR_CONCURRENCY": "many"})
    with pytest.raises(SettingsError, match=r"^--config: .* is not a file"):
        load_settings(str(tmp_path / "missing.yaml"), environ={})


def test_in_cluster_and_kubeconfig_come_from_the_environment(tmp_path: Path) -> None:
    env = load_settings(environ={"KUBECONFIG": "/a:/b", "HOME": str(tmp_path)}).environment
    assert env.default_kubeconfig() == "/a:/b"
    assert env.in_cluster is False  # no service account token on this machine
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    home = load_settings(environ={"HOME": str(tmp_path)}).environment
    assert home.default_kubeconfig() == str(tmp_path / ".kube" / "config")


def test_secrets_never_show_in_repr_or_str() -> None:
    secret = Secret("xoxb-very-secret")
    assert "very-secret" not in repr(secret) and "very-secret" not in str(secret)
    assert "very-secret" not in repr([secret])
    assert secret.reveal() == "xoxb-very-secret"


def test_the_settings_table_lists_every_setting_with_its_variable() -> None:
    table = settings_table()
    for row in (
        "`clusters` | `NETADVISOR_CLUSTERS`",
        "`concurrency` | `NETADVISOR_CONCURRENCY`",
        "`cluster-timeout` | `NETADVISOR_CLUSTER_TIMEOUT`",
    ):
        assert row in table


def test_a_configuration_file_that_is_not_utf8_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"clusters:\n  - name: caf\xe9\n    dump: x.json\n")
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_settings(path)
    code, out, err = run("inventory", "--config", str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"netadvisor: {path}: not UTF-8 text (byte 24 is not UTF-8); "
                                "save it as UTF-8"]  # fmt: skip
