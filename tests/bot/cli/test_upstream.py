"""``netadvisor upstream sync|show``, run as the command line runs them, against the GitHub API
server on 127.0.0.1 (through ``NETADVISOR_GITHUB_API_URL`` and ``GITHUB_TOKEN``)."""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from advisories.catalog import load_catalog
from bot.service import Service
from bot.settings import load_settings
from bot.terminal.upstream import render_show
from bot.wiring import Wiring, digest_news
from jobs.store import Store
from tests.jobs.upstream_support import (
    KP_RACE,
    SP_RKE2,
    TOKEN,
    advisory,
    build_kubernetes,
    build_spiderpool,
    harness,
)
from tests.runner import run
from tests.servers.github import GitHubAPIServer

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubAPIServer]:
    with GitHubAPIServer(token=TOKEN) as server:
        build_kubernetes(server)
        build_spiderpool(server)
        for name in list(os.environ):
            if name.startswith("NETADVISOR_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        monkeypatch.setenv("NETADVISOR_GITHUB_API_URL", server.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield server


def test_sync_then_show_offline_prints_state_picks_and_first_fixed_tags(
    server: GitHubAPIServer,
) -> None:
    code, out, err = run("upstream", "sync")
    assert code == 0, err
    assert "with a token" in err
    assert "spidernet-io/spiderpool#3211" not in out.split("failed")[-1].split("news")[0]
    assert "upstream reports v0.9.2 on the 0.9 line" in out  # news for the catalog's keepers
    server.clear_requests()
    code, out, err = run(
        "upstream", "show", "KP-ENDPOINT-UPDATE-DELAY", "--offline", "--version", "1.28.3"
    )
    assert code == 0, err
    assert list(server.iter_requests()) == []
    assert "cherry-picks: #122756 -> release-1.29 (merged)" in out
    assert "first released tag per line: 1.27: v1.27.11 (#122815); 1.28: v1.28.7" in out
    assert "for 1.28.3: fixed in 1.28.7 on your 1.28 line, or upgrade to 1.29.2" in out


def test_a_second_sync_is_all_304s_and_reports_no_news(server: GitHubAPIServer) -> None:
    assert run("upstream", "sync")[0] == 0
    server.clear_requests()
    code, out, _ = run("upstream", "sync", "--json")
    data = json.loads(out)
    requests = list(server.iter_requests())
    assert code == 0 and data["news"] == [] and data["authenticated"] is True
    # Found references are confirmed by 304s; missing ones (404) are asked again.
    found = [r for r in requests if r.status != 404]
    assert found and all(r.conditional and r.status == 304 for r in found)
    assert data["requests"]["not_modified"] == len(found)


def test_show_json_reports_the_disagreement_and_keeps_the_catalogs_fixed_versions(
    server: GitHubAPIServer,
) -> None:
    code, out, err = run(
        "upstream", "show", "SP-3211", "--refresh", "--json", "--version", "v0.9.3"
    )
    assert code == 0, err
    [item] = json.loads(out)["advisories"]
    assert item["fixed_in"] == ["0.8.9", "0.9.8"]
    assert item["upstream_fixed_in"]["0.9"]["tag"] == "v0.9.2"
    assert [(d["upstream"], d["catalog"]) for d in item["disagreements"]] == [("v0.9.2", "0.9.8")]
    assert item["advice"]["on_line"] == "0.9.8" and item["advice"]["source"] == "catalog"


def test_show_offline_without_any_state_says_so_and_sends_nothing(
    server: GitHubAPIServer, tmp_path: Path
) -> None:
    code, out, _ = run("upstream", "show", "KP-ENDPOINT-UPDATE-DELAY", "--offline")
    assert code == 0 and "not synced yet" in out and "never synced" in out
    assert list(server.iter_requests()) == []
    assert not (tmp_path / "state" / "netadvisor" / "state.db").exists()


def test_an_unknown_advisory_is_a_usage_error(server: GitHubAPIServer) -> None:
    code, _, err = run("upstream", "show", "NOPE-1", "--offline")
    assert code == 2 and "unknown advisory 'NOPE-1'" in err


def test_an_unauthenticated_sync_stops_at_its_budget_and_says_it_resumes(
    server: GitHubAPIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, out, err = run("upstream", "sync", "--budget", "5")
    assert code == 0, err
    assert "no token" in err
    assert "stopped early: the request budget of this run is spent" in out
    assert "the next sync resumes with" in out
    assert len(list(server.iter_requests())) == 5


def test_an_unreachable_api_exits_1_after_a_few_attempts(
    server: GitHubAPIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("NETADVISOR_GITHUB_API_URL", f"http://127.0.0.1:{port}")
    code, out, _ = run("upstream", "sync", "--max-wait", "0")
    assert code == 1
    assert "the API failed 5 times in a row" in out and "no answer: ConnectError" in out


def test_the_token_is_never_printed(
    server: GitHubAPIServer, capfd: pytest.CaptureFixture[str]
) -> None:
    server.fail("/repos/kubernetes/kubernetes/pulls/*", 410)
    outputs = [run("upstream", "sync"), run("upstream", "show", "--json", "--offline")]
    captured = capfd.readouterr()
    text = "".join(o + e for _, o, e in outputs) + captured.out + captured.err
    assert "410 Gone" in text and TOKEN not in text


def test_the_scheduled_job_syncs_with_the_settings_and_keeps_the_news_for_the_digest(
    server: GitHubAPIServer, tmp_path: Path
) -> None:
    wiring = Wiring(load_settings(), stream=io.StringIO())
    with wiring, Store.open(f"sqlite:///{tmp_path / 'state.db'}") as store:
        service = Service(wiring, store, demo=False, stream=io.StringIO())
        first = service.upstream_job()
        second = service.upstream_job()
        kept = digest_news(store)(first.started_at - timedelta(days=1))
    assert first.pass_done and second.pass_done and second.news == ()
    assert any(d.advisory == "SP-3211" for d in first.disagreements)
    assert first.news and {n.text for n in kept} == {n.text for n in first.news}


def test_the_show_report_reads_well(tmp_path: Path) -> None:
    advisories = [advisory(KP_RACE), advisory(SP_RKE2)]
    with harness(tmp_path, advisories) as h:
        build_kubernetes(h.server)
        build_spiderpool(h.server)
        h.server.fail("/repos/kubernetes/kubernetes/issues/121362", 404)
        h.sync()
        records = h.store.records()
        url = h.server.url
    actual = render_show(advisories, records, version="1.28.3").replace(url, "$API") + "\n"
    golden = GOLDEN / "upstream-show.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")


def test_the_catalog_has_references_to_show() -> None:
    catalog = load_catalog()
    text = render_show(list(catalog.advisories), {})
    assert text.count("never synced") == len(catalog.advisories)
