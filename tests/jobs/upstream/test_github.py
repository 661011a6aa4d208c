"""The GitHub adapter on its own: requests, validators, limits and errors."""

from __future__ import annotations

import ast
import contextlib
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from jobs.store import UpstreamStore
from jobs.upstream.errors import (
    BudgetExhausted,
    NotCached,
    RateLimited,
    UpstreamBadAnswer,
    UpstreamDown,
    UpstreamForbidden,
    UpstreamNotFound,
    UpstreamUnreachable,
)
from jobs.upstream.github import GitHubSource, build_client
from jobs.upstream.models import RepoName, Tag
from tests.jobs.upstream_support import TOKEN, FakeClock
from tests.servers.github import GitHubAPIServer
from tests.servers.loopback import LoopbackHTTPServer

K8S = RepoName("kubernetes/kubernetes")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[UpstreamStore]:
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    yield UpstreamStore(engine)
    engine.dispose()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[GitHubAPIServer]:
    with GitHubAPIServer(token=TOKEN, now=clock.time) as server:
        repo = server.repo("kubernetes/kubernetes")
        repo.tag("v1.29.0")
        repo.pull(1, "A fix", base="master")
        repo.tag("v1.29.1")
        repo.branch("side", "v1.29.0")
        repo.commit("side", "elsewhere")
        repo.tag("v0.0.1-side", "side")
        yield server


def source(
    client: httpx.Client, store: UpstreamStore, clock: FakeClock, **options: Any
) -> GitHubSource:
    return GitHubSource(client, store, sleep=clock.sleep, clock=clock.now, **options)


def test_the_client_sends_githubs_headers_and_the_token_only_as_a_bearer_header(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    with build_client(server.url, TOKEN) as client:
        source(client, store, clock).pull(K8S, 1)
    with build_client(server.url, None) as client:
        source(client, store, clock).pull(K8S, 1)
    authed, anonymous = server.iter_requests()
    assert authed.headers["Authorization"] == f"Bearer {TOKEN}"
    assert authed.headers["Accept"] == "application/vnd.github+json"
    assert authed.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert "Authorization" not in anonymous.headers
    assert TOKEN not in repr(client)


def test_validators_are_kept_per_url_and_sent_back(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    with build_client(server.url, TOKEN) as client:
        first = source(client, store, clock).pull(K8S, 1)
        clock.advance(hours=1)
        again = source(client, store, clock, fresh_since=clock.now()).pull(K8S, 1)
        fresh = source(client, store, clock, fresh_since=clock.now() - timedelta(minutes=1))
        fresh.pull(K8S, 1)
    assert first == again
    one, two = server.iter_requests()  # the third answer was fresh in the pass: no request
    assert not one.conditional and one.status == 200
    assert two.headers["If-None-Match"].startswith('W/"')
    assert "If-Modified-Since" in two.headers and two.status == 304
    assert fresh.stats.reused == 1 and fresh.stats.sent == 0


@pytest.mark.parametrize(
    ("head", "contained"),
    [("v1.29.1", True), ("merge", True), ("v1.29.0", False), ("v0.0.1-side", False)],
)
def test_a_tag_contains_a_commit_when_the_comparison_is_ahead_or_identical(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock, head: str, contained: bool
) -> None:
    repo = server.repos["kubernetes/kubernetes"]
    merge = repo.pulls[1].merge_commit_sha
    assert merge is not None
    sha = merge if head == "merge" else repo.resolve(head)
    assert sha is not None
    with build_client(server.url, TOKEN) as client:
        assert source(client, store, clock).contains(K8S, merge, Tag(head, sha)) is contained
    [request] = server.iter_requests()
    assert request.path == f"/repos/kubernetes/kubernetes/compare/{merge}...{sha}"


def test_a_comparison_is_asked_once_for_good(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    repo = server.repos["kubernetes/kubernetes"]
    merge, tag = repo.pulls[1].merge_commit_sha, repo.resolve("v1.29.1")
    assert merge and tag
    with build_client(server.url, TOKEN) as client:
        for _ in range(3):
            clock.advance(days=1)
            source(client, store, clock, fresh_since=clock.now()).contains(
                K8S, merge, Tag("t", tag)
            )
    assert len(list(server.iter_requests())) == 1


def test_a_bad_token_is_forbidden_and_the_message_does_not_carry_it(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    with (
        build_client(server.url, "wrong-" + TOKEN) as client,
        pytest.raises(UpstreamForbidden) as caught,
    ):
        source(client, store, clock).pull(K8S, 1)
    assert "401 Bad credentials" in str(caught.value) and TOKEN not in str(caught.value)


def test_a_missing_pull_is_not_found(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    with build_client(server.url, TOKEN) as client, pytest.raises(UpstreamNotFound) as caught:
        source(client, store, clock).pull(K8S, 404404)
    assert caught.value.url.endswith("/repos/kubernetes/kubernetes/pulls/404404")


def test_an_unreachable_api_is_retried_then_reported(
    store: UpstreamStore, clock: FakeClock
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = build_client(f"http://127.0.0.1:{port}", TOKEN, timeout=2)
    with client, pytest.raises(UpstreamUnreachable):
        source(client, store, clock, retries=2).pull(K8S, 1)
    assert clock.sleeps == [2.0, 4.0]


def test_an_api_that_keeps_failing_stops_the_run(store: UpstreamStore, clock: FakeClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = build_client(f"http://127.0.0.1:{port}", TOKEN, timeout=2)
    with client:
        github = source(client, store, clock, retries=0, down_after=2)
        with pytest.raises(UpstreamUnreachable):
            github.pull(K8S, 1)
        with pytest.raises(UpstreamDown, match="2 times in a row"):
            github.pull(K8S, 2)


def test_the_budget_of_a_run_is_never_exceeded(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    with build_client(server.url, None) as client:
        limited = source(client, store, clock, budget=2)
        limited.pull(K8S, 1)
        limited.tags(K8S)
        with pytest.raises(BudgetExhausted):
            limited.issue(K8S, 1)
    assert len(list(server.iter_requests())) == 2


def test_a_remaining_count_of_zero_is_waited_out_when_the_reset_is_near(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    server.set_remaining(1)
    with build_client(server.url, TOKEN) as client:
        github = source(client, store, clock, max_wait=3700)
        github.pull(K8S, 1)  # answered with X-RateLimit-Remaining: 0
        github.tags(K8S)  # waits for the reset, then asks
    assert len(clock.sleeps) == 1 and 3500 < clock.sleeps[0] <= 3601
    assert [r.status for r in server.iter_requests()] == [200, 200]


def test_a_remaining_count_of_zero_stops_the_run_when_the_reset_is_far(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    server.set_remaining(1)
    with build_client(server.url, TOKEN) as client:
        github = source(client, store, clock, max_wait=60)
        github.pull(K8S, 1)
        with pytest.raises(RateLimited) as caught:
            github.tags(K8S)
    assert caught.value.until is not None and clock.sleeps == []
    assert len(list(server.iter_requests())) == 1


def test_offline_answers_come_from_the_store_or_not_at_all(
    server: GitHubAPIServer, store: UpstreamStore, clock: FakeClock
) -> None:
    with build_client(server.url, TOKEN) as client:
        online = source(client, store, clock).pull(K8S, 1)
        offline = source(client, store, clock, offline=True)
        assert offline.pull(K8S, 1) == online
        with pytest.raises(NotCached):
            offline.tags(K8S)
    assert len(list(server.iter_requests())) == 1


@contextlib.contextmanager
def _answering(body: bytes, headers: dict[str, str] | None = None) -> Iterator[str]:
    """A server on 127.0.0.1 that gives every GET one fixed 200 answer; yields its URL."""
    extra = headers or {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = LoopbackHTTPServer(Handler)
    server.start("fixed-answer")
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.stop()


def test_an_answer_of_the_wrong_shape_is_a_bad_answer(
    store: UpstreamStore, clock: FakeClock
) -> None:
    with (
        _answering(json.dumps({"number": "one"}).encode()) as url,
        build_client(url, TOKEN) as client,
        pytest.raises(UpstreamBadAnswer) as caught,
    ):
        source(client, store, clock).pull(K8S, 1)
    assert "number" in str(caught.value)


def test_a_pagination_link_to_another_host_is_not_followed(
    store: UpstreamStore, clock: FakeClock
) -> None:
    body = json.dumps([{"name": "v1.0.0", "commit": {"sha": "a" * 40}}]).encode()
    link = '<https://evil.example/tags?page=2>; rel="next"'
    with (
        _answering(body, {"Link": link}) as url,
        build_client(url, TOKEN) as client,
        pytest.raises(UpstreamBadAnswer),
    ):
        source(client, store, clock).tags(K8S)


def test_httpx_is_imported_only_by_the_github_adapter() -> None:
    root = Path(__file__).resolve().parents[3]
    importers = set()
    for package in ("advisories", "jobs", "bot"):
        for path in (root / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(name == "httpx" or name.startswith("httpx.") for name in names):
                    importers.add(path.relative_to(root).as_posix())
    assert importers == {"jobs/upstream/github.py"}
