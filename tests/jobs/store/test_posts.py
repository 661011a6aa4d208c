"""The matches told in one post (:meth:`jobs.store.Tx.matches_at`): what a button under the post
acts on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from jobs.notices import MatchSnapshot, MessageRef
from jobs.store import MatchRecord, MatchState, Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POST = MessageRef("C0NET", "1772442000.000100")


def _match(uid: str, advisory: str, message: MessageRef | None, state: MatchState) -> MatchRecord:
    snapshot = MatchSnapshot(
        advisory_id=advisory,
        title="t",
        component="kube-proxy",
        verdict="affected",
        severity="high",
        impact="i",
        recommendation="r",
        cases=(),
        affected_nodes=(),
        node_count=0,
        triggers=(),
    )
    return MatchRecord(uid, advisory, state, snapshot, NOW, NOW, NOW, message=message)


def test_the_matches_of_a_post_are_those_told_in_it_in_every_state(store: Store) -> None:
    told = [
        _match("uid-b", "KP-IPVS-CONN-REUSE", POST, MatchState.OPEN),
        _match("uid-a", "KP-IPVS-CONN-REUSE", POST, MatchState.RESOLVED),
    ]
    others = [
        _match(
            "uid-c", "KP-IPVS-CONN-REUSE", replace(POST, ts="1772442000.000200"), MatchState.OPEN
        ),
        _match("uid-d", "KP-IPVS-CONN-REUSE", replace(POST, channel="C0PROD"), MatchState.OPEN),
        _match("uid-e", "KP-IPVS-CONN-REUSE", None, MatchState.OPEN),
    ]
    with store.transaction() as tx:
        for record in [*told, *others]:
            tx.save_match(record)
    found = store.run(lambda tx: tx.matches_at(POST))
    assert found == sorted(told, key=lambda m: m.cluster_uid)
    assert store.run(lambda tx: tx.matches_at(MessageRef("C0NET", "1.0"))) == []
