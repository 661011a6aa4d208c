"""doctor's GitHub lines, against the fake GitHub API through the real httpx client."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.checks import CheckStatus
from jobs.upstream.github import build_client, check_access
from tests.servers.github import GitHubAPIServer


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_valid_token_and_the_remaining_rate_limit_are_reported() -> None:
    with GitHubAPIServer(token="t0ken") as server, build_client(server.url, "t0ken") as client:
        server.set_remaining(4321, authenticated=True)
        results = check_access(client, token_given=True, now=_now())
        assert server.paths() == ["/rate_limit"]
    assert [(r.subject, r.status) for r in results] == [
        ("token", CheckStatus.OK),
        ("rate limit", CheckStatus.OK),
    ]
    assert results[1].message.startswith("4321 of 5000 requests left, reset in ")


def test_a_refused_token_fails_with_a_fix_and_without_the_token() -> None:
    with GitHubAPIServer(token="t0ken") as server, build_client(server.url, "stale") as client:
        results = check_access(client, token_given=True, now=_now())
    assert [(r.subject, r.status) for r in results] == [("token", CheckStatus.FAIL)]
    assert "GITHUB_TOKEN" in results[0].fix
    assert "stale" not in results[0].message + results[0].fix


def test_no_token_warns_and_a_nearly_spent_limit_warns() -> None:
    with GitHubAPIServer(token="t0ken") as server, build_client(server.url) as client:
        server.set_remaining(3, authenticated=False)
        results = check_access(client, token_given=False, now=_now())
    assert [(r.subject, r.status) for r in results] == [
        ("token", CheckStatus.WARN),
        ("rate limit", CheckStatus.WARN),
    ]
    assert results[0].message == "none: anonymous requests, 60 an hour"
    assert results[1].message.startswith("3 of 60 requests left")


def test_an_unreachable_api_is_one_failing_line() -> None:
    with GitHubAPIServer() as server:
        url = server.url
    with build_client(url, timeout=2) as client:
        results = check_access(client, token_given=False, now=_now())
    assert [(r.subject, r.status) for r in results] == [("reachable", CheckStatus.FAIL)]
