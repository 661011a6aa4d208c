"""Upstream sync end to end: the real httpx client against the GitHub API server on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import text

from advisories.derive import resolve
from advisories.engine import Engine
from advisories.facts import Facts, parse_fact
from jobs.upstream.compare import fix_advice
from jobs.upstream.models import LineFix, NewsKind, RefKey, RepoName
from tests.jobs.upstream_support import (
    KP_RACE,
    SP_RKE2,
    TOKEN,
    advisory,
    build_kubernetes,
    build_spiderpool,
    harness,
)
from tests.servers.github import FakeRepo, GitHubAPIServer


def world(server: GitHubAPIServer) -> FakeRepo:
    """Both upstream worlds; returns kubernetes/kubernetes."""
    build_spiderpool(server)
    return build_kubernetes(server)


PR_122204 = RefKey(RepoName("kubernetes/kubernetes"), "pull", 122204)
ISSUE_121362 = RefKey(RepoName("kubernetes/kubernetes"), "issues", 121362)
PR_3211 = RefKey(RepoName("spidernet-io/spiderpool"), "pull", 3211)


@pytest.fixture
def advisories() -> list:
    return [advisory(KP_RACE), advisory(SP_RKE2)]


def test_a_sync_reads_state_cherry_picks_and_the_first_released_tag_of_every_line(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        report = h.sync()
        assert report.failed == () and report.remaining == () and report.pass_done
        assert set(report.synced) == {PR_122204, ISSUE_121362, PR_3211}
        state = h.store.states()[PR_122204]
    assert state.merged is True and state.base == "master" and state.milestone == "v1.30"
    assert "area/kube-proxy" in state.labels
    assert [(p.number, p.base, p.merged) for p in state.cherry_picks] == [
        (122756, "release-1.29", True),
        (122757, "release-1.28", True),
        (122815, "release-1.27", True),
    ]
    assert state.fixes == (
        LineFix("1.27", "v1.27.11", 122815),
        LineFix("1.28", "v1.28.7", 122757),
        LineFix("1.29", "v1.29.2", 122756),
        LineFix("1.30", "v1.30.0", 122204),
    )


def test_an_issue_is_linked_to_the_pr_that_closed_it(tmp_path: Path, advisories: list) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.sync()
        issue = h.store.states()[ISSUE_121362]
    assert issue.state == "closed" and issue.closed_by == (122204,)
    assert issue.state_reason == "completed" and issue.closed_at is not None


def test_merged_is_read_from_merged_not_from_merge_commit_sha(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories) as h:
        k8s = world(h.server)
        k8s.pull(
            122204, "Fix race (closed, superseded)", base="master", merged=False, state="closed"
        )
        h.sync()
        state = h.store.states()[PR_122204]
        raw = h.server.repos["kubernetes/kubernetes"].pulls[122204]
    assert raw.merge_commit_sha is not None  # GitHub's test merge is still there
    assert state.merged is False and state.merge_commit is None
    assert state.fixes == () and state.cherry_picks == ()


def test_a_second_sync_with_nothing_changed_sends_only_conditional_requests_answered_304(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.sync()
        h.server.clear_requests()
        h.clock.advance(days=1)
        report = h.sync()
        requests = list(h.server.iter_requests())
    assert report.news == () and report.pass_done
    assert requests, "a new pass asks upstream again"
    assert all(r.conditional for r in requests)
    assert {r.status for r in requests} == {304}
    # Comparisons of two fixed commits are never asked twice.
    assert not [r for r in requests if "/compare/" in r.path]


def test_a_newly_released_tag_is_news_once_and_not_again(tmp_path: Path) -> None:
    with harness(tmp_path, [advisory(KP_RACE)]) as h:
        k8s = build_kubernetes(h.server)
        k8s.pull(
            122900,
            "Automated cherry pick of #122204: Fix race condition in iptables "
            "partial sync handling",
            base="release-1.26",
        )
        h.sync()
        before = h.store.states()[PR_122204]
        assert LineFix("1.26", None, 122900) in before.fixes  # merged, not released yet
        h.clock.advance(days=1)
        k8s.commit("release-1.26", "Release commit for Kubernetes v1.26.15")
        k8s.tag("v1.26.15", "release-1.26")
        second = h.sync()
        h.clock.advance(days=1)
        third = h.sync()
    released = [n for n in second.news if n.kind is NewsKind.FIX_RELEASED]
    assert [(n.line, n.tag, n.ref) for n in released] == [("1.26", "v1.26.15", PR_122204)]
    assert "v1.26.15" in released[0].text and "#122900" in released[0].text
    assert released[0].advisories == ("TEST-KP-RACE",)
    assert [n for n in third.news if n.kind is NewsKind.FIX_RELEASED] == []


def test_a_pr_merged_and_an_issue_closed_or_reopened_are_news(tmp_path: Path) -> None:
    with harness(tmp_path, [advisory(KP_RACE)]) as h:
        k8s = h.server.repo("kubernetes/kubernetes")
        k8s.issue(121362, "endpoints not updated")
        k8s.pull(122204, "Fix race condition", merged=False, body="Fixes #121362")
        h.sync()
        h.clock.advance(hours=6)
        k8s.merge(122204)
        merged = h.sync()
        h.clock.advance(hours=6)
        k8s.reopen_issue(121362)
        reopened = h.sync()
    assert {n.kind for n in merged.news} == {NewsKind.PULL_MERGED, NewsKind.ISSUE_CLOSED}
    closed = next(n for n in merged.news if n.kind is NewsKind.ISSUE_CLOSED)
    assert "closed by #122204" in closed.text
    assert [n.kind for n in reopened.news] == [NewsKind.ISSUE_REOPENED]


def test_a_disagreement_with_the_catalog_is_news_and_verdicts_do_not_change(
    tmp_path: Path, advisories: list
) -> None:
    engine = Engine(advisories)
    facts = Facts(values={"spiderpool": parse_fact("spiderpool", "0.9.3")[1]})
    before = [(r.id, r.verdict) for r in engine.evaluate(resolve(facts))]
    with harness(tmp_path, advisories) as h:
        world(h.server)
        first = h.sync()
        h.clock.advance(days=1)
        second = h.sync()
        states = h.store.states()
        stored = h.store.disagreements()
    [news] = [n for n in first.news if n.kind is NewsKind.CATALOG_DISAGREES]
    assert news.text == (
        "TEST-SP-RKE2: upstream reports v0.9.2 on the 0.9 line (spidernet-io/spiderpool#3211); "
        "the catalog says 0.9.8"
    )
    assert second.news == () and [d.upstream for d in second.disagreements] == ["v0.9.2"]
    assert [d.catalog for d in stored] == ["0.9.8"]
    after = [(r.id, r.verdict) for r in Engine(advisories).evaluate(resolve(facts))]
    assert after == before and dict(after)["TEST-SP-RKE2"].value == "affected"
    # The catalog decides the advice, not the ancestry of v0.9.2.
    rke2 = advisories[1]
    assert fix_advice(rke2, states, "v0.9.3") is not None
    assert fix_advice(rke2, states, "v0.9.3").on_line == "0.9.8"  # type: ignore[union-attr]


def test_an_unauthenticated_sync_spends_its_budget_then_the_next_run_resumes(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories, token=None, budget=6) as h:
        world(h.server)
        runs = []
        for _ in range(10):
            runs.append(h.sync(concurrency=1))
            h.clock.advance(hours=1)
            if runs[-1].pass_done:
                break
        requests = list(h.server.iter_requests())
        states = h.store.states()
        sent = [source.stats.sent for source in h.sources]
    assert runs[0].stopped is not None and "budget" in runs[0].stopped
    assert runs[0].remaining and not runs[0].pass_done
    assert runs[-1].pass_done and len(runs) > 2
    assert all(n <= 6 for n in sent) and sum(sent) == len(requests)
    # Every reference was synced once in the pass, and nothing was asked twice.
    assert set(states) == {PR_122204, ISSUE_121362, PR_3211}
    assert states[PR_122204].fixes[-1] == LineFix("1.30", "v1.30.0", 122204)
    paths = [r.path + "?" + str(sorted(r.query.items())) for r in requests]
    assert len(paths) == len(set(paths))
    assert not any("Authorization" in r.headers for r in requests)


def test_a_secondary_rate_limit_within_the_bound_is_waited_out(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.server.secondary_limit("/search/issues", retry_after=7)
        report = h.sync()
        sleeps = h.clock.sleeps
        statuses = [r.status for r in h.server.iter_requests() if r.path == "/search/issues"]
    assert report.stopped is None and report.pass_done
    assert 7.0 in sleeps
    assert statuses == [403, 200]


def test_a_secondary_rate_limit_beyond_the_bound_stops_the_run_and_the_next_resumes(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories, max_wait=30) as h:
        world(h.server)
        h.server.secondary_limit("/repos/kubernetes/kubernetes/tags", retry_after=600)
        first = h.sync(concurrency=1)
        done_first = set(first.synced)
        h.clock.advance(minutes=11)
        h.server.clear_requests()
        second = h.sync(concurrency=1)
        resumed = list(h.server.iter_requests())
    assert first.stopped is not None and "secondary rate limit" in first.stopped
    assert first.remaining == (PR_122204, PR_3211) and not first.pass_done
    assert set(second.synced) == {PR_122204, PR_3211} and second.pass_done
    assert not done_first & set(second.synced)
    # Answers already read in the pass are not asked again.
    assert "/repos/kubernetes/kubernetes/pulls/122204" not in [r.path for r in resumed]


def test_an_exhausted_primary_rate_limit_stops_cleanly_with_progress_kept(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.server.set_remaining(3)
        first = h.sync(concurrency=1)
        synced = set(h.store.states())
        statuses = [r.status for r in h.server.iter_requests()]
        h.clock.advance(hours=1, seconds=5)
        second = h.sync(concurrency=1)
    assert first.stopped is not None and "rate limit" in first.stopped
    assert synced == set(first.synced) and first.remaining
    # The client saw X-RateLimit-Remaining: 0 and stopped instead of hammering a 403.
    assert statuses.count(403) <= 1
    assert second.pass_done and set(second.synced) == set(first.remaining)


@pytest.mark.parametrize("status", [404, 410, 500, 502, 503])
def test_a_failing_reference_does_not_stop_the_others(
    tmp_path: Path, advisories: list, status: int
) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.server.fail("/repos/kubernetes/kubernetes/pulls/122204", status)
        report = h.sync()
        records = h.store.records()
    assert [ref for ref, _ in report.failed] == [PR_122204]
    assert str(status) in report.failed[0][1]
    assert set(report.synced) == {ISSUE_121362, PR_3211} and report.pass_done
    assert records[PR_122204].state is None and records[PR_122204].error


def test_a_5xx_that_recovers_is_retried(tmp_path: Path, advisories: list) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.server.fail("/repos/kubernetes/kubernetes/tags", 502, times=1)
        report = h.sync()
    assert report.failed == () and PR_122204 in report.synced


def test_a_failed_reference_keeps_its_last_state(tmp_path: Path, advisories: list) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.sync()
        h.clock.advance(days=1)
        h.server.fail("/repos/kubernetes/kubernetes/pulls/122204", 503)
        report = h.sync()
        record = h.store.records()[PR_122204]
    assert report.failed and record.state is not None and record.state.merged
    assert record.error is not None and "503" in record.error


def test_an_offline_sync_sends_nothing_and_answers_from_the_stored_answers(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.sync(only=[PR_122204, ISSUE_121362])
        h.server.clear_requests()
        h.clock.advance(days=3)
        report = h.sync(offline=True)
        requests = list(h.server.iter_requests())
        state = h.store.states()[PR_122204]
    assert requests == []
    assert PR_122204 in report.synced and state.fixes[-1].tag == "v1.30.0"
    assert [ref for ref, _ in report.failed] == [PR_3211]  # never read: nothing stored


def test_a_partial_sync_reads_only_the_given_references(tmp_path: Path, advisories: list) -> None:
    with harness(tmp_path, advisories) as h:
        world(h.server)
        report = h.sync(only=[PR_3211])
        paths = {r.path for r in h.server.iter_requests()}
    assert report.synced == (PR_3211,)
    assert not any(p.startswith("/repos/kubernetes/") for p in paths)


def test_tags_are_read_page_by_page_following_link_headers(
    tmp_path: Path, advisories: list
) -> None:
    with harness(tmp_path, advisories, per_page_max=10) as h:
        world(h.server)
        h.sync()
        pages = [
            r.query.get("page", "1")
            for r in h.server.iter_requests()
            if r.path == "/repos/kubernetes/kubernetes/tags"
        ]
        state = h.store.states()[PR_122204]
    assert pages == ["1", "2", "3"]  # 27 tags, 10 a page
    assert state.fixes[0] == LineFix("1.27", "v1.27.11", 122815)


def test_the_token_never_appears_in_logs_errors_or_stored_state(
    tmp_path: Path, advisories: list, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with harness(tmp_path, advisories) as h:
        world(h.server)
        h.server.fail("/repos/spidernet-io/spiderpool/*", 500)
        h.server.secondary_limit("/search/issues", retry_after=3)
        report = h.sync()
        sent = [r.headers.get("Authorization") for r in h.server.iter_requests()]
        dumped = "\n".join(str(row) for table in TABLES for row in _rows(h.engine, table))
    assert set(sent) == {f"Bearer {TOKEN}"}  # it was used...
    assert report.failed  # ...errors happened...
    text = caplog.text + repr(report) + dumped + "".join(str(e) for _, e in report.failed)
    assert TOKEN not in text  # ...and it is nowhere else
    assert TOKEN[-10:] not in text


TABLES = ("upstream_answer", "upstream_reference", "upstream_news", "upstream_meta")


def _rows(engine: sqlalchemy.Engine, table: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT * FROM {table}")))
