"""The daily digest carries the fleet exposure PNG in its thread (``netadvisor digest`` with
Slack configured, against the fake Slack Web API)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.bot.cli.test_digest_and_serve import fleet_config, slack_env
from tests.runner import run
from tests.servers.slack import DEFAULT_SCOPES, SlackServer


def _digest_ts(slack: SlackServer, channel: str) -> str:
    (digest,) = [m for m in slack.top_level(channel) if m["text"].startswith("netadvisor digest")]
    return str(digest["ts"])


def test_each_digest_gets_the_matrix_of_its_own_clusters_in_its_thread(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}) as slack:
        fleet_config(fresh_machine, monkeypatch)
        slack_env(monkeypatch, slack)
        assert run("scan")[0] == 0
        code, _, err = run("digest")
        assert code == 0, err
        files = {f["channel"]: f for f in slack.files()}
        threads = {c: _digest_ts(slack, c) for c in ("C0NET", "C0PROD")}
    assert set(files) == {"C0NET", "C0PROD"}
    assert {c: f["thread_ts"] for c, f in files.items()} == threads
    images = {c: Image.open(io.BytesIO(f["content"])) for c, f in files.items()}
    assert {i.format for i in images.values()} == {"PNG"}
    # The default channel shows both clusters, the prod route only prod-centos: one row less
    # (and the advisories that hold on prod-centos only).
    assert images["C0NET"].height >= images["C0PROD"].height + 28
    # The first digest: every open match is new, and its cell carries the dark corner.
    dark = (0x0F, 0x17, 0x2A)
    for image in images.values():
        colours = image.convert("RGB").getcolors(maxcolors=image.width * image.height) or []
        assert sum(n for n, colour in colours if colour == dark) > 50
    assert {f["initial_comment"] for f in files.values()} == {
        "Fleet exposure: clusters x advisories that hold somewhere"
    }


def test_a_token_without_files_write_still_delivers_the_digest(
    fresh_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scopes = tuple(s for s in DEFAULT_SCOPES if s != "files:write")
    with SlackServer(channels={"C0NET": "net", "C0PROD": "net-prod"}, scopes=scopes) as slack:
        fleet_config(fresh_machine, monkeypatch)
        slack_env(monkeypatch, slack)
        assert run("scan")[0] == 0
        code, _, err = run("digest")
        assert code == 0, err
        assert slack.files() == []
        assert _digest_ts(slack, "C0NET")
