"""What raw objects mean: the mapping rules, one table per fact, and malformed input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisories.facts import VersionDomain
from advisories.fleet import ClusterFacts, ClusterStatus
from jobs.inventory.mapping import OVERRIDE, Overrides, cluster_facts, image_tag
from jobs.inventory.port import Listing, ProblemKind, ReadProblem, Snapshot
from jobs.inventory.resources import RESOURCES
from tests.jobs.inventory import scenarios as s

FORBIDDEN = ReadProblem(ProblemKind.FORBIDDEN, "forbidden by RBAC")
NOT_SERVED = ReadProblem(ProblemKind.NOT_SERVED, "the server could not find the requested resource")


def snapshot(
    objects: list[dict[str, Any]],
    problems: dict[str, ReadProblem] | None = None,
    version: str | None = "v1.28.4",
) -> Snapshot:
    """A complete snapshot holding ``objects`` (every resource type read, except problems)."""
    by_kind = {r.kind: r.key for r in RESOURCES}
    grouped: dict[str, list[dict[str, Any]]] = {r.key: [] for r in RESOURCES}
    for obj in objects:
        grouped[by_kind[obj["kind"]]].append(obj)
    listings = {key: Listing(tuple(items)) for key, items in grouped.items()}
    for key, problem in (problems or {}).items():
        listings[key] = Listing((), (problem,))
    return Snapshot({"gitVersion": version} if version else None, None, listings, "test")


def facts(objects: list[dict[str, Any]], **kwargs: Any) -> ClusterFacts:
    overrides = kwargs.pop("overrides", None)
    return cluster_facts(snapshot(objects, **kwargs), name="c", overrides=overrides)


def value(cluster: ClusterFacts, key: str) -> Any:
    domain = cluster.facts.values.get(key)
    if domain is None:
        return None
    if isinstance(domain, VersionDomain):
        return "none" if domain.absent and not domain.versions else cluster.facts.raw.get(key)
    (item,) = domain
    return "+".join(sorted(item)) if isinstance(item, frozenset) else item


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("registry.k8s.io/kube-proxy:v1.29.4", "v1.29.4"),
        ("docker.io/calico/node:v3.19.1@sha256:" + "a" * 64, "v3.19.1"),
        ("rancher/mirrored-calico-node:v3.26.1", "v3.26.1"),
        ("localhost:5000/calico/node", None),
        ("localhost:5000/calico/node:v3.27.0", "v3.27.0"),
        ("calico/node@sha256:" + "b" * 64, None),
    ],
)
def test_the_image_tag_is_the_version_wherever_the_image_is_mirrored(
    image: str, tag: str | None
) -> None:
    assert image_tag(image) == tag


# -- kube-proxy -------------------------------------------------------------------------------


def proxy(
    command: list[str],
    mounts: list[tuple[str, str]] = (),
    volumes: list[Any] = (),
    image: str = "registry.k8s.io/kube-proxy:v1.28.4",
) -> dict[str, Any]:
    container = s.container("kube-proxy", image, command=command, mounts=mounts)
    return s.daemonset("kube-proxy", "kube-system", [container], list(volumes))


CM_VOLUME = [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}]
CM_MOUNT = [("kube-proxy", "/var/lib/kube-proxy")]
CONFIG = ["kube-proxy", "--config=/var/lib/kube-proxy/config.conf"]


@pytest.mark.parametrize(
    ("objects", "mode", "reason"),
    [
        (
            [
                proxy(CONFIG, CM_MOUNT, CM_VOLUME),
                s.configmap("kube-proxy", "kube-system", {"config.conf": "mode: ipvs\n"}),
            ],
            "ipvs",
            None,
        ),
        (
            [
                proxy(CONFIG, CM_MOUNT, CM_VOLUME),
                s.configmap("kube-proxy", "kube-system", {"config.conf": 'mode: ""\n'}),
            ],
            "iptables",
            None,
        ),
        (
            [
                proxy(CONFIG, CM_MOUNT, CM_VOLUME),
                s.configmap("kube-proxy", "kube-system", {"config.conf": "{}"}),
            ],
            "iptables",
            None,
        ),
        ([proxy(["/bin/sh", "-c", "kube-proxy --proxy-mode ipvs --v=2"])], "ipvs", None),
        ([proxy(["kube-proxy", "--proxy-mode=nftables"])], "nftables", None),
        ([proxy(["kube-proxy"])], "iptables", None),
        ([proxy(["kube-proxy", "--proxy-mode=userspace"])], None, "not a Linux proxy mode"),
        ([proxy(CONFIG, CM_MOUNT, CM_VOLUME)], None, "kube-system/ConfigMap/kube-proxy: not found"),
        (
            [proxy(CONFIG, CM_MOUNT, [{"name": "kube-proxy", "hostPath": {"path": "/etc/kp"}}])],
            None,
            "is not from a ConfigMap",
        ),
        (
            [
                proxy(CONFIG, CM_MOUNT, CM_VOLUME),
                s.configmap("kube-proxy", "kube-system", {"config.conf": "mode: [unclosed\n"}),
            ],
            None,
            "not a YAML mapping",
        ),
    ],
)
def test_proxy_mode_is_read_from_the_config_file_kube_proxy_mounts_else_its_flags(
    objects: list[dict[str, Any]], mode: str | None, reason: str | None
) -> None:
    cluster = facts(objects)
    assert value(cluster, "proxy-mode") == mode
    if reason:
        assert reason in (cluster.evidence["proxy-mode"].reason or "")


def test_forbidden_configmaps_leave_the_mode_unknown_with_the_reason() -> None:
    cluster = facts([proxy(CONFIG, CM_MOUNT, CM_VOLUME)], problems={"configmaps": FORBIDDEN})
    assert value(cluster, "proxy-mode") is None
    assert "forbidden" in (cluster.evidence["proxy-mode"].reason or "")
    assert value(cluster, "kubeadm-config-absent") is None


def test_kube_proxy_is_absent_only_on_positive_evidence() -> None:
    replaced = facts(
        [s.configmap("cilium-config", "kube-system", {"kube-proxy-replacement": "true"})]
    )
    assert value(replaced, "proxy-mode") == "none"
    assert replaced.components["kube-proxy"].installed is False
    nothing = facts([])
    assert value(nothing, "proxy-mode") is None
    assert nothing.components["kube-proxy"].installed is None
    assert "k3s" in (nothing.evidence["proxy-mode"].reason or "")
    partial = facts(
        [s.configmap("cilium-config", "kube-system", {"kube-proxy-replacement": "partial"})]
    )
    assert value(partial, "proxy-mode") is None
    hidden = facts([], problems={"daemonsets": FORBIDDEN, "pods": FORBIDDEN})
    assert value(hidden, "proxy-mode") is None
    assert "forbidden" in (hidden.evidence["proxy-mode"].reason or "")


def test_an_unparseable_kube_proxy_tag_is_unknown_with_the_raw_kept() -> None:
    cluster = facts([proxy(["kube-proxy"], image="example.com/kube-proxy:latest")])
    assert "kube-proxy" not in cluster.facts.values
    assert cluster.facts.raw["kube-proxy"] == "latest"
    assert (cluster.evidence["kube-proxy"].reason or "").startswith("unparseable")


# -- Calico -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pools", "expected"),
    [
        ([("Always", "Never")], "ipip"),
        ([("CrossSubnet", "Never")], "ipip-crosssubnet"),
        ([("Never", "Always")], "vxlan"),
        ([("Never", "CrossSubnet")], "vxlan-crosssubnet"),
        ([("Never", "Never")], "none"),
        ([("", "")], "none"),
        ([("Always", "Never"), ("Never", "Always")], "ipip+vxlan"),
        ([("always", "never")], "ipip"),
        ([("Sometimes", "Never")], None),
    ],
)
def test_calico_encapsulation_comes_from_every_ippool(
    pools: list[tuple[str, str]], expected: str | None
) -> None:
    objects = [s.calico_node("calico/node:v3.28.0")]
    objects += [
        s.ippool(f"pool-{i}", f"10.{i}.0.0/16", ipip, vxlan)
        for i, (ipip, vxlan) in enumerate(pools)
    ]
    assert value(facts(objects), "calico-encapsulation") == expected


def test_disabled_pools_do_not_count() -> None:
    disabled = s.ippool("old", "10.9.0.0/16", ipip="Always")
    disabled["spec"]["disabled"] = True
    objects = [
        s.calico_node("calico/node:v3.28.0"),
        disabled,
        s.ippool("new", "10.8.0.0/16", vxlan="Always"),
    ]
    assert value(facts(objects), "calico-encapsulation") == "vxlan"


def test_encapsulation_falls_back_to_the_installation_then_to_calico_node_env() -> None:
    installation = s.custom(
        "operator.tigera.io/v1",
        "Installation",
        "default",
        {"calicoNetwork": {"ipPools": [{"encapsulation": "IPIPCrossSubnet"}]}},
    )
    node = s.calico_node("calico/node:v3.28.0", env={"CALICO_IPV4POOL_VXLAN": "Always"})
    assert value(facts([node, installation]), "calico-encapsulation") == "ipip-crosssubnet"
    assert value(facts([node]), "calico-encapsulation") == "vxlan"
    served_nowhere = facts([node], problems={"ippools": NOT_SERVED})
    assert value(served_nowhere, "calico-encapsulation") == "vxlan"
    forbidden = facts([node], problems={"ippools": FORBIDDEN})
    assert value(forbidden, "calico-encapsulation") is None


@pytest.mark.parametrize(
    ("env", "felix", "expected"),
    [
        (None, None, "auto"),
        (None, "Legacy", "legacy"),
        (None, "NFT", "nft"),
        ("Legacy", "NFT", "legacy"),
        ("nft", None, "nft"),
        (None, "Sometimes", None),
    ],
)
def test_felix_iptables_backend_env_wins_over_felixconfiguration_then_auto(
    env: str | None, felix: str | None, expected: str | None
) -> None:
    node = s.calico_node("calico/node:v3.28.0", env={"FELIX_IPTABLESBACKEND": env} if env else None)
    objects = [node, *s.calico_common("v3.28.0", backend=felix)]
    assert value(facts(objects), "calico-iptables-backend") == expected


def test_calico_presence_distinguishes_absent_from_forbidden_and_leftovers() -> None:
    absent = facts([])
    assert value(absent, "calico") == "none"
    assert absent.components["calico"].installed is False
    hidden = facts([], problems={"daemonsets": FORBIDDEN})
    assert value(hidden, "calico") is None
    assert hidden.components["calico"].installed is None
    leftovers = facts(s.calico_common("v3.20.0"))
    assert value(leftovers, "calico") is None
    assert "no DaemonSet runs calico-node" in (leftovers.evidence["calico"].reason or "")


def test_calico_runs_in_canal_and_mirrored_images_and_falls_back_to_clusterinformation() -> None:
    canal = s.daemonset(
        "rke2-canal",
        "kube-system",
        [
            s.container("calico-node", "rancher/hardened-calico:v3.27.3-build20240423"),
            s.container("kube-flannel", "rancher/hardened-flannel:v0.25.1"),
        ],
    )
    assert value(facts([canal]), "calico") == "v3.27.3-build20240423"
    untagged = s.calico_node("calico/node@sha256:" + "c" * 64)
    cluster = facts([untagged, *s.calico_common("v3.25.1")])
    assert value(cluster, "calico") == "v3.25.1"
    assert cluster.evidence["calico"].object == "ClusterInformation/default"


# -- Spiderpool and features ------------------------------------------------------------------


def spiderpool(
    conf: str, gc: str | None = "true", mode: str | None = "auto", multus: str | None = None
) -> list[Any]:
    env = {"SPIDERPOOL_GC_IP_ENABLED": gc} if gc is not None else {}
    if multus is not None:
        env["SPIDERPOOL_MULTUS_CONFIG_ENABLED"] = multus
    objects = [
        s.daemonset(
            "spiderpool-agent",
            "spiderpool",
            [
                s.container(
                    "spiderpool-agent", "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.8.3"
                )
            ],
        ),
        s.deployment(
            "spiderpool-controller",
            "spiderpool",
            [
                s.container(
                    "spiderpool-controller",
                    "ghcr.io/spidernet-io/spiderpool/spiderpool-controller:v0.8.3",
                    env=env,
                )
            ],
        ),
        s.configmap("spiderpool-conf", "spiderpool", {"conf.yml": conf}),
    ]
    if mode is not None:
        objects.append(
            s.custom(
                "spiderpool.spidernet.io/v2beta1", "SpiderCoordinator", "default", {"mode": mode}
            )
        )
    return objects


def test_spiderpool_settings_come_from_its_configmap_controller_and_coordinator() -> None:
    conf = "enableKubevirtStaticIP: true\nenableMultusConfig: false\nenableSpiderSubnet: true\n"
    cluster = facts(spiderpool(conf, gc="false", mode="underlay"))
    assert value(cluster, "spiderpool") == "v0.8.3"
    assert value(cluster, "spiderpool-kubevirt-static-ip-disabled") is False
    assert value(cluster, "spiderpool-multus-disabled") is True
    assert value(cluster, "spiderpool-subnet-enabled") is True
    assert value(cluster, "spiderpool-ip-gc-disabled") is True
    assert value(cluster, "spiderpool-coordinator-overlay") is False
    assert (
        cluster.evidence["spiderpool-subnet-enabled"].object
        == "spiderpool/ConfigMap/spiderpool-conf"
    )


def test_multus_comes_from_the_controller_env_the_chart_sets_else_spiderpool_conf() -> None:
    conf = "enableMultusConfig: false\n"
    assert value(facts(spiderpool(conf, multus="true")), "spiderpool-multus-disabled") is False
    assert value(facts(spiderpool(conf, multus="false")), "spiderpool-multus-disabled") is True
    assert value(facts(spiderpool(conf)), "spiderpool-multus-disabled") is True
    assert value(facts(spiderpool("")), "spiderpool-multus-disabled") is None


def test_spiderpool_settings_that_are_missing_or_unreadable() -> None:
    cluster = facts(spiderpool("enableSpiderSubnet: maybe\n", gc=None, mode=None))
    # conf.yml is decoded into a Go struct: a key that is not there is false.
    assert value(cluster, "spiderpool-kubevirt-static-ip-disabled") is True
    assert "not set: false" in cluster.evidence["spiderpool-kubevirt-static-ip-disabled"].field
    assert value(cluster, "spiderpool-subnet-enabled") is None
    assert "unparseable" in (cluster.evidence["spiderpool-subnet-enabled"].reason or "")
    assert value(cluster, "spiderpool-ip-gc-disabled") is False  # GC is on unless turned off
    assert value(cluster, "spiderpool-coordinator-overlay") is None
    unreadable = facts(spiderpool("[a list]"))
    assert value(unreadable, "spiderpool-subnet-enabled") is None
    assert "not a YAML mapping" in (unreadable.evidence["spiderpool-subnet-enabled"].reason or "")


@pytest.mark.parametrize(
    ("version", "kubelet", "expected"),
    [
        ("v1.29.2+rke2r1", "v1.29.2+rke2r1", True),
        ("v1.29.2", "v1.29.2+rke2r1", True),
        ("v1.29.2", "v1.29.2", False),
        (None, None, None),
    ],
)
def test_rke2_is_recognised_by_its_version_suffix(
    version: str | None, kubelet: str | None, expected: bool | None
) -> None:
    nodes = [s.realistic_node("n", kubelet=kubelet)] if kubelet else []
    assert value(facts(nodes, version=version), "rke2") is expected


def test_services_decide_two_features_with_counts_and_names() -> None:
    objects = [
        s.service("a", "one", externalIPs=["192.0.2.1"], externalTrafficPolicy="Local"),
        s.service("b", "two", externalIPs=["192.0.2.2"], externalTrafficPolicy="Cluster"),
        *[
            s.service(f"lb{i}", "lbs", "LoadBalancer", loadBalancerSourceRanges=["10.0.0.0/8"])
            for i in range(5)
        ],
    ]
    cluster = facts(objects)
    assert value(cluster, "externalips-etp-local") is True
    assert cluster.facts.raw["externalips-etp-local"] == "1 Service: one/a"
    assert cluster.facts.raw["lb-source-ranges"] == "5 Services: lbs/lb0, lbs/lb1, lbs/lb2, ..."
    hidden = facts(objects, problems={"services": FORBIDDEN})
    assert value(hidden, "lb-source-ranges") is None


def test_kubeadm_config_absent_is_on_for_404_and_unknown_for_403() -> None:
    assert value(facts([]), "kubeadm-config-absent") is True
    present = [s.configmap("kubeadm-config", "kube-system", {"ClusterConfiguration": ""})]
    assert value(facts(present), "kubeadm-config-absent") is False
    assert value(facts([], problems={"configmaps": FORBIDDEN}), "kubeadm-config-absent") is None


def test_configuration_overrides_win_over_what_is_read_with_their_own_evidence() -> None:
    objects = [proxy(["kube-proxy", "--proxy-mode=iptables"])]
    cluster = facts(
        objects,
        overrides=Overrides(
            facts={"proxy-mode": "ipvs", "iptables-version": "1.8.4", "host-iptables-mode": "nft"},
            features={"rke2": True},
        ),
    )
    assert value(cluster, "proxy-mode") == "ipvs"
    assert value(cluster, "host-iptables-mode") == "nft"
    assert value(cluster, "rke2") is True
    assert cluster.evidence["iptables-version"].object == OVERRIDE
    assert cluster.evidence["proxy-mode"].value == "ipvs"


def test_an_unparseable_kubernetes_version_is_unknown_with_the_raw_kept() -> None:
    cluster = facts([], version="banana")
    assert "kubernetes" not in cluster.facts.values
    assert cluster.facts.raw["kubernetes"] == "banana"
    assert "unparseable" in (cluster.evidence["kubernetes"].reason or "")


# -- Malformed input never crashes ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)


@st.composite
def mangled(draw: st.DrawFn) -> dict[str, Any]:
    """A realistic object with one field somewhere replaced by arbitrary JSON."""
    base = draw(
        st.sampled_from(
            [
                proxy(CONFIG, CM_MOUNT, CM_VOLUME),
                s.calico_node("calico/node:v3.28.0"),
                s.ippool("p", "10.0.0.0/16", "Always"),
                *s.calico_common("v3.28.0", "NFT"),
                *spiderpool("enableSpiderSubnet: true\n"),
                s.service("a", externalIPs=["1.2.3.4"]),
                s.realistic_node("n", images=1),
                s.namespace("kube-system", "u"),
                s.configmap("kube-proxy", "kube-system", {"config.conf": "mode: ipvs"}),
            ]
        )
    )
    obj = _copy(base)
    path = draw(
        st.lists(
            st.sampled_from(
                [
                    "spec",
                    "metadata",
                    "template",
                    "containers",
                    "data",
                    "status",
                    "nodeInfo",
                    "env",
                    "labels",
                    "name",
                    "image",
                    "volumes",
                    "mode",
                    "ipipMode",
                    0,
                ]
            ),
            max_size=5,
        )
    )
    target: Any = obj
    for step in path[:-1]:
        if isinstance(target, dict) and step in target:
            target = target[step]
        elif isinstance(target, list) and isinstance(step, int) and target:
            target = target[0]
    if path and isinstance(target, dict):
        target[path[-1]] = draw(json_values)
    return obj


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(st.lists(mangled(), max_size=6), st.one_of(st.none(), st.text(max_size=20)))
def test_malformed_objects_give_unknowns_never_an_exception(
    objects: list[dict[str, Any]], version: str | None
) -> None:
    cluster = facts(objects, version=version)
    assert cluster.status is ClusterStatus.OK
