"""Reading facts from questions, rule by rule (verdicts are tested in test_answers*.py)."""

from __future__ import annotations

import pytest

from advisories.catalog import load_catalog
from advisories.facts import FACTS, KernelDomain, VersionDomain
from advisories.questions import (
    MAX_QUESTION_CHARS,
    detect_language,
    normalise,
    parse_question,
)
from advisories.versions import VersionKey

IDS = tuple(a.id for a in load_catalog().advisories)
CLUSTERS = ("prod-eu", "prod-1", "staging")


def ask(text: str) -> dict[str, str]:
    return parse_question(text, clusters=CLUSTERS, advisory_ids=IDS).understood


@pytest.mark.parametrize(
    ("text", "kernel"),
    [
        ("is kernel 5.4 safe for IPVS?", "5.4"),
        ("nodes run 5.4.0-150-generic", "5.4.0-150-generic"),
        ("uname -r says 3.10.0-1160.el7.x86_64", "3.10.0-1160.el7.x86_64"),
        ("4.18.0-477.27.1.el8_8.x86_64 with ipvs", "4.18.0-477.27.1.el8_8.x86_64"),
        ("we are on 4.19", "4.19"),
        ("kernel version 5.10.0", "5.10.0"),
        ("kernel=6.1", "6.1"),
        ("Kernel: 5.15", "5.15"),
        ("内核 5.4", "5.4"),
        ("内核版本是5.4", "5.4"),
        ("内核为 4.19 的节点", "4.19"),
        ("linux kernel 6.8 ok?", "6.8"),
    ],
)
def test_kernels_are_read_with_or_without_the_word_kernel(text: str, kernel: str) -> None:
    assert ask(text)["kernel"] == kernel


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("1s delay on CentOS 7 with ipvs", "CentOS/RHEL 7"),
        ("CentOS 7.9 nodes", "CentOS/RHEL 7"),
        ("CentOS7上出现延迟", "CentOS/RHEL 7"),
        ("centos 8", "CentOS/RHEL/Rocky/Alma 8"),
        ("RHEL 8.6 with k8s 1.27.7", "CentOS/RHEL/Rocky/Alma 8"),
        ("Rocky Linux 9", "RHEL/Rocky/Alma 9"),
        ("AlmaLinux 8", "CentOS/RHEL/Rocky/Alma 8"),
        ("Ubuntu 18.04", "Ubuntu 18.04"),
        ("ubuntu 20.04 workers", "Ubuntu 20.04"),
        ("Ubuntu 22.04.3 LTS", "Ubuntu 22.04"),
        ("ubuntu 24.04", "Ubuntu 24.04"),
        ("Debian 10", "Debian 10"),
        ("debian bullseye", "Debian 11"),
        ("Debian 12 (bookworm)", "Debian 12"),
        ("Amazon Linux 2 nodes", "Amazon Linux 2"),
        ("amazon linux 2023", "Amazon Linux 2023"),
        ("openEuler 22.03 LTS", "openEuler 22.03"),
        ("Kylin V10 SP2", "Kylin V10"),
        ("麒麟 Kylin V10 上的 calico", "Kylin V10"),
    ],
)
def test_os_releases_are_read_through_the_os_table(text: str, release: str) -> None:
    question = parse_question(text)
    assert question.facts.os_name == release
    assert "os" in question.understood


def test_rhel_8_is_not_read_as_rhel_7_because_of_a_later_version_ending_in_7() -> None:
    question = parse_question("rhel 8 with k8s 1.27.7")
    assert question.facts.os_name == "CentOS/RHEL/Rocky/Alma 8"
    assert question.understood["kubernetes"] == "1.27.7"


def test_several_os_releases_mean_any_of_their_kernels() -> None:
    question = parse_question("Ubuntu 20.04 and Debian 12 nodes")
    kernel = question.facts.values["kernel"]
    assert isinstance(kernel, KernelDomain)
    assert VersionKey((5, 4, 0, 0)) in kernel.versions
    assert VersionKey((6, 1, 0, 0)) in kernel.versions
    assert question.facts.os_name is None


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("k8s 1.27", "kubernetes", "1.27"),
        ("K8s1.27 cluster", "kubernetes", "1.27"),
        ("kubernetes 1.30", "kubernetes", "1.30"),
        ("kubernetes version 1.29", "kubernetes", "1.29"),
        ("we run v1.29.2", "kubernetes", "v1.29.2"),
        ("EKS v1.28.3-eks-e71965b", "kubernetes", "v1.28.3-eks-e71965b"),
        ("calico 3.26", "calico", "3.26"),
        ("Calico v3.28.2", "calico", "v3.28.2"),
        ("calico version 3.27.0", "calico", "3.27.0"),
        ("calico-node:v3.26.1", "calico", "v3.26.1"),
        ("spiderpool v0.9.1", "spiderpool", "v0.9.1"),
        ("Spiderpool 0.8", "spiderpool", "0.8"),
        ("kube-proxy 1.28", "kube-proxy", "1.28"),
        ("kubeproxy v1.28.3", "kube-proxy", "v1.28.3"),
        ("iptables 1.8.7", "iptables-version", "1.8.7"),
        ("k8s 版本 1.27", "kubernetes", "1.27"),
        ("calico 版本 3.26", "calico", "3.26"),
    ],
)
def test_component_versions_follow_their_key_or_alias(text: str, key: str, value: str) -> None:
    assert ask(text)[key] == value


def test_a_version_with_fewer_parts_is_its_series() -> None:
    question = parse_question("calico 3.28")
    domain = question.facts.values["calico"]
    assert isinstance(domain, VersionDomain)
    assert VersionKey((3, 28, 2, 0)) in domain.versions
    assert VersionKey((3, 29, 0, 0)) not in domain.versions


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("IPVS mode", "proxy-mode", "ipvs"),
        ("kube-proxy in iptables mode", "proxy-mode", "iptables"),
        ("nftables", "proxy-mode", "nftables"),
        ("proxy mode: ipvs", "proxy-mode", "ipvs"),
        ("mode=ipvs", "proxy-mode", "ipvs"),
        ("VXLAN", "calico-encapsulation", "vxlan"),
        ("ipip pools", "calico-encapsulation", "ipip"),
        ("vxlan-crosssubnet", "calico-encapsulation", "vxlan-crosssubnet"),
        ("VXLAN CrossSubnet", "calico-encapsulation", "vxlan-crosssubnet"),
        ("iptables-nft on the host", "host-iptables-mode", "nft"),
        ("host iptables legacy", "host-iptables-mode", "legacy"),
        ("calico iptables backend: nft", "calico-iptables-backend", "nft"),
        ("FELIX_IPTABLESBACKEND=auto", "calico-iptables-backend", "auto"),
        ("IPVS 模式", "proxy-mode", "ipvs"),
    ],
)
def test_mode_words_map_to_their_fact(text: str, key: str, value: str) -> None:
    assert ask(text)[key] == value


def test_bare_crosssubnet_is_vxlan_or_ipip_crosssubnet() -> None:
    domain = parse_question("CrossSubnet pools").facts.values["calico-encapsulation"]
    assert domain == frozenset({frozenset({"vxlan-crosssubnet"}), frozenset({"ipip-crosssubnet"})})


def test_two_encapsulations_are_one_cluster_using_both() -> None:
    domain = parse_question("vxlan and ipip pools").facts.values["calico-encapsulation"]
    assert domain == frozenset({frozenset({"vxlan", "ipip"})})


@pytest.mark.parametrize(
    ("text", "components"),
    [
        ("is kernel 5.4 ok?", ()),
        ("IPVS on kernel 5.4", ("kube-proxy",)),
        ("iptables mode", ("kube-proxy",)),
        ("nftables", ("kube-proxy",)),
        ("VXLAN on 5.4", ("calico",)),
        ("IPIP", ("calico",)),
        ("k8s 1.27", ("kube-proxy",)),
        ("calico", ("calico",)),
        ("is spiderpool ok on rke2?", ("spiderpool",)),
        ("calico 3.26 and kube-proxy 1.28", ("kube-proxy", "calico")),
    ],
)
def test_modes_imply_their_component(text: str, components: tuple[str, ...]) -> None:
    assert parse_question(text).components == components


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("without calico", "calico", "none"),
        ("we don't use spiderpool", "spiderpool", "none"),
        ("no kube-proxy (cilium replaces it)", "proxy-mode", "none"),
        ("没有 calico", "calico", "none"),
        ("calico=none", "calico", "none"),
    ],
)
def test_absent_components_are_stated_as_none(text: str, key: str, value: str) -> None:
    assert ask(text)[key] == value


@pytest.mark.parametrize(
    ("text", "feature", "value"),
    [
        ("spiderpool on rke2", "rke2", "on"),
        ("with cilium", "cilium", "on"),
        ("without cilium", "cilium", "off"),
        ("loadBalancerSourceRanges not enforced", "lb-source-ranges", "on"),
        ("externalIPs with externalTrafficPolicy: Local", "externalips-etp-local", "on"),
        ("spiderpool-subnet-enabled=true", "spiderpool-subnet-enabled", "on"),
        ("kubeadm-config-absent=no", "kubeadm-config-absent", "off"),
    ],
)
def test_features_are_read_by_name_or_api_field(text: str, feature: str, value: str) -> None:
    assert ask(text)[feature] == value


def test_every_fact_check_accepts_can_be_stated_as_key_value() -> None:
    samples = {
        "kubernetes": "1.27",
        "kube-proxy": "1.28.3",
        "proxy-mode": "ipvs",
        "kernel": "5.4",
        "iptables-version": "1.8.7",
        "host-iptables-mode": "nft",
        "calico": "3.26",
        "calico-encapsulation": "vxlan",
        "calico-iptables-backend": "legacy",
        "spiderpool": "0.9.1",
    }
    assert set(samples) | {"os"} == set(FACTS)
    text = " ".join(f"{k}={v}" for k, v in samples.items()) + " os=ubuntu-22.04"
    understood = ask(text)
    for key, value in samples.items():
        assert understood[key] == value
    assert parse_question(text).facts.os_name == "Ubuntu 22.04"


def test_every_alias_is_a_key_in_questions() -> None:
    for spec in FACTS.values():
        for alias in spec.aliases:
            if spec.kind.value in ("version", "kernel"):
                value = "5.4" if spec.key == "kernel" else "1.2.3"
            elif spec.values:
                value = spec.values[0]
            else:
                continue
            understood = ask(f"{alias}={value}")
            assert spec.key in understood, alias


def test_cluster_names_come_from_the_last_scan() -> None:
    question = parse_question("is prod-eu affected?", clusters=CLUSTERS)
    assert question.clusters == ("prod-eu",)
    assert parse_question("is prod-us affected?", clusters=CLUSTERS).clusters == ()


def test_advisory_ids_are_read_and_do_not_leak_into_modes() -> None:
    question = parse_question("does KP-IPVS-CONN-REUSE hold on 5.10?", advisory_ids=IDS)
    assert question.advisory_ids == ("KP-IPVS-CONN-REUSE",)
    assert "proxy-mode" not in question.understood
    assert question.understood["kernel"] == "5.10"
    lower = parse_question("what about sp-3118", advisory_ids=IDS)
    assert lower.advisory_ids == ("SP-3118",)


def test_a_cluster_name_containing_a_mode_word_is_not_a_mode() -> None:
    question = parse_question("is prod-ipvs ok?", clusters=("prod-ipvs",))
    assert question.clusters == ("prod-ipvs",)
    assert "proxy-mode" not in question.understood


@pytest.mark.parametrize(
    ("text", "changes", "current"),
    [
        ("can prod-eu move to Calico 3.28?", {"calico": "3.28"}, {}),
        ("what changes if prod-1 moves to Calico 3.28?", {"calico": "3.28"}, {}),
        ("upgrade calico from 3.19 to 3.24 on kernel 5.4", {"calico": "3.24"},
         {"calico": "3.19", "kernel": "5.4"}),
        ("kube-proxy 1.27 -> 1.30 in iptables mode", {"kube-proxy": "1.30"},
         {"kube-proxy": "1.27", "proxy-mode": "iptables"}),
        ("we run k8s 1.27 with ipvs, can we upgrade to 1.30?", {"kubernetes": "1.30"},
         {"kubernetes": "1.27", "proxy-mode": "ipvs"}),
        ("is it safe to switch prod-eu to nftables?", {"proxy-mode": "nftables"}, {}),
        ("upgrade the nodes to kernel 5.15", {"kernel": "5.15"}, {}),
        ("升级 calico 到 3.28 安全吗", {"calico": "3.28"}, {}),
        ("calico 3.26 升级到 3.28.2 有什么变化", {"calico": "3.28.2"}, {"calico": "3.26"}),
        ("move prod-eu to Ubuntu 22.04", {"os": "Ubuntu 22.04"}, {}),
    ],
)  # fmt: skip
def test_upgrade_questions_state_changes_and_current_facts(
    text: str, changes: dict[str, str], current: dict[str, str]
) -> None:
    question = parse_question(text, clusters=CLUSTERS)
    assert question.upgrade
    assert {c.key: c.raw for c in question.changes} == changes
    for key, value in current.items():
        assert question.facts.raw[key] == value


def test_a_question_without_an_upgrade_has_no_changes() -> None:
    question = parse_question("is calico 3.28 on kernel 6.1 ok?")
    assert not question.upgrade
    assert question.changes == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("why do we see a 1 second delay", True),
        ("pods cannot communicate across nodes", True),
        ("滚动更新时请求失败", True),
        ("跨节点不通", True),
        ("is kernel 5.4 safe?", False),
        ("内核 5.4 安全吗", False),
    ],
)
def test_problem_words_are_recognised(text: str, problem: bool) -> None:
    assert parse_question(text).problem is problem


def test_projects_outside_the_catalog_are_named() -> None:
    assert parse_question("coredns is slow on flannel").other_projects == ("flannel", "coredns")


@pytest.mark.parametrize(
    ("text", "language"),
    [("is kernel 5.4 ok?", "en"), ("内核 5.4 安全吗？", "zh"), ("calico 3.28 升级", "zh")],
)
def test_language_is_chinese_when_the_question_has_chinese(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_normalise_reads_full_width_digits_and_glued_os_names() -> None:
    assert normalise("内核５.４，CentOS7？") == "内核 5.4,centos 7?"
    assert normalise("VXLAN Cross-Subnet") == "vxlan crosssubnet"


def test_nothing_recognisable_states_nothing() -> None:
    question = parse_question("hello, how are you today?")
    assert not question.states_anything
    assert question.understood == {}


def test_long_input_is_bounded() -> None:
    question = parse_question("kernel 5.4 " * 1000)
    assert len(question.text) == MAX_QUESTION_CHARS
