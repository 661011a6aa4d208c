"""The upstream tables on every supported state database (SQLite; PostgreSQL when available)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from advisories.models import AdvisoryId
from jobs.store import Store, UpstreamStore, UpstreamStoreError
from jobs.store.upstream import SCHEMA_VERSION, ensure_schema
from jobs.upstream.models import (
    CherryPick,
    Disagreement,
    LineFix,
    News,
    NewsKind,
    ReferenceState,
    RefKey,
    RepoName,
)
from jobs.upstream.port import StoredAnswer
from tests.state_databases import BACKENDS, database_url

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
PULL = RefKey(RepoName("kubernetes/kubernetes"), "pull", 122204)
ISSUE = RefKey(RepoName("kubernetes/kubernetes"), "issues", 121362)


@pytest.mark.parametrize("backend", BACKENDS)
def test_states_answers_passes_news_and_disagreements_round_trip(
    backend: str, tmp_path: Path
) -> None:
    pull = ReferenceState(
        PULL,
        "Fix race",
        "closed",
        NOW,
        merged=True,
        merged_at=NOW - timedelta(days=80),
        merge_commit="a" * 40,
        base="master",
        labels=("kind/bug",),
        milestone="v1.30",
        cherry_picks=(
            CherryPick(
                122756,
                "Automated cherry pick of #122204",
                "release-1.29",
                "1.29",
                "closed",
                True,
                NOW,
                "b" * 40,
            ),
        ),
        fixes=(LineFix("1.29", "v1.29.2", 122756), LineFix(None, None, 122204)),
    )
    issue = ReferenceState(
        ISSUE, "Bug", "closed", NOW, closed_at=NOW, state_reason="completed", closed_by=(122204,)
    )
    news = News(
        NewsKind.FIX_RELEASED, PULL, (AdvisoryId("KP-X"),), "released", NOW, "1.29", "v1.29.2"
    )
    disagreement = Disagreement(AdvisoryId("SP-3211"), "0.9", "v0.9.2", "0.9.8", PULL, 3211)
    with database_url(backend, tmp_path) as url, Store.open(url) as store:
        upstream = UpstreamStore(store.engine)
        UpstreamStore(store.engine)  # the schema is created once, then found
        upstream.record_state(pull, NOW)
        upstream.record_state(issue, NOW)
        upstream.record_error(PULL, "503 Service Unavailable", NOW + timedelta(days=1))
        answer = StoredAnswer(
            "https://api.github.com/x?a=1",
            "[]",
            'W/"e"',
            None,
            "https://api.github.com/x?a=1&page=2",
            NOW,
        )
        upstream.put(answer)
        upstream.put(StoredAnswer(answer.url, "[1]", 'W/"f"', fetched_at=NOW))
        upstream.start_pass(NOW)
        current = upstream.current_pass()
        upstream.finish_pass()
        upstream.add_news([news])
        upstream.replace_disagreements([disagreement], NOW)
        upstream.replace_disagreements([disagreement], NOW + timedelta(days=1))
        records = upstream.records()
        assert records[PULL].state == pull and records[ISSUE].state == issue
        assert records[PULL].error == "503 Service Unavailable"
        assert records[PULL].synced_at == NOW and records[PULL].error_at == NOW + timedelta(days=1)
        stored = upstream.get(answer.url)
        assert stored is not None and (stored.body, stored.etag, stored.next_url) == (
            "[1]",
            'W/"f"',
            None,
        )
        assert stored.fetched_at == NOW
        assert current.started_at == NOW and not current.done
        assert upstream.current_pass().done
        assert upstream.news_since(NOW) == [news] and upstream.news_since(NOW + timedelta(1)) == []
        assert upstream.disagreements() == [disagreement]


def test_the_schema_is_created_once_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        ensure_schema(engine)
        ensure_schema(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"UPDATE upstream_meta SET value = '{SCHEMA_VERSION + 1}' "
                "WHERE key = 'schema_version'"
            )
        with pytest.raises(UpstreamStoreError, match="newer"):
            UpstreamStore(engine)
    finally:
        engine.dispose()
