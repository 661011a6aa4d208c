"""Leader election against a Kubernetes API server on 127.0.0.1 that serves Leases.

Short timings (lease 3 s, renew deadline 2 s, retry 1 s: the library's minimum retry period is
one second) keep the failover tests to a few seconds each.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from jobs.joblock import FileJobLocks, JobLocks, LocalJobLocks
from jobs.leader import (
    ElectionSettings,
    JobOutcome,
    LeaseElector,
    SingleProcess,
    api_client,
    run_as_leader,
)
from tests.servers.kubeapi import KubeAPIServer, write_kubeconfig

NAMESPACE = "netadvisor"
LEASE = "netadvisor-scheduler"
TOKEN = "leader-test-token"
TIMING = {"lease_duration": 3, "renew_deadline": 2, "retry_period": 1}


def _scenario() -> dict[str, Any]:
    return {
        "objects": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        ]
    }


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    with KubeAPIServer(_scenario(), token=TOKEN, tls=True) as srv:
        yield srv
    assert srv.handler_errors == []


@pytest.fixture
def kubeconfig(server: KubeAPIServer, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", [("hub", server, TOKEN)])


@dataclass
class Candidate:
    """One replica: its API client, its elector and the leadership changes it saw."""

    name: str
    api: k8s.ApiClient
    elector: LeaseElector
    changes: list[tuple[float, bool]] = field(default_factory=list)

    def close(self) -> None:
        self.elector.stop(release=False)
        self.api.close()


@pytest.fixture
def candidates(kubeconfig: Path) -> Iterator[dict[str, Candidate]]:
    made: dict[str, Candidate] = {}

    def make(name: str) -> Candidate:
        api = api_client(kubeconfig)
        changes: list[tuple[float, bool]] = []
        settings = ElectionSettings(namespace=NAMESPACE, identity=name, **TIMING)
        elector = LeaseElector(
            api, settings, on_change=lambda leading: changes.append((time.monotonic(), leading))
        )
        made[name] = Candidate(name, api, elector, changes)
        return made[name]

    for name in ("pod-a", "pod-b"):
        make(name)
    yield made
    for candidate in made.values():
        candidate.close()


def _wait_for(predicate: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _leaders(candidates: dict[str, Candidate]) -> list[str]:
    return [c.name for c in candidates.values() if c.elector.is_leader()]


def test_two_candidates_elect_exactly_one_leader_and_the_lease_names_it(
    server: KubeAPIServer, candidates: dict[str, Candidate]
) -> None:
    for candidate in candidates.values():
        candidate.elector.start()
    assert _wait_for(lambda: len(_leaders(candidates)) == 1, timeout=5)
    time.sleep(TIMING["lease_duration"] + 1)  # past a whole lease: still one, the same one
    leaders = _leaders(candidates)
    assert len(leaders) == 1
    assert server.leases.holder(NAMESPACE, LEASE) == leaders[0]
    follower = next(c for c in candidates.values() if c.name != leaders[0])
    assert follower.elector.holder == leaders[0]
    assert follower.changes == []
    lease = server.leases.get(NAMESPACE, LEASE)
    assert lease is not None
    assert lease["spec"]["leaseDurationSeconds"] == TIMING["lease_duration"]
    assert lease["spec"]["renewTime"].endswith("Z")


def test_the_follower_takes_over_once_the_dead_leaders_lease_expires(
    server: KubeAPIServer, candidates: dict[str, Candidate]
) -> None:
    a, b = candidates["pod-a"], candidates["pod-b"]
    a.elector.start()
    assert a.elector.wait_until_leader(5)
    b.elector.start()
    time.sleep(1.5)
    assert not b.elector.is_leader()

    a.elector.stop(release=False)  # the leader dies: no release, its Lease just stops renewing
    died = time.monotonic()
    assert not a.elector.is_leader()
    assert b.elector.wait_until_leader(TIMING["lease_duration"] + 4)
    took_over = time.monotonic() - died
    assert server.leases.holder(NAMESPACE, LEASE) == "pod-b"
    # Not before the Lease expired (it was renewed at most one retry period before the death).
    assert took_over >= TIMING["lease_duration"] - TIMING["retry_period"] - 0.2
    assert _wait_for(lambda: [leading for _, leading in b.changes] == [True], timeout=1)


def test_a_clean_stop_releases_the_lease_and_hands_over_at_once(
    server: KubeAPIServer, candidates: dict[str, Candidate]
) -> None:
    a, b = candidates["pod-a"], candidates["pod-b"]
    a.elector.start()
    assert a.elector.wait_until_leader(5)
    b.elector.start()
    time.sleep(1.2)
    a.elector.stop(release=True)
    stopped = time.monotonic()
    assert server.leases.holder(NAMESPACE, LEASE) in (None, "pod-b")  # released (or taken)
    assert b.elector.wait_until_leader(TIMING["lease_duration"])
    # Well before the lease duration a crash would have cost.
    assert time.monotonic() - stopped < TIMING["lease_duration"] - 0.3
    assert [leading for _, leading in a.changes] == [True, False]


def test_a_leader_that_cannot_renew_stops_leading_within_the_renew_deadline(
    server: KubeAPIServer, candidates: dict[str, Candidate]
) -> None:
    a = candidates["pod-a"]
    a.elector.start()
    assert a.elector.wait_until_leader(5)
    server.update_scenario(errors={"/apis/coordination.k8s.io/*": 503})
    cut = time.monotonic()
    assert _wait_for(lambda: not a.elector.is_leader(), timeout=TIMING["renew_deadline"] + 1)
    assert time.monotonic() - cut <= TIMING["renew_deadline"] + 0.5
    # is_leader() turns False by itself; the election thread notices at its next attempt.
    assert _wait_for(lambda: [leading for _, leading in a.changes] == [True, False], timeout=3)
    server.update_scenario(errors={})
    assert a.elector.wait_until_leader(TIMING["lease_duration"] + 3)  # its own Lease: renews


def test_forbidden_leases_mean_never_leading(
    server: KubeAPIServer, candidates: dict[str, Candidate]
) -> None:
    server.update_scenario(forbidden=[("coordination.k8s.io", "leases")])
    a = candidates["pod-a"]
    a.elector.start()
    assert not a.elector.wait_until_leader(2.5)
    assert a.changes == []
    assert server.leases.get(NAMESPACE, LEASE) is None


def test_the_election_makes_only_the_requests_the_lease_role_grants(
    server: KubeAPIServer, candidates: dict[str, Candidate]
) -> None:
    a, b = candidates["pod-a"], candidates["pod-b"]
    a.elector.start()
    b.elector.start()
    assert _wait_for(lambda: len(_leaders(candidates)) == 1, timeout=5)
    time.sleep(1.5)
    a.elector.stop()
    b.elector.stop()
    made = {(r.group, r.resource, r.verb) for r in server.rbac_requests()}
    assert made == {
        ("coordination.k8s.io", "leases", "get"),
        ("coordination.k8s.io", "leases", "create"),
        ("coordination.k8s.io", "leases", "update"),
    }
    paths = {r.path for r in server.requests}
    assert paths <= {
        f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases",
        f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{LEASE}",
    }


@pytest.mark.parametrize(
    ("timing", "problem"),
    [
        ({"lease_duration": 10, "renew_deadline": 10, "retry_period": 2}, "lease_duration"),
        ({"lease_duration": 15, "renew_deadline": 2, "retry_period": 2}, "renew_deadline"),
        ({"lease_duration": 15, "renew_deadline": 10, "retry_period": 0}, "retry_period"),
    ],
)
def test_bad_timings_are_errors_not_exits(timing: dict[str, int], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ElectionSettings(namespace=NAMESPACE, identity="pod-a", **timing)


# ---------------------------------------------------------------------------------------------
# Jobs never run on both


@dataclass
class Replica:
    """A replica's scheduler in miniature: tries its job every ``interval`` seconds."""

    name: str
    leadership: Any
    locks: JobLocks
    runs: list[tuple[str, float, float]]
    job_seconds: float = 0.15
    interval: float = 0.1
    outcomes: list[JobOutcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def work(self) -> None:
        start = time.monotonic()
        time.sleep(self.job_seconds)
        self.runs.append((self.name, start, time.monotonic()))

    def loop(self) -> None:
        while not self.stop.is_set():
            self.outcomes.append(run_as_leader("scan", self.work, self.leadership, self.locks))
            self.stop.wait(self.interval)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def halt(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


def _overlaps(runs: list[tuple[str, float, float]]) -> list[tuple[Any, Any]]:
    ordered = sorted(runs, key=lambda r: r[1])
    return [(x, y) for x, y in itertools.pairwise(ordered) if y[1] < x[2]]


def test_jobs_run_on_the_leader_only_before_and_after_a_failover(
    candidates: dict[str, Candidate],
) -> None:
    a, b = candidates["pod-a"], candidates["pod-b"]
    runs: list[tuple[str, float, float]] = []
    # Separate process-local locks: here the election alone keeps the jobs apart.
    replicas = [Replica(c.name, c.elector, LocalJobLocks(), runs) for c in (a, b)]
    a.elector.start()
    assert a.elector.wait_until_leader(5)
    b.elector.start()
    for replica in replicas:
        replica.start()
    time.sleep(1.5)
    replicas[0].halt()  # pod-a dies: its scheduler and its elector stop, the Lease is not released
    a.elector.stop(release=False)
    assert b.elector.wait_until_leader(TIMING["lease_duration"] + 4)
    time.sleep(1)
    replicas[1].halt()
    ran_on = [name for name, _, _ in runs]
    assert "pod-a" in ran_on and "pod-b" in ran_on
    assert ran_on == sorted(ran_on)  # all of pod-a's runs, then all of pod-b's
    assert _overlaps(runs) == []
    assert JobOutcome.NOT_LEADER in replicas[1].outcomes


def test_a_paused_former_leader_cannot_finish_its_job_alongside_the_new_leader(
    candidates: dict[str, Candidate], tmp_path: Path
) -> None:
    a, b = candidates["pod-a"], candidates["pod-b"]
    locks_dir = tmp_path / "state"  # the volume both would share; each opens its own lock
    runs: list[tuple[str, float, float]] = []
    a.elector.start()
    assert a.elector.wait_until_leader(5)
    b.elector.start()

    in_job = threading.Event()

    def long_job() -> None:
        start = time.monotonic()
        in_job.set()
        a.elector.stop(release=False)  # pod-a "pauses": it renews no more, yet its job goes on
        time.sleep(TIMING["lease_duration"] + 3)
        runs.append(("pod-a", start, time.monotonic()))

    outcome: list[JobOutcome] = []
    paused = threading.Thread(
        target=lambda: outcome.append(
            run_as_leader("scan", long_job, a.elector, FileJobLocks(locks_dir))
        )
    )
    paused.start()
    assert in_job.wait(5)
    replica_b = Replica("pod-b", b.elector, FileJobLocks(locks_dir), runs, interval=0.2)
    replica_b.start()
    assert b.elector.wait_until_leader(TIMING["lease_duration"] + 4)
    paused.join(timeout=15)
    time.sleep(1)
    replica_b.halt()
    assert outcome == [JobOutcome.RAN]
    assert JobOutcome.LOCKED in replica_b.outcomes  # pod-b led, but pod-a's job was running
    assert [name for name, _, _ in runs].count("pod-b") >= 1
    assert _overlaps(runs) == []


def test_a_single_process_always_leads_and_still_takes_the_job_lock(tmp_path: Path) -> None:
    locks = FileJobLocks(tmp_path)
    with locks.hold("scan") as held:
        assert held is not None
        assert run_as_leader("scan", lambda: None, SingleProcess(), locks) is JobOutcome.LOCKED
    assert run_as_leader("scan", lambda: None, SingleProcess(), locks) is JobOutcome.RAN
