"""The scan use case in-process: readers and a chat service in memory, the store on every
backend. What ``netadvisor scan`` and ``serve``'s scheduled scan both run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from advisories.catalog import load_catalog
from advisories.engine import Engine
from advisories.fleet import ClusterStatus
from jobs.changes import Change
from jobs.inventory.dumps import DumpReader, demo_bundles
from jobs.inventory.port import ClusterUnreachable, ReadContext, Snapshot
from jobs.inventory.run import ClusterTarget
from jobs.notify import Routing
from jobs.scan import FleetScan, LastScan, last_scan, scan
from jobs.store import Store
from jobs.tracker import Tracker
from tests.jobs.notifiers import MemoryChat, MemoryTerminal

CATALOG = load_catalog()
ENGINE = Engine(CATALOG.advisories)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BUNDLES = {p.stem: p for p in demo_bundles()}


class SwitchableReader:
    """A demo cluster's dump that can be made unreachable, as a network outage would."""

    def __init__(self, name: str) -> None:
        self.dump = DumpReader(BUNDLES[name])
        self.down = False

    @property
    def origin(self) -> str:
        return f"memory {self.dump.origin}"

    def read(self, context: ReadContext) -> Snapshot:
        if self.down:
            raise ClusterUnreachable("connection refused")
        return self.dump.read(context)


def targets(*readers: tuple[str, SwitchableReader]) -> list[ClusterTarget]:
    return [ClusterTarget(name, reader) for name, reader in readers]


def run(
    store: Store | None,
    chat: MemoryChat,
    fleet: list[ClusterTarget],
    *,
    at: datetime = NOW,
    retire: bool = True,
    dry_run: bool = False,
) -> FleetScan:
    tracker = Tracker(store, chat, MemoryTerminal(), Routing("#net"), dry_run=dry_run)
    return scan(
        fleet,
        ENGINE,
        tracker,
        catalog_version=CATALOG.version,
        source="memory",
        clock=lambda: at,
        retire=retire,
    )


def test_a_first_scan_posts_each_affected_match_once_and_a_second_posts_nothing(
    store: Store,
) -> None:
    chat = MemoryChat()
    fleet = targets(("centos", SwitchableReader("demo-prod-centos")))
    first = run(store, chat, fleet)
    affected = [m for s in first.scans for m in s.matches if m.verdict.value == "affected"]
    assert affected and first.readable == 1
    assert len(chat.top_level()) == len(affected)
    assert {o.change for o in first.report.clusters["centos"].matches.values()} >= {Change.NEW}
    second = run(store, chat, fleet, at=NOW + timedelta(hours=1))
    assert len(chat.top_level()) == len(affected)  # nothing new to say
    assert second.changed == 0


def test_one_unreachable_cluster_never_stops_the_others_nor_resolves_its_matches(
    store: Store,
) -> None:
    chat = MemoryChat()
    centos, web = SwitchableReader("demo-prod-centos"), SwitchableReader("demo-web-ubuntu")
    fleet = targets(("centos", centos), ("web", web))
    run(store, chat, fleet)
    centos.down = True
    later = run(store, chat, fleet, at=NOW + timedelta(hours=1))
    statuses = {s.cluster.name: s.cluster.status for s in later.scans}
    assert statuses == {"centos": ClusterStatus.UNREACHABLE, "web": ClusterStatus.OK}
    changes = {o.change for o in later.report.clusters["centos"].matches.values()}
    assert Change.RESOLVED not in changes and Change.STALE in changes


def test_a_dry_run_compares_but_writes_and_posts_nothing(store: Store) -> None:
    chat = MemoryChat()
    fleet = targets(("centos", SwitchableReader("demo-prod-centos")))
    result = run(store, chat, fleet, dry_run=True)
    assert any(o.change is Change.NEW for o in result.report.clusters["centos"].matches.values())
    assert chat.messages == [] and last_scan(store) == {}


def test_only_a_scan_of_the_whole_fleet_retires_the_clusters_it_did_not_see(store: Store) -> None:
    chat = MemoryChat()
    centos, web = SwitchableReader("demo-prod-centos"), SwitchableReader("demo-web-ubuntu")
    run(store, chat, targets(("centos", centos), ("web", web)))
    partial = run(store, chat, targets(("web", web)), at=NOW + timedelta(hours=1), retire=False)
    assert partial.report.retired == ()
    whole = run(store, chat, targets(("web", web)), at=NOW + timedelta(hours=2))
    assert whole.report.retired == ("centos",)


def test_scans_older_than_thirty_days_are_pruned(store: Store) -> None:
    chat = MemoryChat()
    fleet = targets(("centos", SwitchableReader("demo-prod-centos")))
    run(store, chat, fleet)
    run(store, chat, fleet, at=NOW + timedelta(days=31))
    with store.transaction() as tx:
        uid = tx.clusters()[0].uid
        assert [at for at, _, _ in tx.scans(uid)] == [NOW + timedelta(days=31)]


def test_the_last_scan_is_decoded_once_per_scan_not_once_per_question(store: Store) -> None:
    chat = MemoryChat()
    fleet = targets(("centos", SwitchableReader("demo-prod-centos")))
    run(store, chat, fleet)
    cached = LastScan(store)
    first = cached()
    assert list(first) == ["centos"] and cached() is first
    run(store, chat, fleet, at=NOW + timedelta(hours=1))
    again = cached()
    assert again is not first and again["centos"].read_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize("dry_run", [True, False])
def test_without_a_store_nothing_is_remembered(dry_run: bool) -> None:
    chat = MemoryChat()
    result = run(None, chat, targets(("web", SwitchableReader("demo-web-ubuntu"))), dry_run=dry_run)
    assert result.readable == 1 and chat.messages == []
