"""Benchmark: inventory of 200 clusters with 100 ms of latency on every request.

Run on demand (not part of the tests)::

    .venv/bin/python benchmarks/inventory_latency.py [--clusters 200] [--latency 0.1]
        [--concurrency 16 --concurrency 50]

Starts one fake API server per cluster on 127.0.0.1 (a realistic kubeadm + Calico cluster each,
with its own kube-system UID), every request answered after ``--latency`` seconds, writes one
kubeconfig with a context per cluster, and runs ``netadvisor inventory --json`` over all of them
in its own process. Prints the wall time against the ideal, which is
requests per cluster x latency x clusters / concurrency (the requests of one cluster are
sequential; clusters are read ``concurrency`` at a time). Target: within 2x of the ideal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.jobs.inventory.scenarios import kubeadm_centos_ipvs_calico, namespace  # noqa: E402
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig  # noqa: E402

TOKEN = "latency-benchmark-token-0123456789"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, action="append")
    args = parser.parse_args()
    levels = args.concurrency or [16, 50]
    netadvisor = str(Path(sys.executable).with_name("netadvisor"))
    servers: list[KubeAPIServer] = []
    failed = False
    try:
        print(f"starting {args.clusters} API servers ...", flush=True)
        for index in range(args.clusters):
            scenario = kubeadm_centos_ipvs_calico()
            scenario["objects"][0] = namespace(
                "kube-system", f"00000000-0000-4000-8000-{index:012d}"
            )
            scenario["latency"] = args.latency
            servers.append(KubeAPIServer(scenario, token=TOKEN))
        with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
            kubeconfig = write_kubeconfig(
                Path(tmp) / "kubeconfig",
                [(f"cluster-{i:03d}", server, TOKEN) for i, server in enumerate(servers)],
            )
            env = {**os.environ, "HOME": tmp, "KUBECONFIG": str(kubeconfig)}
            env.pop("NETADVISOR_CONFIG", None)
            for concurrency in levels:
                for server in servers:
                    server.clear_requests()
                started = time.perf_counter()
                done = subprocess.run(
                    [
                        netadvisor,
                        "inventory",
                        "--json",
                        "--concurrency",
                        str(concurrency),
                        "--timeout",
                        "120",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                wall = time.perf_counter() - started
                clusters = json.loads(done.stdout)["clusters"] if done.stdout else []
                ok = sum(1 for c in clusters if c["status"] == "ok")
                requests = sum(len(s.requests) for s in servers) / len(servers)
                ideal = requests * args.latency * args.clusters / concurrency
                ratio = wall / ideal
                failed |= ratio > 2 or ok != args.clusters
                print(
                    f"concurrency {concurrency:3d}: {ok}/{args.clusters} clusters ok, "
                    f"{requests:.1f} requests per cluster, wall {wall:6.2f} s, "
                    f"ideal {ideal:6.2f} s, ratio {ratio:.2f} (target <= 2)",
                    flush=True,
                )
    finally:
        for server in servers:
            server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
