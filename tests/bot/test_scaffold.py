"""``netadvisor init``'s configuration text: valid YAML for any context name, one cluster per
context, secrets never in it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.scaffold import ScaffoldError, render_config, write_config
from bot.settings import load_settings


def test_odd_context_names_make_valid_yaml_and_distinct_cluster_names(tmp_path: Path) -> None:
    contexts = [
        "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
        "arn:aws:eks:us-east-1:123456789012:cluster/prod",
        "admin@kind-dev",
        "weird: name # with a hash",
    ]
    text = render_config("/home/me/.kube/config", contexts, current="admin@kind-dev")
    data = yaml.safe_load(text)
    clusters = data["clusters"]
    assert [c["context"] for c in clusters] == contexts
    assert [c["name"] for c in clusters] == ["prod", "prod-2", "admin@kind-dev",
                                             "weird: name # with a hash"]  # fmt: skip
    assert all(c["labels"] == {} for c in clusters)
    config = tmp_path / "config.yaml"
    write_config(config, text)
    settings = load_settings(str(config), environ={})
    assert [c.name for c in settings.fleet.clusters] == [c["name"] for c in clusters]


def test_a_kubeconfig_without_contexts_still_gives_a_valid_file() -> None:
    data = yaml.safe_load(render_config("/k", []))
    assert data["clusters"] == []


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("concurrency: 4\n")
    with pytest.raises(ScaffoldError, match="exists; netadvisor init never overwrites"):
        write_config(config, render_config("/k", ["a"]))
    assert config.read_text() == "concurrency: 4\n"
