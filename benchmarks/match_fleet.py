"""Benchmark: match a fleet of 1,000 clusters x 50 nodes against the full catalog.

Run on demand: ``python benchmarks/match_fleet.py [--clusters N] [--nodes N]``. Prints the wall
time of matching (facts already collected) and the peak memory of the process. Target: under
1 s and under 200 MB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from advisories.catalog import load_catalog
from advisories.engine import Engine
from advisories.facts import Facts, parse_fact
from advisories.fleet import ClusterFacts, ClusterStatus, Node, match_cluster
from advisories.models import Verdict

KERNELS = [
    "3.10.0-957.el7.x86_64", "3.10.0-1062.el7.x86_64", "3.10.0-1127.el7.x86_64",
    "3.10.0-1160.el7.x86_64", "3.10.0-1160.108.1.el7.x86_64", "4.18.0-80.el8.x86_64",
    "4.18.0-477.27.1.el8_8.x86_64", "4.18.0-513.5.1.el8_9.x86_64", "5.14.0-362.8.1.el9_3.x86_64",
    "4.15.0-213-generic", "5.4.0-150-generic", "5.4.0-1103-aws", "5.15.0-1019-aws",
    "5.15.0-91-generic", "6.8.0-1015-aws", "6.8.0-45-generic", "4.19.0-26-amd64",
    "5.10.0-28-amd64", "6.1.0-18-amd64", "6.1.0-25-cloud-amd64", "4.14.336-257.562.amzn2.x86_64",
    "5.10.210-201.852.amzn2.x86_64", "6.1.79-99.164.amzn2023.x86_64",
    "5.10.0-60.18.0.50.oe2203.x86_64", "5.10.0-136.12.0.86.oe2203sp1.x86_64",
    "4.19.90-24.4.v2101.ky10.x86_64", "4.19.90-52.22.v2207.ky10.x86_64", "5.15.133+",
    "6.1.58+", "5.7.0", "5.8.18", "5.9.16", "not-a-kernel",
]  # fmt: skip
K8S = ["v1.19.16", "v1.21.14", "v1.23.17", "v1.25.16", "v1.26.6+k3s1", "v1.27.8-gke.1067004",
       "v1.28.3-eks-e71965b", "v1.29.2+rke2r1", "v1.30.4", "v1.31.1"]  # fmt: skip
CALICO = ["none", "v3.19.1", "v3.20.6", "v3.24.5", "v3.25.0", "v3.26.4", "v3.27.3", "v3.28.0",
          "v3.28.2", "v3.29.1"]  # fmt: skip
SPIDERPOOL = ["none", "v0.7.0", "v0.8.3", "v0.9.0-rc1", "v0.9.2", "v1.0.0"]
MODES = ["iptables", "ipvs", "nftables"]
ENCAPS = ["vxlan", "ipip", "vxlan-crosssubnet", "ipip-crosssubnet", "none"]


def fleet(clusters: int, nodes: int, seed: int = 7) -> list[ClusterFacts]:
    """A realistic mix: each cluster has 1-3 kernels across its nodes."""
    rng = random.Random(seed)
    out = []
    for i in range(clusters):
        values, raw = {}, {}
        for key, choices in (
            ("kubernetes", K8S),
            ("proxy-mode", MODES),
            ("calico", CALICO),
            ("spiderpool", SPIDERPOOL),
            ("calico-encapsulation", ENCAPS),
        ):
            text = rng.choice(choices)
            canonical, domain, _ = parse_fact(key, text)
            values[canonical], raw[canonical] = domain, text
        for feature in ("externalips-etp-local", "lb-source-ranges", "rke2"):
            if rng.random() < 0.8:
                values[feature] = frozenset({rng.random() < 0.3})
        kernels = rng.sample(KERNELS, rng.randint(1, 3))
        node_list = tuple(
            Node(name=f"c{i}-n{j}", kernel=kernels[j % len(kernels)], os_image="Linux")
            for j in range(nodes)
        )
        out.append(ClusterFacts(f"cluster-{i}", f"uid-{i}", ClusterStatus.OK,
                                Facts(values=values, raw=raw), node_list))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=50)
    args = parser.parse_args()
    catalog = load_catalog()
    clusters = fleet(args.clusters, args.nodes)
    engine = Engine(catalog.advisories)
    start = time.perf_counter()
    affected = 0
    for cluster in clusters:
        for match in match_cluster(engine, cluster):
            affected += match.verdict is Verdict.AFFECTED
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"clusters={args.clusters} nodes/cluster={args.nodes} "
        f"advisories={len(catalog.advisories)} cluster-advisory matches={affected} affected"
    )
    print(f"match time: {elapsed:.3f} s   peak RSS: {peak_mb:.0f} MB   "
          f"engine cache entries: {len(engine._cache)}")  # fmt: skip


if __name__ == "__main__":
    main()
