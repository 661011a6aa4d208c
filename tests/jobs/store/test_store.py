"""The state store, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from advisories.fleet import match_cluster
from jobs.mutes import ConfigMute
from jobs.notices import MatchSnapshot, MessageRef
from jobs.store import (
    ClusterState,
    IntentState,
    MatchRecord,
    MatchState,
    MuteRecord,
    Store,
    StoreError,
    first_time,
    forget,
    schema,
)
from tests.tracked_fleet import cluster, engine, unreadable

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _snapshot(
    advisory: str = "KP-IPVS-CONN-REUSE", nodes: tuple[str, ...] = ("n1",)
) -> MatchSnapshot:
    return MatchSnapshot(
        advisory_id=advisory,
        title="IPVS connection reuse",
        component="kube-proxy",
        verdict="affected",
        severity="high",
        impact="1 s delays",
        recommendation="upgrade the kernel",
        cases=("a",),
        affected_nodes=nodes,
        node_count=3,
        triggers=(("kernel", "5.4.0"),),
    )


def test_a_new_database_gets_every_table_and_the_current_schema_version(store: Store) -> None:
    assert store.schema_version() == schema.SCHEMA_VERSION
    with store.transaction() as tx:
        for table in schema.metadata.tables.values():
            tx.conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_opening_again_keeps_the_data_and_reports_the_version_found(url: str) -> None:
    with Store.open(url) as first, first.transaction() as tx:
        tx.add_mute(NOW, "known", "alice", advisory_id="SP-2370")
    with Store.open(url) as second:
        assert second.migrate() == schema.SCHEMA_VERSION
        with second.transaction() as tx:
            assert [m.reason for m in tx.mutes()] == ["known"]


def test_migrations_run_once_each_in_order_from_the_stored_version(store: Store) -> None:
    ran: list[int] = []
    migrations = {
        schema.SCHEMA_VERSION + 1: lambda conn: ran.append(schema.SCHEMA_VERSION + 1),
        schema.SCHEMA_VERSION + 2: lambda conn: ran.append(schema.SCHEMA_VERSION + 2),
    }
    found = store.migrate(migrations, version=schema.SCHEMA_VERSION + 2)
    assert found == schema.SCHEMA_VERSION
    assert ran == [schema.SCHEMA_VERSION + 1, schema.SCHEMA_VERSION + 2]
    assert store.schema_version() == schema.SCHEMA_VERSION + 2
    store.migrate(migrations, version=schema.SCHEMA_VERSION + 2)
    assert len(ran) == 2


def test_a_database_written_by_a_newer_netadvisor_is_refused(url: str) -> None:
    with Store.open(url) as store:
        store.migrate({schema.SCHEMA_VERSION + 1: lambda conn: None}, schema.SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="newer than this netadvisor"):
        Store.open(url)


def test_stored_facts_give_the_same_verdicts_as_the_live_scan(store: Store) -> None:
    live = cluster(kernels=("5.4.0-150-generic", "5.15.0-91-generic", "5.4.0-150-generic"))
    with store.transaction() as tx:
        run = tx.begin_run(NOW, "config", "2026.1")
        tx.record_scan(run, NOW, live, live.uid)
    with store.transaction() as tx:
        found = tx.latest_facts("prod-1")
        by_uid = tx.latest_facts("uid-prod-1")
    assert found is not None and by_uid is not None
    at, restored = found
    assert at == NOW
    assert restored == by_uid[1]
    assert sorted(restored.nodes, key=lambda n: n.name) == sorted(live.nodes, key=lambda n: n.name)
    assert restored.facts == live.facts
    live_verdicts = [(m.verdict, m.affected_nodes) for m in match_cluster(engine(), live)]
    restored_verdicts = [
        (m.verdict, sorted(m.affected_nodes)) for m in match_cluster(engine(), restored)
    ]
    assert [(v, sorted(n)) for v, n in live_verdicts] == restored_verdicts


def test_identical_facts_are_stored_once_and_unreadable_scans_store_none(store: Store) -> None:
    with store.transaction() as tx:
        for hour in range(3):
            run = tx.begin_run(NOW + timedelta(hours=hour), "config", "2026.1")
            tx.record_scan(run, NOW + timedelta(hours=hour), cluster(), "uid-prod-1")
        run = tx.begin_run(NOW + timedelta(hours=4), "config", "2026.1")
        tx.record_scan(run, NOW + timedelta(hours=4), unreadable(uid="uid-prod-1"), "uid-prod-1")
        assert tx.conn.execute(select(func.count()).select_from(schema.facts)).scalar_one() == 1
        assert [s[1] for s in tx.scans("uid-prod-1")] == ["unreachable", "ok", "ok", "ok"]
        latest = tx.latest_facts("uid-prod-1")
    assert latest is not None and latest[0] == NOW + timedelta(hours=2)


def test_pruning_forgets_old_runs_but_keeps_each_clusters_last_scan(store: Store) -> None:
    with store.transaction() as tx:
        old = tx.begin_run(NOW - timedelta(days=40), "config", "1")
        tx.record_scan(old, NOW - timedelta(days=40), cluster("gone"), "uid-gone")
        tx.record_scan(old, NOW - timedelta(days=40), cluster("kept"), "uid-kept")
        new = tx.begin_run(NOW, "config", "1")
        tx.record_scan(new, NOW, cluster("kept", kernels=("6.1.0",)), "uid-kept")
        assert tx.prune(NOW - timedelta(days=30)) == 0  # "gone" has its only scan in that run
    with store.transaction() as tx:
        assert tx.latest_facts("gone") is not None
        newer = tx.begin_run(NOW + timedelta(days=1), "config", "1")
        tx.record_scan(newer, NOW + timedelta(days=1), cluster("gone"), "uid-gone")
        assert tx.prune(NOW - timedelta(days=30)) == 1
        assert tx.conn.execute(select(func.count()).select_from(schema.facts)).scalar_one() == 2


def test_matches_are_keyed_by_cluster_uid_and_advisory_with_their_attributes(store: Store) -> None:
    record = MatchRecord(
        cluster_uid="uid-a",
        advisory_id="KP-IPVS-CONN-REUSE",
        state=MatchState.OPEN,
        snapshot=_snapshot(nodes=("n1", "n2")),
        first_seen=NOW,
        last_seen=NOW,
        changed_at=NOW,
        opened_at=NOW,
        message=MessageRef("C1", "1700000000.000100"),
    )
    with store.transaction() as tx:
        tx.save_match(record)
        tx.save_match(
            MatchRecord(
                "uid-b", "KP-IPVS-CONN-REUSE", MatchState.UNKNOWN, _snapshot(), NOW, NOW, NOW
            )
        )
    with store.transaction() as tx:
        assert tx.match("uid-a", "KP-IPVS-CONN-REUSE") == record
        assert [m.cluster_uid for m in tx.matches(None, MatchState.OPEN)] == ["uid-a"]
        tx.save_match(
            MatchRecord(**{**_fields(record), "state": MatchState.RESOLVED, "closed_at": NOW})
        )
    with store.transaction() as tx:
        assert [m.state for m in tx.matches("uid-a")] == [MatchState.RESOLVED]


def _fields(record: MatchRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}


def test_a_cluster_row_is_created_once_and_keeps_its_first_sighting(store: Store) -> None:
    with store.transaction() as tx:
        first = tx.lock_cluster("uid-a", "prod", NOW, {"env": "prod"})
    with store.transaction() as tx:
        again = tx.lock_cluster("uid-a", "prod", NOW + timedelta(hours=1), {"env": "dev"})
    assert again.first_seen == first.first_seen == NOW
    assert again.state is ClusterState.ACTIVE
    assert again.labels == {"env": "prod"}


def test_an_intent_is_claimed_by_one_worker_until_its_lease_ends(store: Store) -> None:
    lease = timedelta(minutes=5)
    with store.transaction() as tx:
        intent = tx.add_intent(NOW, "C1", "new", {"type": "match"})
    with store.transaction() as tx:
        assert tx.claim_intent(intent, "worker-a", NOW, lease)
        assert not tx.claim_intent(intent, "worker-b", NOW + timedelta(minutes=1), lease)
        assert tx.claim_intent(intent, "worker-b", NOW + timedelta(minutes=6), lease)
        tx.release_intent(intent, "worker-b")
        assert tx.claim_intent(intent, "worker-a", NOW + timedelta(minutes=7), lease)
        tx.close_intent(intent, NOW)
        assert not tx.claim_intent(intent, "worker-a", NOW + timedelta(hours=1), lease)
        assert tx.intents(IntentState.PENDING) == []


def test_a_step_started_and_not_recorded_stays_marked_as_maybe_posted(store: Store) -> None:
    with store.transaction() as tx:
        intent = tx.add_intent(NOW, "C1", "new", {"type": "match"})
        tx.start_step(intent, 0, NOW)
    with store.transaction() as tx:
        started = tx.intent(intent)
        tx.fail_step(intent, "HTTP 500", maybe_posted=True)
        uncertain = tx.intent(intent)
        tx.finish_step(intent, 0, "C1", "1.0002")
        finished = tx.intent(intent)
    assert started is not None and started.attempt_step == 0 and started.attempts == 1
    assert uncertain is not None and uncertain.attempt_step == 0
    assert uncertain.last_error == "HTTP 500"
    assert finished is not None and finished.attempt_step is None
    assert finished.progress == {"0": ("C1", "1.0002")}


def test_mutes_cover_their_scope_until_they_expire_or_are_lifted(store: Store) -> None:
    with store.transaction() as tx:
        by_advisory = tx.add_mute(
            NOW,
            "kernel upgrade planned",
            "alice",
            advisory_id="A-1",
            expires_at=NOW + timedelta(days=1),
        )
        by_cluster = tx.add_mute(NOW, "lab cluster", "bob", cluster_uid="uid-lab")
        tx.add_mute(NOW, "expired", "carol", expires_at=NOW - timedelta(seconds=1))
    with store.transaction() as tx:
        active = tx.mutes(active_at=NOW)
        assert [m.id for m in active] == [by_advisory, by_cluster]
        assert active[0].covers("uid-any", "A-1") and not active[0].covers("uid-any", "A-2")
        assert active[1].covers("uid-lab", "A-2") and not active[1].covers("uid-x", "A-2")
        assert [m.id for m in tx.mutes(active_at=NOW + timedelta(days=2))] == [by_cluster]
        assert tx.lift_mute(by_cluster, NOW)
        assert not tx.lift_mute(by_cluster, NOW)
        assert [m.id for m in tx.mutes(active_at=NOW)] == [by_advisory]
        assert len(tx.mutes()) == 3


def test_a_mute_by_cluster_name_covers_whichever_cluster_has_that_name(store: Store) -> None:
    with store.transaction() as tx:
        mute_id = tx.add_mute(NOW, "lab", "bob", cluster_name="lab", advisory_id="A-1")
        mute = tx.mute(mute_id)
    assert mute is not None and not mute.every_cluster
    assert mute.covers("uid-new", "A-1", "lab") and not mute.covers("uid-new", "A-1", "prod")
    assert not mute.covers("uid-new", "A-2", "lab")


CONFIGURED = (
    ConfigMute("SP-3118", None, "no Spiderpool", expires_at=NOW + timedelta(days=30)),
    ConfigMute("KP-IPVS-CONN-REUSE", "prod-eu", "kernel upgrade in Q1", days=7),
)


def _config_mutes(store: Store, active_at: datetime | None = None) -> list[MuteRecord]:
    with store.transaction() as tx:
        return [m for m in tx.mutes(active_at) if m.from_config]


def test_config_mutes_are_added_once_kept_while_unchanged_and_lifted_when_removed(
    store: Store,
) -> None:
    first = store.run(lambda tx: tx.sync_config_mutes(CONFIGURED, NOW))
    assert (len(first.added), first.lifted, first.kept) == (2, (), 0)
    later = NOW + timedelta(days=1)
    again = store.run(lambda tx: tx.sync_config_mutes(CONFIGURED, later))
    assert (again.added, again.lifted, again.kept) == ((), (), 2)
    mutes = _config_mutes(store, later)
    assert [(m.advisory_id, m.cluster_uid, m.cluster_name) for m in mutes] == [
        ("SP-3118", None, None),
        ("KP-IPVS-CONN-REUSE", None, "prod-eu"),
    ]
    # days count from the first sync, not from each start
    assert mutes[1].expires_at == NOW + timedelta(days=7)
    assert all(m.created_by == "config" and m.created_at == NOW for m in mutes)
    removed = store.run(lambda tx: tx.sync_config_mutes(CONFIGURED[:1], later))
    assert removed.lifted == (mutes[1].id,)
    assert [m.advisory_id for m in _config_mutes(store, later)] == ["SP-3118"]
    with store.transaction() as tx:
        lifted = tx.mute(mutes[1].id)
    assert lifted is not None and lifted.lifted_at == later


def test_a_changed_config_mute_replaces_the_old_one(store: Store) -> None:
    store.run(lambda tx: tx.sync_config_mutes(CONFIGURED, NOW))
    longer = (CONFIGURED[0], replace(CONFIGURED[1], days=14))
    changed = store.run(lambda tx: tx.sync_config_mutes(longer, NOW + timedelta(days=1)))
    assert (len(changed.added), len(changed.lifted), changed.kept) == (1, 1, 1)
    active = _config_mutes(store, NOW + timedelta(days=1))
    assert active[-1].expires_at == NOW + timedelta(days=15)


def test_an_expired_config_mute_stays_expired_while_it_is_in_the_file(store: Store) -> None:
    short = (ConfigMute("SP-3118", None, "a week", days=7),)
    store.run(lambda tx: tx.sync_config_mutes(short, NOW))
    after = NOW + timedelta(days=8)
    synced = store.run(lambda tx: tx.sync_config_mutes(short, after))
    assert (synced.added, synced.kept) == ((), 1)
    assert _config_mutes(store, after) == []


def test_people_cannot_lift_a_config_mute(store: Store) -> None:
    store.run(lambda tx: tx.sync_config_mutes(CONFIGURED, NOW))
    mute = _config_mutes(store)[0]
    with store.transaction() as tx:
        assert not tx.lift_mute(mute.id, NOW)
        person = tx.add_mute(NOW, "mine", "alice")
        assert tx.lift_mute(person, NOW)
    assert _config_mutes(store, NOW)[0].id == mute.id
    # and a sync leaves people's mutes alone
    store.run(lambda tx: tx.sync_config_mutes((), NOW))
    with store.transaction() as tx:
        assert [m.reason for m in tx.mutes() if not m.from_config] == ["mine"]


def test_a_version_1_database_is_upgraded_and_keeps_its_mutes(url: str) -> None:
    with Store.open(url) as store, store.transaction() as tx:
        tx.add_mute(NOW, "from version 1", "alice", cluster_uid="uid-lab")
        # Back to version 1: the mutes table as it was, and the version it recorded.
        tx.conn.exec_driver_sql("DROP INDEX ix_mutes_source_key")
        for column in ("cluster_name", "source", "config_key"):
            tx.conn.exec_driver_sql(f"ALTER TABLE mutes DROP COLUMN {column}")
        tx.conn.execute(
            update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="1")
        )
    with Store.open(url) as store:
        assert store.schema_version() == schema.SCHEMA_VERSION
        with store.transaction() as tx:
            (old,) = tx.mutes()
        assert (old.reason, old.cluster_uid, old.cluster_name, old.from_config) == (
            "from version 1",
            "uid-lab",
            None,
            False,
        )
        store.run(lambda tx: tx.sync_config_mutes(CONFIGURED, NOW))
        assert len(_config_mutes(store)) == 2


def test_the_last_digest_is_kept_per_channel(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.last_digest("C1") is None
        tx.set_last_digest("C1", NOW)
        tx.set_last_digest("C1", NOW + timedelta(days=1))
        tx.set_last_digest("C2", NOW)
    with store.transaction() as tx:
        assert tx.last_digest("C1") == NOW + timedelta(days=1)
        assert tx.last_digest("C2") == NOW


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.transaction() as tx:
        tx.set_last_digest("C1", datetime(2026, 1, 1))


def test_a_sqlite_database_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    with Store.open(f"sqlite:///{path}") as store:
        assert store.dialect == "sqlite"
    assert path.is_file()


@pytest.mark.parametrize(
    "url",
    ["mysql://u:hunter2@localhost/db", "not a url", "postgresql://u:hunter2@127.0.0.1:1/db"],
)
def test_unusable_databases_raise_store_error_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "hunter2" not in str(caught.value)


def test_a_request_is_new_once_until_it_is_forgotten_or_a_day_old(store: Store) -> None:
    assert first_time(store, "event", "Ev01", NOW)
    assert not first_time(store, "event", "Ev01", NOW + timedelta(seconds=1))
    # the same value of another kind is another request
    assert first_time(store, "command", "Ev01", NOW)
    forget(store, "event", "Ev01")
    assert first_time(store, "event", "Ev01", NOW)
    assert first_time(store, "event", "Ev01", NOW + timedelta(days=1, seconds=1))
    with store.transaction() as tx:
        kept = tx.conn.execute(select(schema.replays.c.kind)).scalars().all()
    assert sorted(kept) == ["event"]  # the day-old records were pruned


def test_two_stores_on_one_database_agree_on_the_first_delivery(url: str) -> None:
    with Store.open(url) as one, Store.open(url) as two:
        outcomes = [first_time(s, "event", "Ev02", NOW) for s in (one, two, one)]
    assert outcomes == [True, False, False]


def test_a_version_2_database_gets_the_replays_table(url: str) -> None:
    with Store.open(url) as store, store.transaction() as tx:
        tx.conn.exec_driver_sql("DROP TABLE replays")
        tx.conn.execute(
            update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="2")
        )
    with Store.open(url) as store:
        assert store.schema_version() == schema.SCHEMA_VERSION == 4
        assert first_time(store, "event", "Ev03", NOW)


def test_a_version_3_database_gets_grouped_posts_and_keeps_its_matches(url: str) -> None:
    with Store.open(url) as store, store.transaction() as tx:
        tx.conn.exec_driver_sql("DROP TABLE posts")
        tx.conn.exec_driver_sql("ALTER TABLE intents DROP COLUMN lead")
        tx.conn.exec_driver_sql("ALTER TABLE matches DROP COLUMN close_changes")
        tx.conn.execute(
            update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="3")
        )
        tx.add_intent(NOW, "#net", "digest", {"type": "digest"})
    with Store.open(url) as store:
        assert store.schema_version() == 4
        with store.transaction() as tx:
            (intent,) = tx.intents()
            assert intent.lead is None
            assert tx.posts() == []
