"""A blip is not news: a scan in which one resource could not be read changes nothing people
were told. The cluster is read through the real ``kubernetes`` client from the fake API server,
whose fault switch breaks the node list for one scan."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from advisories.models import Verdict
from jobs.changes import Change
from jobs.inventory.kube import kubeconfig_reader
from jobs.inventory.run import ClusterTarget
from jobs.store import MatchState, Store
from tests.jobs.inventory.conftest import new_token
from tests.jobs.inventory.scenarios import SCENARIOS
from tests.jobs.notifiers import MemoryChat
from tests.jobs.test_scan import NOW, run
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig


def test_a_node_list_that_fails_for_one_scan_edits_nothing_and_replies_nothing(
    store: Store, tmp_path: Path
) -> None:
    token = new_token()
    with KubeAPIServer(SCENARIOS["buster"](), token=token) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kc", [("prod", server, token)])
        fleet = [ClusterTarget("prod", kubeconfig_reader(str(kubeconfig), "prod"))]
        chat = MemoryChat()

        first = run(store, chat, fleet, at=NOW)
        (cluster,) = first.scans
        affected = {
            m.result.advisory.id: m for m in cluster.matches if m.verdict is Verdict.AFFECTED
        }
        posted = len(chat.messages)
        # The channel's baseline, then each match's post and its nodes' reply.
        assert affected and posted == 1 + 2 * len(affected)

        server.update_scenario(faults={"/api/v1/nodes": 500})
        blip = run(store, chat, fleet, at=NOW + timedelta(hours=1))
        (during,) = blip.scans
        assert during.cluster.nodes == ()
        assert "HTTP 500" in (during.cluster.nodes_unknown or "")
        still = {m.result.advisory.id for m in during.matches if m.verdict is Verdict.AFFECTED}
        assert still & set(affected), "cluster-wide facts still decide some matches"
        outcomes = blip.report.clusters["prod"].matches
        assert {o.change for o in outcomes.values()} <= {Change.OPEN, Change.STALE, None}

        server.update_scenario(faults={})
        after = run(store, chat, fleet, at=NOW + timedelta(hours=2))
        outcomes = after.report.clusters["prod"].matches
        assert {o.change for o in outcomes.values()} <= {Change.OPEN, None}

    assert chat.edits == []
    assert len(chat.messages) == posted
    records = {m.advisory_id: m for m in store.run(lambda tx: tx.matches(cluster.cluster.uid))}
    for advisory_id, match in affected.items():
        record = records[advisory_id]
        assert record.state is MatchState.OPEN
        assert record.snapshot.affected_nodes == match.affected_nodes
        assert record.stale_since is None
