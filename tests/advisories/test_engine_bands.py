"""One version on each side of every boundary of the reference's tables (sections 1-15).

Each row: advisory, stated facts, expected verdict. Rows marked "seed" keep the seed's wrong
thresholds as regression cases that must now answer as upstream says.
"""

from __future__ import annotations

import pytest

from advisories.engine import Engine
from advisories.models import Verdict

from .conftest import result_of

A, N, U = Verdict.AFFECTED, Verdict.NOT_AFFECTED, Verdict.UNKNOWN

IPVS = {"proxy_mode": "ipvs"}
IPT = {"proxy_mode": "iptables"}
NFT = {"proxy_mode": "nftables"}
VXLAN = {"calico_encapsulation": "vxlan"}
IPIP = {"calico_encapsulation": "ipip"}
KC: dict[str, str | bool] = {"calico_kube_controllers": True}

ROWS: list[tuple[str, dict[str, str | bool], Verdict]] = [
    # 1. IPVS conn_reuse_mode
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.10.13", "kernel": "5.4.0"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.10.13", "kernel": "5.10.0"}, N),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.12.10", "kernel": "5.4.0"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.12.10", "kernel": "5.10.0"}, U),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.17.17", "kernel": "5.15.0"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.18.20", "kernel": "5.15.0"}, A),  # seed: 1.18 missing
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.19.0", "kernel": "3.10.0"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.19.0", "kernel": "4.0.9"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.19.0", "kernel": "4.1.0"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.19.16", "kernel": "5.9.0"}, A),
    # issue 13: releases published before the backports (#107437/#107438, open on 2022-01-11)
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.20.0", "kernel": "5.9.0"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.20.13", "kernel": "5.15.0"}, A),  # 2021-11-17
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.20.14", "kernel": "5.15.0"}, U),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.21.0", "kernel": "5.15.0"}, A),  # 2021-04-08
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.21.7", "kernel": "5.15.0"}, A),  # 2021-11-17
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.21.8", "kernel": "5.15.0"}, U),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.21.14", "kernel": "5.10.0"}, U),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.21.14", "kernel": "5.8.18"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.22.0", "kernel": "4.0.9"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.22.0", "kernel": "4.1.0"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.22.0", "kernel": "5.8.18"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.22.0", "kernel": "5.9.0"}, N),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.30.0", "kernel": "5.6.0"}, A),  # seed: > 5.6
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.30.0", "kernel": "5.7.0"}, A),  # seed: > 5.6
    ("KP-IPVS-CONN-REUSE", {**IPT, "k8s": "1.30.0", "kernel": "5.4.0"}, N),
    ("KP-IPVS-CONN-REUSE", {"proxy_mode": "none", "kernel": "5.4.0"}, N),
    # 13. OS releases imply kernels
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "CentOS 7.9"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "CentOS Linux 8"}, A),  # 4.18, not 4.16
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "Rocky Linux 9.3"}, N),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "Ubuntu 22.04.4 LTS"}, N),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "Ubuntu 20.04.6 LTS"}, U),  # 5.4 or 5.15
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "Debian GNU/Linux 10 (buster)"}, A),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "Debian GNU/Linux 11 (bullseye)"}, N),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "Amazon Linux 2023"}, N),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "openEuler 22.03 (LTS-SP1)"}, N),
    ("KP-IPVS-CONN-REUSE", {**IPVS, "k8s": "1.27", "os": "Kylin Linux Advanced Server V10"}, A),
    # issue 13: the OS release's verified iptables default settles host-iptables-mode
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "os": "Debian GNU/Linux 10 (buster)"}, A),
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "os": "Ubuntu 20.04.6 LTS"}, N),
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "os": "Rocky Linux 8.9"}, A),
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "os": "CentOS Linux 7 (Core)"}, N),
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "os": "Amazon Linux 2"}, U),
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "os": "Ubuntu 22.04.4 LTS"}, A),
    (
        "CALICO-IPTABLES-BACKEND",
        {"calico": "3.24.5", "calico_iptables_backend": "auto", "os": "Debian GNU/Linux 11"},
        A,
    ),
    (
        "CALICO-IPTABLES-BACKEND",
        {"calico": "3.24.5", "calico_iptables_backend": "auto", "os": "Ubuntu 20.04.6 LTS"},
        N,
    ),
    # 2 and 15. --random-fully
    ("KP-IPTABLES-RANDOM-FULLY", {**IPT, "k8s": "1.15.12", "kernel": "5.10.0"}, A),
    (
        "KP-IPTABLES-RANDOM-FULLY",
        {**IPT, "k8s": "1.16.15", "kernel": "5.10.0"},
        A,
    ),  # iptables 1.6.0
    ("KP-IPTABLES-RANDOM-FULLY", {**IPT, "k8s": "1.17.0", "kernel": "5.10.0"}, N),
    (
        "KP-IPTABLES-RANDOM-FULLY",
        {**IPT, "k8s": "1.20.0", "iptables_version": "1.6.1", "kernel": "5.10.0"},
        A,
    ),
    (
        "KP-IPTABLES-RANDOM-FULLY",
        {**IPT, "k8s": "1.20.0", "iptables_version": "1.6.2", "kernel": "5.10.0"},
        N,
    ),
    ("KP-IPTABLES-RANDOM-FULLY", {**IPT, "k8s": "1.20.0", "kernel": "3.13.11"}, A),  # seed: 3.13
    ("KP-IPTABLES-RANDOM-FULLY", {**IPT, "k8s": "1.20.0", "kernel": "3.14.0"}, N),
    ("KP-IPTABLES-RANDOM-FULLY", {**IPT, "k8s": "1.20.0", "kernel": "3.10.0-1160.el7.x86_64"}, U),
    ("KP-IPTABLES-RANDOM-FULLY", {**NFT, "k8s": "1.31.0", "kernel": "3.10.0"}, N),
    # 3. externalIPs with externalTrafficPolicy: Local (IPVS only)
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.25.16", "externalips_etp_local": True}, N),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.26.0", "externalips_etp_local": True}, A),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.27.16", "externalips_etp_local": True}, A),
    # issue 13: releases published before the cherry-picks (#121928/#122323, open 2023-12-16)
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.28.0", "externalips_etp_local": True}, A),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.28.4", "externalips_etp_local": True}, A),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.28.5", "externalips_etp_local": True}, U),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.29.0", "externalips_etp_local": True}, A),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.29.1", "externalips_etp_local": True}, U),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.29.4", "externalips_etp_local": True}, U),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.30.0", "externalips_etp_local": True}, N),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPT, "k8s": "1.27.0", "externalips_etp_local": True}, N),
    ("KP-EXTERNALIPS-ETP-LOCAL", {**IPVS, "k8s": "1.27.0", "externalips_etp_local": False}, N),
    # 4. endpoint rule updates (iptables)
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.26.15"}, N),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.27.0"}, A),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.27.10"}, A),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.27.11"}, N),  # seed: < 1.30.0
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.28.6"}, A),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.28.7"}, N),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.29.1"}, A),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.29.2"}, N),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPT, "k8s": "1.30.0"}, N),
    ("KP-ENDPOINT-UPDATE-DELAY", {**IPVS, "k8s": "1.27.0"}, N),
    # 5. nftables loadBalancerSourceRanges
    ("KP-NFT-LB-SOURCE-RANGES", {**NFT, "k8s": "1.29.0", "lb_source_ranges": True}, A),
    ("KP-NFT-LB-SOURCE-RANGES", {**NFT, "k8s": "1.29.15", "lb_source_ranges": True}, A),
    ("KP-NFT-LB-SOURCE-RANGES", {**NFT, "k8s": "1.30.0", "lb_source_ranges": True}, N),
    ("KP-NFT-LB-SOURCE-RANGES", {**NFT, "k8s": "1.29.0", "lb_source_ranges": False}, N),
    ("KP-NFT-LB-SOURCE-RANGES", {**IPT, "k8s": "1.29.0", "lb_source_ranges": True}, N),
    # 6. kube-proxy iptables nft/legacy
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "host_iptables_mode": "nft"}, A),
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.16.15", "host_iptables_mode": "legacy"}, N),
    ("KP-IPTABLES-BACKEND", {**IPT, "k8s": "1.17.0", "host_iptables_mode": "nft"}, N),  # seed: 1.18
    # 7 and 15. VXLAN checksum offload
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.19.1", "kernel": "5.4.0"}, A),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.19.2", "kernel": "5.4.0"}, A),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.19.2", "kernel": "5.8.0"}, U),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.20.0", "kernel": "6.1.0"}, U),  # seed: 3.20
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.24.5", "kernel": "5.10.0"}, U),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.24.6", "kernel": "5.10.0"}, A),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.27.3", "kernel": "6.1.0"}, A),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.28.0", "kernel": "5.7.0"}, A),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.28.0", "kernel": "5.7.1"}, U),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.28.1", "kernel": "6.1.0"}, A),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.28.2", "kernel": "6.1.0"}, N),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.28.2", "kernel": "5.7.0"}, A),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "3.29.0", "kernel": "5.8.0"}, N),
    ("CALICO-VXLAN-OFFLOAD", {**IPIP, "calico": "3.19.1", "kernel": "5.4.0"}, N),
    ("CALICO-VXLAN-OFFLOAD", {**VXLAN, "calico": "none", "kernel": "5.4.0"}, N),
    # 8. VXLAN parent device routes
    (
        "CALICO-VXLAN-PARENT-ROUTES",
        {"calico_encapsulation": "vxlan-crosssubnet", "calico": "3.27.3"},
        A,
    ),
    (
        "CALICO-VXLAN-PARENT-ROUTES",
        {"calico_encapsulation": "vxlan-crosssubnet", "calico": "3.28.0"},
        N,
    ),
    # 9 and 15. kube-controllers leak
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.19.4"}, N),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.20.0"}, A),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.23.5"}, A),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.24.5"}, A),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.24.6"}, N),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.25.0"}, A),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.25.1"}, N),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {**KC, "calico": "3.26.0"}, N),
    # issue 13: the leak needs calico-kube-controllers to run (rke2-canal may leave it out)
    ("CALICO-KUBE-CONTROLLERS-LEAK", {"calico_kube_controllers": False, "calico": "3.23.5"}, N),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {"calico": "3.23.5"}, U),
    ("CALICO-KUBE-CONTROLLERS-LEAK", {"calico": "3.26.0"}, N),
    # 10. IPIP tunl0 checksum
    ("CALICO-IPIP-CHECKSUM", {**IPIP, "calico": "3.28.0", "kernel": "5.4.0"}, A),  # seed: 3.28.0
    ("CALICO-IPIP-CHECKSUM", {**IPIP, "calico": "3.28.4", "kernel": "5.4.0"}, A),
    ("CALICO-IPIP-CHECKSUM", {**IPIP, "calico": "3.29.0", "kernel": "5.4.0"}, N),
    ("CALICO-IPIP-CHECKSUM", {**IPIP, "calico": "3.27.0", "kernel": "5.7.0"}, A),
    ("CALICO-IPIP-CHECKSUM", {**IPIP, "calico": "3.27.0", "kernel": "5.7.1"}, N),
    ("CALICO-IPIP-CHECKSUM", {**VXLAN, "calico": "3.27.0", "kernel": "5.4.0"}, N),
    # 11. Felix iptables backend
    (
        "CALICO-IPTABLES-BACKEND",
        {"calico": "3.25.1", "calico_iptables_backend": "auto", "host_iptables_mode": "nft"},
        A,
    ),
    (
        "CALICO-IPTABLES-BACKEND",
        {"calico": "3.25.2", "calico_iptables_backend": "auto", "host_iptables_mode": "nft"},
        N,
    ),  # seed: 3.26.0
    (
        "CALICO-IPTABLES-BACKEND",
        {"calico": "3.26.0", "calico_iptables_backend": "auto", "host_iptables_mode": "nft"},
        N,
    ),
    (
        "CALICO-IPTABLES-BACKEND",
        {"calico": "3.24.0", "calico_iptables_backend": "nft", "host_iptables_mode": "nft"},
        N,
    ),
    # 12. Spiderpool, with the reference's fixed-in releases per line
    ("SP-2929", {"spiderpool": "0.8.3", "spiderpool_coordinator_overlay": True}, A),
    ("SP-2929", {"spiderpool": "0.8.4", "spiderpool_coordinator_overlay": True}, N),
    ("SP-2929", {"spiderpool": "0.9.0-rc0", "spiderpool_coordinator_overlay": True}, A),
    ("SP-2929", {"spiderpool": "0.9.0", "spiderpool_coordinator_overlay": True}, N),
    ("SP-3118", {"spiderpool": "0.9.0"}, A),
    ("SP-3118", {"spiderpool": "0.9.1"}, N),
    ("SP-3211", {"spiderpool": "0.9.2", "rke2": True, "kubeadm_config_absent": True}, A),
    ("SP-3211", {"spiderpool": "0.9.7", "rke2": True, "kubeadm_config_absent": True}, A),
    ("SP-3211", {"spiderpool": "0.9.8", "rke2": True, "kubeadm_config_absent": True}, N),
    ("SP-3211", {"spiderpool": "0.8.8", "rke2": True, "kubeadm_config_absent": True}, A),
    ("SP-3211", {"spiderpool": "0.8.9", "rke2": True, "kubeadm_config_absent": True}, N),
    ("SP-3211", {"spiderpool": "1.0.0", "rke2": True, "kubeadm_config_absent": True}, N),
    ("SP-3211", {"spiderpool": "0.9.2", "rke2": False, "kubeadm_config_absent": True}, N),
    ("SP-2444", {"spiderpool": "0.7.9"}, A),
    ("SP-2444", {"spiderpool": "0.8.0"}, N),
    ("SP-2639", {"spiderpool": "0.7.1"}, A),
    ("SP-2639", {"spiderpool": "0.7.2"}, N),
    ("SP-2639", {"spiderpool": "0.8.0"}, A),
    ("SP-2639", {"spiderpool": "0.8.1"}, N),
    ("SP-2538", {"spiderpool": "0.7.0"}, A),
    ("SP-2538", {"spiderpool": "0.7.1"}, N),
    ("SP-2971", {"spiderpool": "0.8.3", "spiderpool_kubevirt_static_ip_disabled": True}, A),
    ("SP-2971", {"spiderpool": "0.8.4", "spiderpool_kubevirt_static_ip_disabled": True}, N),
    ("SP-2971", {"spiderpool": "0.8.3", "spiderpool_kubevirt_static_ip_disabled": False}, N),
    ("SP-2532", {"spiderpool": "0.7.0", "spiderpool_ip_gc_disabled": True}, A),
    ("SP-2532", {"spiderpool": "0.7.1", "spiderpool_ip_gc_disabled": True}, N),
    ("SP-2929", {"spiderpool": "none"}, N),
]


@pytest.mark.parametrize(
    ("advisory", "facts", "expected"),
    ROWS,
    ids=[f"{a}-{'-'.join(str(v) for v in f.values())}" for a, f, _ in ROWS],
)
def test_reference_band_boundaries(
    engine: Engine, advisory: str, facts: dict[str, str | bool], expected: Verdict
) -> None:
    result = result_of(engine, advisory, **facts)
    assert result.verdict is expected, (result.verdict, result.depends_text(), result.cases)


def test_every_seed_advisory_is_covered_by_the_band_table(engine: Engine) -> None:
    covered = {a for a, _, _ in ROWS}
    kp_calico = {a.id for a in engine.advisories if not a.id.startswith("SP-")}
    assert kp_calico <= covered
