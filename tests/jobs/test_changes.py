"""The pure diff: what changed between two snapshots of a match, and how matches close."""

from __future__ import annotations

from dataclasses import replace

import pytest

from advisories.fleet import ClusterStatus
from jobs.changes import describe_changes, fact_changes
from jobs.notices import MatchSnapshot, NoticeKind
from jobs.notify import StepAction
from tests.tracked_fleet import IPVS

# ---------------------------------------------------------------------------------------------
# Pure parts


def _snap(cases: tuple[str, ...], nodes: tuple[str, ...], impact: str = "x") -> MatchSnapshot:
    return MatchSnapshot(
        IPVS, "t", "kube-proxy", "affected", "high", impact, "r", cases, nodes, 3, ()
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (_snap(("a",), ("n1",)), _snap(("a",), ("n1",)), ()),
        (_snap(("a",), ("n1",)), _snap(("b",), ("n1",)), ("case: a -> b",)),
        (_snap(("a",), ("n1",)), _snap(("a",), ("n1",), "worse"), ("impact is now: worse",)),
        (
            _snap(("a",), ("n1", "n2")),
            _snap(("a",), ("n2", "n3", "n4")),
            ("newly affected nodes (2): n3, n4", "nodes no longer affected (1): n1"),
        ),
        (
            _snap(("a",), ()),
            _snap(("a",), tuple(f"n{i}" for i in range(12))),
            ("newly affected nodes (12): n0, n1, n2, n3, n4, n5, n6, n7, n8, n9 and 2 more",),
        ),
    ],
)
def test_what_changed_is_said_in_one_sentence_per_attribute(
    before: MatchSnapshot, after: MatchSnapshot, expected: tuple[str, ...]
) -> None:
    assert describe_changes(before, after) == expected
    assert (before.tracked() == after.tracked()) == (expected == ())


def test_notice_kinds_cover_every_closing_state() -> None:
    assert {k.value for k in NoticeKind} == {"new", "updated", "resolved", "retired", "replaced"}
    assert StepAction.UPDATE.value == "update"
    assert ClusterStatus.OK.value == "ok"


def test_nodes_whose_facts_became_unknown_are_uncertain_not_fixed() -> None:
    before = _snap(("a",), ("n1", "n2", "n3"))
    after = replace(_snap(("a",), ("n1",)), uncertain_nodes=("n2", "n3"))
    assert describe_changes(before, after) == ("2 nodes now uncertain (facts unknown): n2, n3",)
    fixed = _snap(("a",), ("n1", "n2"))
    assert describe_changes(fixed, replace(_snap(("a",), ("n1",)), uncertain_nodes=())) == (
        "nodes no longer affected (1): n2",
    )


def test_a_resolution_names_the_facts_that_changed_as_people_say_them() -> None:
    triggers = (("kernel", "3.10.0-1160.el7.x86_64"), ("proxy-mode", "ipvs"))
    now = {"kernel": "3.10.0-1160.el7.x86_64", "proxy-mode": "iptables", "kube-proxy": "v1.28.3"}
    assert fact_changes(triggers, now) == ("kube-proxy mode ipvs → iptables",)
    assert fact_changes(triggers, {"kernel": "5.15.0-91-generic"}) == (
        "kernel 3.10.0-1160.el7.x86_64 → 5.15.0-91-generic",
    )
    assert fact_changes(triggers, {}) == ()  # nothing known now: no change claimed
