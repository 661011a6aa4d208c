"""Upstream conventions and the catalog comparison, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from advisories.catalog import load_catalog
from advisories.models import AdvisoryId
from jobs.upstream.compare import (
    disagreements,
    fix_advice,
    news_between,
    tracked_references,
    upstream_fixes,
)
from jobs.upstream.models import (
    CherryPick,
    LineFix,
    NewsKind,
    ReferenceState,
    RefKey,
    RepoName,
)
from tests.jobs.upstream_support import SP_RKE2, advisory

NOW = datetime(2024, 3, 1, tzinfo=UTC)

CALICO_LEAK = """
id: TEST-CALICO-LEAK
title: kube-controllers leaks memory
component: calico
decided_by: component-bug
summary: The node controller's pod cache grows.
recommendation: Upgrade Calico to 3.24.6, 3.25.1, 3.26.0 or later.
references:
  - {type: FIX, url: "https://github.com/projectcalico/calico/pull/7433"}
  - {type: INTRODUCED, url: "https://github.com/projectcalico/calico/pull/4545"}
cases:
  - id: leak
    affected: true
    severity: medium
    when:
      calico:
        - introduced: "3.20.0"
        - fixed: "3.24.6"
        - introduced: "3.25.0"
        - fixed: "3.25.1"
    impact: Memory grows.
"""

OPEN_BUG = """
id: TEST-OPEN
title: Not fixed yet (in the catalog)
component: kube-proxy
decided_by: component-bug
summary: Nobody knows a fix.
recommendation: Watch upstream.
references:
  - {type: FIX, url: "https://github.com/kubernetes/kubernetes/pull/130000"}
cases:
  - id: all
    affected: true
    severity: low
    when:
      kube-proxy: [{introduced: "1.30.0"}]
    impact: Something.
"""


def pull_state(repo: str, number: int, *fixes: LineFix, **changes: object) -> ReferenceState:
    state = ReferenceState(
        ref=RefKey(RepoName(repo), "pull", number),
        title="A fix",
        state="closed",
        synced_at=NOW,
        merged=True,
        base="master",
        fixes=fixes,
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def by_ref(*states: ReferenceState) -> dict[RefKey, ReferenceState]:
    return {s.ref: s for s in states}


# --------------------------------------------------------------------------------------------
# What to track


def test_every_github_pr_and_issue_of_the_catalog_is_tracked_once() -> None:
    catalog = load_catalog()
    tracked = tracked_references(catalog.advisories)
    cited = {r.github for a in catalog.advisories for r in a.references if r.github is not None}
    assert {(t.ref.repo, t.ref.kind, t.ref.number) for t in tracked} == cited
    assert len({t.ref for t in tracked}) == len(tracked)
    by_number = {t.ref.number: t for t in tracked}
    assert by_number[122204].fix and "KP-ENDPOINT-UPDATE-DELAY" in by_number[122204].advisories
    assert not by_number[121362].fix  # a REPORT issue


# --------------------------------------------------------------------------------------------
# Disagreements


def test_a_different_first_fixed_tag_on_a_line_the_catalog_knows_is_a_disagreement() -> None:
    rke2 = advisory(SP_RKE2)
    states = by_ref(pull_state("spidernet-io/spiderpool", 3211, LineFix("0.9", "v0.9.2", 3211)))
    [found] = disagreements(rke2, states)
    assert (found.line, found.upstream, found.catalog) == ("0.9", "v0.9.2", "0.9.8")
    assert found.text.endswith(
        "upstream reports v0.9.2 on the 0.9 line "
        "(spidernet-io/spiderpool#3211); the catalog says 0.9.8"
    )


def test_agreement_is_silent_and_a_catalog_pre_release_agrees_with_its_release() -> None:
    rke2 = advisory(SP_RKE2.replace('fixed: "0.9.8"', 'fixed: "0.9.8-rc1"'))
    states = by_ref(pull_state("spidernet-io/spiderpool", 3211, LineFix("0.9", "v0.9.8", 3211)))
    assert disagreements(rke2, states) == []
    assert disagreements(advisory(SP_RKE2), states) == []


def test_a_fix_on_a_line_the_catalog_calls_affected_is_a_disagreement() -> None:
    leak = advisory(CALICO_LEAK)
    states = by_ref(
        pull_state(
            "projectcalico/calico",
            7433,
            LineFix("3.23", "v3.23.6", 7541),  # the catalog says 3.23.x stays affected
            LineFix("3.24", "v3.24.6", 7540),
            LineFix("3.26", "v3.26.0", 7433),  # 3.26 is fixed in the catalog: agreement
        )
    )
    [found] = disagreements(leak, states)
    assert (found.line, found.upstream, found.catalog, found.pull) == (
        "3.23",
        "v3.23.6",
        None,
        7541,
    )
    assert "the catalog says no fixed version on the 3.23 line" in found.text


def test_only_fix_references_in_the_components_own_repositories_count() -> None:
    leak = advisory(CALICO_LEAK)
    introduced = pull_state("projectcalico/calico", 4545, LineFix("3.20", "v3.20.0", 4545))
    assert upstream_fixes(leak, by_ref(introduced)) == {}
    other_repo = advisory(
        CALICO_LEAK.replace("projectcalico/calico/pull/7433", "kubernetes/kubernetes/pull/7433")
    )
    k8s = pull_state("kubernetes/kubernetes", 7433, LineFix("3.23", "v3.23.6", 7433))
    assert upstream_fixes(other_repo, by_ref(k8s)) == {}


# --------------------------------------------------------------------------------------------
# Fixed-in advice


@pytest.mark.parametrize(
    ("version", "text"),
    [
        ("v3.25.0", "fixed in 3.25.1 on your 3.25 line, or upgrade to 3.26.0"),
        ("3.24.2", "fixed in 3.24.6 on your 3.24 line, or upgrade to 3.25.1"),
        ("v3.22.1", "no fix on your 3.22 line; upgrade to 3.24.6"),
        ("v3.25.1", "no fix on your 3.25 line; upgrade to 3.26.0"),
    ],
)
def test_fix_advice_names_the_fix_on_the_clusters_line_and_the_upgrade(
    version: str, text: str
) -> None:
    leak = advisory(
        CALICO_LEAK.replace(
            '- fixed: "3.25.1"',
            '- fixed: "3.25.1"\n        - introduced: "3.25.5"\n        - fixed: "3.26.0"',
        )
    )
    advice = fix_advice(leak, {}, version)
    assert advice is not None and advice.source == "catalog"
    assert advice.text == text


def test_fix_advice_mentions_upstreams_fix_on_a_line_the_catalog_is_silent_about() -> None:
    leak = advisory(CALICO_LEAK)
    states = by_ref(pull_state("projectcalico/calico", 7433, LineFix("3.23", "v3.23.6", 7541)))
    advice = fix_advice(leak, states, "3.23.2")
    assert advice is not None and advice.on_line is None and advice.upgrade_to == "3.24.6"
    assert advice.text == (
        "upstream reports the fix in v3.23.6 on your 3.23 line (not in the "
        "catalog), or upgrade to 3.24.6"
    )


def test_fix_advice_uses_upstream_only_where_the_catalog_knows_no_fix() -> None:
    open_bug = advisory(OPEN_BUG)
    assert fix_advice(open_bug, {}, "1.31.1") is None
    states = by_ref(
        pull_state(
            "kubernetes/kubernetes",
            130000,
            LineFix("1.31", "v1.31.4", 130001),
            LineFix("1.32", "v1.32.0", 130000),
        )
    )
    advice = fix_advice(open_bug, states, "v1.31.1-eks-abcdef")
    assert advice is not None and advice.source == "upstream"
    assert (
        advice.text
        == "upstream reports the fix in v1.31.4 on your 1.31 line, or upgrade to v1.32.0"
    )
    assert fix_advice(open_bug, states, "not a version") is None


# --------------------------------------------------------------------------------------------
# News


IDS = (AdvisoryId("TEST-KP-RACE"),)


def test_a_reference_seen_for_the_first_time_is_not_news() -> None:
    state = pull_state("kubernetes/kubernetes", 122204, LineFix("1.30", "v1.30.0", 122204))
    assert news_between(None, state, IDS, NOW) == []


def test_news_covers_merges_picks_releases_and_issue_state() -> None:
    pick = CherryPick(
        122756, "Automated cherry pick of #122204", "release-1.29", "1.29", "open", False
    )
    old = pull_state(
        "kubernetes/kubernetes",
        122204,
        LineFix(None, None, 122204),
        merged=False,
        state="open",
        cherry_picks=(pick,),
    )
    new = pull_state(
        "kubernetes/kubernetes",
        122204,
        LineFix("1.29", "v1.29.2", 122756),
        LineFix("1.30", "v1.30.0", 122204),
        cherry_picks=(
            replace(pick, merged=True, state="closed"),
            replace(pick, number=122757, base="release-1.28", line="1.28"),
        ),
    )
    kinds = [(n.kind, n.line, n.tag) for n in news_between(old, new, IDS, NOW)]
    assert kinds == [
        (NewsKind.PULL_MERGED, None, None),
        (NewsKind.CHERRY_PICK_MERGED, "1.29", None),
        (NewsKind.CHERRY_PICK_OPENED, "1.28", None),
        (NewsKind.FIX_RELEASED, "1.29", "v1.29.2"),
        (NewsKind.FIX_RELEASED, "1.30", "v1.30.0"),
    ]
    assert news_between(new, new, IDS, NOW) == []
    issue = ReferenceState(
        RefKey(RepoName("kubernetes/kubernetes"), "issues", 121362), "Bug", "open", NOW
    )
    closed = replace(issue, state="closed", closed_by=(122204,))
    assert [n.text for n in news_between(issue, closed, IDS, NOW)] == [
        "kubernetes/kubernetes#121362: closed by #122204 (Bug)"
    ]
    assert [n.kind for n in news_between(closed, issue, IDS, NOW)] == [NewsKind.ISSUE_REOPENED]
