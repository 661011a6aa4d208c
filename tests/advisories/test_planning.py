"""What-if and safe targets across the reference's bands (shared/reference/upstream-facts.md)."""

from __future__ import annotations

import pytest

from advisories.catalog import load_catalog
from advisories.engine import Engine
from advisories.facts import parse_fact
from advisories.models import Verdict
from advisories.planning import Change, apply_changes, safe_targets, what_if

from .conftest import stated as facts

CATALOG = load_catalog()
ENGINE = Engine(CATALOG.advisories)


def change(key: str, text: str) -> Change:
    canonical, domain, _ = parse_fact(key, text)
    return Change(canonical, domain, text)


def ids(entries) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.id for e in entries]


@pytest.mark.parametrize("target", ["3.24.0", "3.24.5"])
def test_calico_3_19_to_3_24_on_old_kernels_trades_the_63s_delay_for_throughput(
    target: str,
) -> None:
    setup = facts(calico="3.19.1", kernel="5.4", calico_encapsulation="vxlan")
    plan = what_if(ENGINE, [setup], [change("calico", target)])
    entry = next(e for e in plan.changed if e.id == "CALICO-VXLAN-OFFLOAD")
    assert entry.before.verdict is Verdict.AFFECTED
    assert entry.after.verdict is Verdict.AFFECTED
    assert "63 s" in entry.before.impact()
    assert "throughput is reduced" in entry.after.impact()
    assert "CALICO-VXLAN-OFFLOAD" in ids(plan.remaining)


def test_calico_3_24_5_to_3_24_6_on_new_kernels_resolves_nothing_but_changes_the_band() -> None:
    # 3.20.0-3.24.5 on kernels > 5.7.0: offload on (uncertain); 3.24.6: off everywhere.
    setup = facts(calico="3.24.5", kernel="6.1", calico_encapsulation="vxlan")
    plan = what_if(ENGINE, [setup], [change("calico", "3.24.6")])
    entry = next(e for e in plan.changed if e.id == "CALICO-VXLAN-OFFLOAD")
    assert entry.before.verdict is Verdict.UNKNOWN
    assert entry.after.verdict is Verdict.AFFECTED


def test_calico_3_28_0_to_3_28_2_on_kernel_6_1_resolves_the_offload_advisory() -> None:
    setup = facts(calico="3.28.0", kernel="6.1", calico_encapsulation="vxlan")
    plan = what_if(ENGINE, [setup], [change("calico", "3.28.2")])
    assert "CALICO-VXLAN-OFFLOAD" in ids(plan.resolved)


def test_kube_proxy_1_27_to_1_30_resolves_the_endpoint_update_delay_in_iptables_mode() -> None:
    setup = facts(kube_proxy="1.27.3", proxy_mode="iptables")
    plan = what_if(ENGINE, [setup], [change("kube-proxy", "1.30")])
    assert "KP-ENDPOINT-UPDATE-DELAY" in ids(plan.resolved)
    assert "KP-ENDPOINT-UPDATE-DELAY" not in ids(plan.remaining)


def test_kubernetes_1_27_to_1_30_moves_kube_proxy_too() -> None:
    setup = facts(kubernetes="1.27.3", proxy_mode="iptables")
    plan = what_if(ENGINE, [setup], [change("k8s", "1.30.0")])
    assert "KP-ENDPOINT-UPDATE-DELAY" in ids(plan.resolved)


def test_moving_to_ipvs_on_an_old_kernel_introduces_the_conn_reuse_advisory() -> None:
    setup = facts(kubernetes="1.28.9", proxy_mode="iptables", kernel="5.4")
    plan = what_if(ENGINE, [setup], [change("mode", "ipvs")])
    assert "KP-IPVS-CONN-REUSE" in ids(plan.introduced)


def test_an_os_change_sets_the_kernel_of_every_node() -> None:
    setup = facts(kubernetes="1.28.9", proxy_mode="ipvs", kernel="5.4")
    moved = apply_changes(setup, [Change("os", frozenset(), "Ubuntu 22.04")])
    plan = what_if(ENGINE, [setup], [Change("os", frozenset(), "Ubuntu 22.04")])
    assert "kernel" in moved.values
    assert "KP-IPVS-CONN-REUSE" in ids(plan.resolved)


def test_the_worst_node_group_decides() -> None:
    old = facts(kubernetes="1.28.9", proxy_mode="ipvs", kernel="5.4")
    new = facts(kubernetes="1.28.9", proxy_mode="ipvs", kernel="6.1")
    plan = what_if(ENGINE, [old, new], [change("k8s", "1.29.4")])
    assert "KP-IPVS-CONN-REUSE" in ids(plan.remaining)
    plan = what_if(ENGINE, [old, new], [change("kernel", "5.15")])
    assert "KP-IPVS-CONN-REUSE" in ids(plan.resolved)


def test_calico_3_28_0_on_kernel_6_1_is_uncertain_and_blocks_while_3_28_2_clears_it() -> None:
    setup = facts(calico="3.28.0", kernel="6.1", calico_encapsulation="vxlan")
    target = safe_targets(ENGINE, [setup])["calico"]
    assert target.version == "3.28.2"
    assert target.line == "3.28"
    assert target.current_line_fixed is True


def test_the_leak_on_calico_3_23_has_its_safe_target_on_a_later_line() -> None:
    # A cherry-pick to release-v3.23 exists, but no 3.23 release followed it.
    setup = facts(calico="3.23.3", calico_kube_controllers=True)
    target = safe_targets(ENGINE, [setup])["calico"]
    assert target.version == "3.24.6"
    assert target.line == "3.24"
    assert target.current_line_fixed is False
    # The unknown encapsulation leaves other Calico advisories unknown: caveats, not blockers.
    assert any(c.startswith("CALICO-VXLAN-OFFLOAD") for c in target.caveats)


def test_calico_3_25_0_is_fixed_on_its_own_line() -> None:
    target = safe_targets(ENGINE, [facts(calico="3.25.0", calico_kube_controllers=True)])["calico"]
    assert (target.version, target.current_line_fixed) == ("3.25.1", True)


def test_no_calico_release_clears_vxlan_on_kernels_up_to_5_7() -> None:
    setup = facts(calico="3.26.1", kernel="5.4", calico_encapsulation="vxlan")
    target = safe_targets(ENGINE, [setup])["calico"]
    assert target.version is None
    assert "CALICO-VXLAN-OFFLOAD" in target.blocking


def test_the_kernel_target_for_ipvs_is_5_9_with_os_releases_that_ship_it() -> None:
    setup = facts(kubernetes="1.23.17", proxy_mode="ipvs", kernel="5.4", calico="none")
    target = safe_targets(ENGINE, [setup])["kernel"]
    assert target.version == "5.9.0"
    assert "Ubuntu 24.04" in target.os_releases
    assert "Debian 10" not in target.os_releases


def test_an_uncertain_band_reached_only_through_other_unknown_facts_is_a_caveat() -> None:
    # kube-proxy's version is unknown: its 1.20/1.21 backport band is uncertain, but that is
    # about kube-proxy, not about the kernel; the kernel target is not blocked by it.
    setup = facts(proxy_mode="ipvs", kernel="5.4", calico="none")
    target = safe_targets(ENGINE, [setup], ["kernel"])["kernel"]
    assert target.version == "5.9.0"
    assert any(c.startswith("KP-IPVS-CONN-REUSE") for c in target.caveats)


def test_components_with_unknown_versions_get_no_target() -> None:
    targets = safe_targets(ENGINE, [facts(calico="3.23.3")])
    assert "kube-proxy" not in targets
    assert "spiderpool" not in targets


def test_a_component_stated_absent_gets_no_target() -> None:
    assert "calico" not in safe_targets(ENGINE, [facts(calico="none", kernel="5.4")])
