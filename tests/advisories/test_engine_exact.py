"""The engine answers exactly over unknown facts, and says what an unknown depends on."""

from __future__ import annotations

from advisories.derive import resolve
from advisories.engine import Engine
from advisories.models import Verdict

from .conftest import result_of, stated


def test_ipvs_on_kernel_5_4_is_affected_for_every_kubernetes_version(engine: Engine) -> None:
    result = result_of(engine, "KP-IPVS-CONN-REUSE", kernel="5.4", proxy_mode="ipvs")
    assert result.verdict is Verdict.AFFECTED
    assert result.depends_on == ()


def test_ipvs_with_unknown_kernel_depends_on_the_kernel_and_names_the_threshold(
    engine: Engine,
) -> None:
    result = result_of(engine, "KP-IPVS-CONN-REUSE", k8s="1.27", proxy_mode="ipvs")
    assert result.verdict is Verdict.UNKNOWN
    assert result.depends_on == ("kernel",)
    assert "kernel < 5.9.0" in result.depends_text()
    assert [t.describe() for t in result.safe_when] == ["kernel >= 5.9.0"]


def test_unknown_mode_and_version_are_both_named(engine: Engine) -> None:
    result = result_of(engine, "KP-IPVS-CONN-REUSE", kernel="5.15")
    assert result.verdict is Verdict.UNKNOWN
    assert set(result.depends_on) == {"proxy-mode", "kube-proxy"}
    assert "proxy-mode is ipvs" in result.depends_text()


def test_a_series_answers_depends_on_the_patch_release_instead_of_guessing(engine: Engine) -> None:
    result = result_of(
        engine, "CALICO-VXLAN-OFFLOAD", calico="3.28", kernel="6.1", calico_encapsulation="vxlan"
    )
    assert result.verdict is Verdict.UNKNOWN
    assert "calico" in result.depends_on
    assert any("3.28.2" in t.describe() for t in result.safe_when)


def test_an_uncertain_band_is_unknown_with_the_reason_even_when_every_fact_is_known(
    engine: Engine,
) -> None:
    result = result_of(
        engine, "CALICO-VXLAN-OFFLOAD", calico="3.28.0", kernel="6.1.0",
        calico_encapsulation="vxlan",
    )  # fmt: skip
    assert result.verdict is Verdict.UNKNOWN
    assert result.uncertain
    assert result.depends_on == ()


def test_not_given_is_unknown_but_none_states_absence(engine: Engine) -> None:
    unknown = result_of(engine, "CALICO-KUBE-CONTROLLERS-LEAK", kernel="5.4")
    absent = result_of(engine, "CALICO-KUBE-CONTROLLERS-LEAK", calico="none")
    assert unknown.verdict is Verdict.UNKNOWN
    assert "calico" in unknown.depends_on
    assert absent.verdict is Verdict.NOT_AFFECTED


def test_kubernetes_sets_kube_proxy_unless_given(engine: Engine) -> None:
    follows = result_of(engine, "KP-ENDPOINT-UPDATE-DELAY", k8s="1.27.3", proxy_mode="iptables")
    overridden = result_of(
        engine, "KP-ENDPOINT-UPDATE-DELAY", k8s="1.27.3", kube_proxy="1.27.11",
        proxy_mode="iptables",
    )  # fmt: skip
    assert follows.verdict is Verdict.AFFECTED
    assert overridden.verdict is Verdict.NOT_AFFECTED


def test_component_version_check_on_vendor_kernel_adds_a_caveat_not_unknown(
    engine: Engine,
) -> None:
    result = result_of(
        engine, "KP-IPVS-CONN-REUSE", k8s="1.27", proxy_mode="ipvs",
        kernel="4.18.0-477.27.1.el8_8.x86_64",
    )  # fmt: skip
    assert result.verdict is Verdict.AFFECTED
    assert any("backport" in c for c in result.caveats)


def test_kernel_bug_on_vendor_kernel_becomes_unknown_but_upstream_kernel_is_affected(
    engine: Engine,
) -> None:
    vendor = result_of(
        engine, "KP-IPTABLES-RANDOM-FULLY", k8s="1.20", proxy_mode="iptables",
        kernel="3.10.0-1160.el7.x86_64",
    )  # fmt: skip
    upstream = result_of(
        engine, "KP-IPTABLES-RANDOM-FULLY", k8s="1.20", proxy_mode="iptables", kernel="3.10.0"
    )
    assert vendor.verdict is Verdict.UNKNOWN
    assert any("backport" in u for u in vendor.uncertain)
    assert upstream.verdict is Verdict.AFFECTED


def test_results_cover_every_advisory_and_keep_the_evidence(engine: Engine) -> None:
    results = engine.evaluate(resolve(stated(k8s="v1.28.3-eks-e71965b", proxy_mode="iptables")))
    assert len(results) == len(engine.advisories) == 28
    endpoint = next(r for r in results if r.id == "KP-ENDPOINT-UPDATE-DELAY")
    assert endpoint.verdict is Verdict.AFFECTED
    assert endpoint.evidence["kube-proxy"] == "v1.28.3-eks-e71965b"


def test_fixed_in_versions_per_line_are_derived_from_the_ranges(catalog) -> None:  # type: ignore[no-untyped-def]
    from advisories.serialize import fixed_versions

    assert fixed_versions(catalog.get("CALICO-KUBE-CONTROLLERS-LEAK")) == [
        "3.24.6", "3.25.1"
    ]  # fmt: skip
    assert fixed_versions(catalog.get("KP-ENDPOINT-UPDATE-DELAY")) == [
        "1.27.11", "1.28.7", "1.29.2"
    ]  # fmt: skip
