"""Mutes made by people (:mod:`jobs.muting`): several clusters at once are muted all or none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.muting import MuteError, add_mute, add_mutes, list_mutes
from jobs.notify import Routing
from jobs.store import Store
from jobs.tracker import Tracker
from tests.jobs.notifiers import MemoryChat, MemoryTerminal
from tests.tracked_fleet import catalog, cluster, scan

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _scanned(store: Store, *names: str) -> None:
    tracker = Tracker(store, MemoryChat(), MemoryTerminal(), Routing("#net"))
    tracker.record(scan(*(cluster(n) for n in names)), NOW, source="test",
                   catalog_version=catalog().version)  # fmt: skip


def test_several_clusters_are_muted_at_once_with_one_mute_each(store: Store) -> None:
    _scanned(store, "prod-1", "prod-2")
    ids = add_mutes(store, NOW, advisory_id="KP-IPVS-CONN-REUSE", clusters=["prod-2", "prod-1"],
                    days=7, reason="upgrade planned", by="U0ADMIN")  # fmt: skip
    mutes = {m.id: m for m in list_mutes(store, NOW)}
    assert [mutes[i].cluster for i in ids] == ["prod-2", "prod-1"]
    assert {(m.cluster_uid, m.by, m.expires_at) for m in mutes.values()} == {
        ("uid-prod-1", "U0ADMIN", NOW + timedelta(days=7)),
        ("uid-prod-2", "U0ADMIN", NOW + timedelta(days=7)),
    }


def test_an_unknown_cluster_among_several_mutes_none_of_them(store: Store) -> None:
    _scanned(store, "prod-1")
    with pytest.raises(MuteError) as caught:
        add_mutes(store, NOW, advisory_id=None, clusters=["prod-1", "prod-9"], days=1,
                  reason="r", by="U0ADMIN")  # fmt: skip
    assert caught.value.argument == "cluster" and "'prod-9'" in str(caught.value)
    assert list_mutes(store, NOW) == []
    # One cluster, as the command gives it, goes through the same checks.
    with pytest.raises(MuteError, match="give a reason"):
        add_mute(store, NOW, advisory_id=None, cluster="prod-1", days=1, reason=" ", by="U0")
