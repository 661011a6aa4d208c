"""The GitHub API test server answers like GitHub where netadvisor depends on it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers.github import GitHubAPIServer

TOKEN = "ghp_server_test_token"


@pytest.fixture
def server() -> Iterator[GitHubAPIServer]:
    with GitHubAPIServer(token=TOKEN, per_page_max=2) as server:
        repo = server.repo("octo/repo")
        repo.issue(1, "A bug")
        repo.tag("v1.0.0")
        repo.pull(2, "Fix the bug", body="Fixes #1")
        repo.tag("v1.0.1")
        repo.tag("v1.1.0-rc.1")
        yield server


@pytest.fixture
def client(server: GitHubAPIServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        yield client


def test_lists_are_paginated_with_link_headers(client: httpx.Client) -> None:
    first = client.get("/repos/octo/repo/tags", params={"per_page": 2})
    assert [t["name"] for t in first.json()] == ["v1.1.0-rc.1", "v1.0.1"]
    assert set(first.links) == {"next", "last"}
    second = client.get(first.links["next"]["url"])
    assert [t["name"] for t in second.json()] == ["v1.0.0"]
    assert set(second.links) == {"prev", "first"}
    releases = client.get("/repos/octo/repo/releases").json()
    assert [(r["tag_name"], r["prerelease"]) for r in releases] == [
        ("v1.1.0-rc.1", True),
        ("v1.0.1", False),
    ]


def test_an_etag_answers_304_and_an_authorised_304_is_free(client: httpx.Client) -> None:
    first = client.get("/repos/octo/repo/pulls/2")
    again = client.get("/repos/octo/repo/pulls/2", headers={"If-None-Match": first.headers["ETag"]})
    assert first.status_code == 200 and again.status_code == 304 and again.content == b""
    assert again.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]
    since = client.get(
        "/repos/octo/repo/issues/1", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
    )
    assert since.status_code == 304


def test_an_anonymous_304_still_counts(server: GitHubAPIServer) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        first = anonymous.get("/repos/octo/repo/pulls/2")
        again = anonymous.get(
            "/repos/octo/repo/pulls/2", headers={"If-None-Match": first.headers["ETag"]}
        )
    assert first.headers["X-RateLimit-Limit"] == "60"
    assert (
        int(again.headers["X-RateLimit-Remaining"])
        == int(first.headers["X-RateLimit-Remaining"]) - 1
    )


def test_pulls_issues_timeline_and_events_have_githubs_shapes(client: httpx.Client) -> None:
    pull = client.get("/repos/octo/repo/pulls/2").json()
    assert pull["merged"] is True and pull["base"]["ref"] == "master"
    assert pull["merge_commit_sha"] and pull["merged_at"]
    issue = client.get("/repos/octo/repo/issues/1").json()
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    timeline = []
    page = client.get("/repos/octo/repo/issues/1/timeline", params={"per_page": 100})
    while True:
        timeline.extend(page.json())
        if "next" not in page.links:
            break
        page = client.get(page.links["next"]["url"])
    kinds = [e["event"] for e in timeline]
    assert kinds[-2:] == ["cross-referenced", "closed"]
    source = timeline[-2]["source"]["issue"]
    assert source["number"] == 2 and source["pull_request"]["merged_at"] == pull["merged_at"]
    assert timeline[-1]["commit_id"] == pull["merge_commit_sha"]
    events = client.get("/repos/octo/repo/issues/1/events").json()
    assert [e["event"] for e in events] == ["closed"]


@pytest.mark.parametrize(
    ("base", "head", "status", "ahead", "behind"),
    [
        ("v1.0.0", "v1.0.1", "ahead", 1, 0),
        ("v1.0.1", "v1.0.0", "behind", 0, 1),
        ("v1.0.1", "v1.0.1", "identical", 0, 0),
    ],
)
def test_compare_follows_the_commit_graph(
    client: httpx.Client, base: str, head: str, status: str, ahead: int, behind: int
) -> None:
    data = client.get(f"/repos/octo/repo/compare/{base}...{head}").json()
    assert (data["status"], data["ahead_by"], data["behind_by"]) == (status, ahead, behind)


def test_compare_reports_diverged_branches(server: GitHubAPIServer, client: httpx.Client) -> None:
    repo = server.repos["octo/repo"]
    repo.branch("side", "v1.0.0")
    repo.commit("side", "elsewhere")
    data = client.get("/repos/octo/repo/compare/v1.0.1...side").json()
    assert (data["status"], data["ahead_by"], data["behind_by"]) == ("diverged", 1, 1)
    assert client.get("/repos/octo/repo/compare/v1.0.1...nope").status_code == 404


def test_search_finds_pull_requests_by_number_in_title_or_body(client: httpx.Client) -> None:
    data = client.get("/search/issues", params={"q": "repo:octo/repo is:pr 1"}).json()
    assert data["incomplete_results"] is False
    assert [i["number"] for i in data["items"]] == [2]
    assert client.get("/search/issues", params={"q": "is:pr 1"}).status_code == 422


def test_rate_limits_secondary_limits_errors_and_bad_credentials(
    server: GitHubAPIServer, client: httpx.Client
) -> None:
    server.secondary_limit("/repos/octo/repo/pulls/*", retry_after=30)
    limited = client.get("/repos/octo/repo/pulls/2")
    assert limited.status_code == 403 and limited.headers["Retry-After"] == "30"
    assert "secondary rate limit" in limited.json()["message"]
    server.fail("/repos/octo/repo/issues/1", 502, times=1)
    assert client.get("/repos/octo/repo/issues/1").status_code == 502
    assert client.get("/repos/octo/repo/issues/1").status_code == 200
    server.exhaust("core", reset_in=600)
    exhausted = client.get("/repos/octo/repo/pulls/2")
    assert exhausted.status_code == 403 and exhausted.headers["X-RateLimit-Remaining"] == "0"
    assert "API rate limit exceeded" in exhausted.json()["message"]
    bad = client.get("/repos/octo/repo/pulls/2", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert [r.status for r in server.iter_requests()] == [403, 502, 200, 403, 401]
