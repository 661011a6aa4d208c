"""Safe targets fed by upstream tracking: only where the catalog's range is open (no fix known),
and labelled "from upstream, not curated"; a small local catalog (a temporary directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisories.catalog import Catalog, load_catalog
from advisories.engine import Engine
from advisories.facts import Facts, parse_fact
from advisories.planning import FROM_UPSTREAM, UpstreamFix, safe_targets

OPEN = """\
id: TEST-OPEN-LEAK
title: "calico-node leaks memory with many NetworkPolicies"
component: calico
decided_by: component-bug
summary: Reported upstream; the catalog knows no fixed release yet.
recommendation: {en: "No fixed release is known; watch projectcalico/calico#9001."}
references:
  - {type: REPORT, url: "https://github.com/projectcalico/calico/issues/9000"}
  - {type: FIX, url: "https://github.com/projectcalico/calico/pull/9001"}
cases:
  - id: leak
    affected: true
    severity: high
    when:
      calico:
        - introduced: "3.27.0"
    impact: {en: "calico-node's memory grows until it is OOM-killed."}
"""

CLOSED = """\
id: TEST-CLOSED-DROP
title: "Felix drops packets after a restart"
component: calico
decided_by: component-bug
summary: Fixed in 3.29.0; the 3.28 backport was reverted before any 3.28 release.
recommendation: {en: "Upgrade Calico to 3.29.0 or later."}
references:
  - {type: FIX, url: "https://github.com/projectcalico/calico/pull/9100"}
cases:
  - id: drop
    affected: true
    severity: medium
    when:
      calico:
        - introduced: "3.26.0"
        - fixed: "3.29.0"
    impact: {en: "Packets are dropped for a few seconds after calico-node restarts."}
"""


def local_catalog(tmp_path: Path, *texts: str) -> Catalog:
    folder = tmp_path / "catalog" / "calico"
    folder.mkdir(parents=True)
    for index, text in enumerate(texts):
        (folder / f"advisory-{index}.yaml").write_text(text, encoding="utf-8")
    return load_catalog([tmp_path / "catalog"], builtin=False)


def calico(version: str) -> Facts:
    """Calico at ``version`` with calico-kube-controllers running (the leak needs it)."""
    key, domain, _ = parse_fact("calico", version)
    values = {key: domain, "calico-kube-controllers": frozenset({True})}
    return Facts(values=values, raw={key: version})


def fix(version: str, pull: int = 9001) -> UpstreamFix:
    return UpstreamFix(version, f"projectcalico/calico#{pull}")


@pytest.fixture
def open_only(tmp_path: Path) -> Engine:
    return Engine(local_catalog(tmp_path, OPEN).advisories)


def test_without_upstream_an_open_range_has_no_safe_target(open_only: Engine) -> None:
    target = safe_targets(open_only, [calico("3.28.1")])["calico"]
    assert target.version is None and target.blocking == ("TEST-OPEN-LEAK",)
    assert target.source == "catalog" and target.label is None


def test_an_upstream_fix_on_the_current_line_becomes_the_target_labelled_as_not_curated(
    open_only: Engine,
) -> None:
    upstream = {"TEST-OPEN-LEAK": [fix("v3.28.3", 9002), fix("v3.29.0")]}
    target = safe_targets(open_only, [calico("3.28.1")], upstream=upstream)["calico"]
    assert (target.version, target.line, target.current_line_fixed) == ("3.28.3", "3.28", True)
    assert target.source == "upstream" and target.label == FROM_UPSTREAM
    assert FROM_UPSTREAM == "from upstream, not curated"
    assert dict(target.upstream) == {"TEST-OPEN-LEAK": "v3.28.3 per projectcalico/calico#9002"}


def test_an_upstream_fix_only_on_a_later_line_moves_the_target_to_that_line(
    open_only: Engine,
) -> None:
    upstream = {"TEST-OPEN-LEAK": [fix("v3.29.0")]}
    target = safe_targets(open_only, [calico("3.28.1")], upstream=upstream)["calico"]
    assert (target.version, target.line, target.current_line_fixed) == ("3.29.0", "3.29", False)
    assert target.label == FROM_UPSTREAM


def test_a_version_at_or_above_the_upstream_fix_of_its_line_is_its_own_target(
    open_only: Engine,
) -> None:
    upstream = {"TEST-OPEN-LEAK": [fix("v3.28.3", 9002)]}
    target = safe_targets(open_only, [calico("3.28.5")], upstream=upstream)["calico"]
    assert target.version == "3.28.5" and target.source == "upstream"


@pytest.mark.parametrize(
    "fixes",
    [
        [fix("v3.26.4")],  # below the range: says nothing about 3.28
        [fix("v3.28.0-rc.1")],  # not a release
        [fix("3.28.x")],  # not a version at all
    ],
)
def test_upstream_answers_that_do_not_apply_clear_nothing(
    open_only: Engine, fixes: list[UpstreamFix]
) -> None:
    upstream = {"TEST-OPEN-LEAK": fixes}
    target = safe_targets(open_only, [calico("3.28.1")], upstream=upstream)["calico"]
    assert target.version is None and target.source == "catalog"


def test_upstream_never_overrides_a_range_the_catalog_closed(tmp_path: Path) -> None:
    # The catalog says 3.28.x stays affected until 3.29.0 (the 3.28 backport was reverted);
    # upstream's ancestry says v3.28.3 contains it. The catalog decides.
    engine = Engine(local_catalog(tmp_path, CLOSED).advisories)
    upstream = {"TEST-CLOSED-DROP": [fix("v3.28.3", 9101)]}
    target = safe_targets(engine, [calico("3.28.1")], upstream=upstream)["calico"]
    assert (target.version, target.source, dict(target.upstream)) == ("3.29.0", "catalog", {})


def test_with_both_kinds_upstream_clears_only_the_open_advisory(tmp_path: Path) -> None:
    engine = Engine(local_catalog(tmp_path, OPEN, CLOSED).advisories)
    upstream = {
        "TEST-OPEN-LEAK": [fix("v3.28.3", 9002), fix("v3.29.1")],
        "TEST-CLOSED-DROP": [fix("v3.28.3", 9101)],
    }
    target = safe_targets(engine, [calico("3.28.1")], upstream=upstream)["calico"]
    # 3.28.3: the closed range still holds; 3.29.0: the open leak has no fix on 3.29 before
    # 3.29.1 by upstream's word.
    assert (target.version, target.line) == ("3.29.1", "3.29")
    assert dict(target.upstream) == {"TEST-OPEN-LEAK": "v3.29.1 per projectcalico/calico#9001"}
    assert target.label == FROM_UPSTREAM


def test_built_in_targets_ignore_upstream_answers_for_closed_ranges() -> None:
    engine = Engine(load_catalog().advisories)
    setup = calico("3.23.3")
    upstream = {"CALICO-KUBE-CONTROLLERS-LEAK": [fix("v3.23.6", 6900)]}
    target = safe_targets(engine, [setup], upstream=upstream)["calico"]
    assert (target.version, target.source) == ("3.24.6", "catalog")
