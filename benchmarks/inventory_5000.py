"""Benchmark: inventory of a 5,000-node cluster, side by side with ``kubectl get nodes -o json``.

Run on demand (not part of the tests)::

    .venv/bin/python benchmarks/inventory_5000.py [--nodes 5000 20000] [--runs 3]

Serves a cluster of realistic Nodes (about 12 KB of JSON each, as a kubelet reports them) plus
kube-proxy, Calico and Services from the fake API server on 127.0.0.1 (TLS, bearer token), then
runs, alternately and each in its own process, ``netadvisor inventory --json`` (the whole
command: start-up, every request of the inventory, the facts, JSON output) and
``kubectl get nodes -o json``. Prints wall time and peak memory (max RSS from ``wait4``) of
each, medians over the runs. Nodes are read as Table cells (``includeObject=None``), page by
page. Targets (issue 13): 5,000 nodes at most 0.25x kubectl's wall time and under 120 MB peak;
20,000 nodes under 200 MB peak.

The server runs in its own process: a child's max RSS starts from its parent's RSS at fork
time, so measuring from the process that holds 5,000 nodes would charge that memory to both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "benchmark-token-0123456789abcdef"


def scenario(nodes: int) -> dict[str, object]:
    """The kubeadm/Calico scenario with ``nodes`` realistic Nodes instead of its four."""
    from tests.jobs.inventory.scenarios import kubeadm_centos_ipvs_calico
    from tests.servers.kubeapi import realistic_node

    base = kubeadm_centos_ipvs_calico()
    objects = [o for o in base["objects"] if o["kind"] != "Node"]  # type: ignore[union-attr,index]
    kernels = ["3.10.0-1160.el7.x86_64", "3.10.0-1160.119.1.el7.x86_64", "4.18.0-513.el8.x86_64"]
    for i in range(nodes):
        objects.append(
            realistic_node(
                f"node-{i:05d}",
                kernel=kernels[i % len(kernels)],
                os_image="CentOS Linux 7 (Core)",
                kubelet="v1.23.17",
                roles=["control-plane"] if i < 3 else [],
            )
        )
    return {**base, "objects": objects}


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, max RSS in MB, exit code) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != 0:
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, process.returncode


def serve(nodes: int, kubeconfig: Path) -> None:
    """Serve the cluster, write a kubeconfig for it, say "ready", stop when stdin closes."""
    from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig

    with KubeAPIServer(scenario(nodes), token=TOKEN, tls=True) as server:
        write_kubeconfig(kubeconfig, [("big", server, TOKEN)])
        print("ready", flush=True)
        sys.stdin.read()


TARGETS: dict[int, tuple[float | None, float]] = {5000: (0.25, 120.0), 20000: (None, 200.0)}
"""Node count -> (most inventory/kubectl wall-time ratio, most peak MB)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[5000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.nodes[0], Path(args.serve))
        return 0
    failed = False
    for nodes in args.nodes:
        failed |= not bench(nodes, args.runs)
    return 1 if failed else 0


def bench(nodes: int, runs_wanted: int) -> bool:
    """Run one node count; print the figures; True when its targets are met."""
    kubectl = shutil.which("kubectl")
    netadvisor = str(Path(sys.executable).with_name("netadvisor"))
    with tempfile.TemporaryDirectory(prefix="inventory-bench-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        print(f"serving {nodes} realistic nodes ...", flush=True)
        server = subprocess.Popen(
            [sys.executable, __file__, "--nodes", str(nodes), "--serve", str(kubeconfig)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdin is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the API server did not start")
        env = {**os.environ, "HOME": tmp, "KUBECONFIG": str(kubeconfig)}
        env.pop("NETADVISOR_CONFIG", None)
        runs: dict[str, list[tuple[float, float]]] = {"netadvisor inventory": [], "kubectl": []}
        try:
            for run in range(runs_wanted):
                for name, argv in (
                    (
                        "netadvisor inventory",
                        [netadvisor, "inventory", "--json", "--timeout", "600"],
                    ),
                    ("kubectl", [kubectl or "kubectl", "get", "nodes", "-o", "json"]),
                ):
                    if name == "kubectl" and kubectl is None:
                        continue
                    wall, rss, code = measure(argv, env)
                    print(
                        f"run {run + 1}: {name:<21} {wall:6.2f} s  {rss:7.1f} MB  exit {code}",
                        flush=True,
                    )
                    runs[name].append((wall, rss))
        finally:
            server.stdin.close()
            server.wait(timeout=120)
            server.stdout.close()
    print()
    print(f"{nodes} nodes, median of {runs_wanted} runs:")
    medians = {}
    for name, values in runs.items():
        if not values:
            continue
        wall = statistics.median(v[0] for v in values)
        rss = statistics.median(v[1] for v in values)
        medians[name] = (wall, rss)
        print(f"  {name:<21} wall {wall:6.2f} s   peak memory {rss:7.1f} MB")
    most_ratio, most_mb = TARGETS.get(nodes, (None, float("inf")))
    ours = medians["netadvisor inventory"]
    ok = ours[1] < most_mb
    if "kubectl" in medians:
        ratio = ours[0] / medians["kubectl"][0]
        wanted = f" (target <= {most_ratio:.2f})" if most_ratio is not None else ""
        print(f"  inventory / kubectl wall time: {ratio:.2f}{wanted}")
        ok = ok and (most_ratio is None or ratio <= most_ratio)
    print(f"  inventory peak memory {ours[1]:.0f} MB (target < {most_mb:.0f} MB)")
    print()
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
