"""Which replica runs the scheduled jobs: leader election through a ``coordination.k8s.io`` Lease.

Every replica answers Slack; the scheduled jobs (scan, digest, upstream sync) run on the leader
only. The election is the official client's (``kubernetes.leaderelection``: its acquire-or-renew
step and its ``LeaseLock``), driven by :class:`LeaseElector`, which adds what a long-running
service needs and the library leaves out: a stop, release of the Lease on a clean shutdown (so a
rolling update hands over at once instead of after a lease duration), a return to candidacy after
losing the Lease, request timeouts, and :meth:`LeaseElector.is_leader` that turns False by itself
once ``renew_deadline`` has passed since the last successful renewal, even if the renewing thread
is stuck.

The guarantees are client-go's: a follower takes over only after it has seen the Lease unchanged
for ``lease_duration``, and a leader stops calling itself leader after ``renew_deadline`` (shorter)
without a renewal. A paused process (stopped VM, long GC, SIGSTOP) breaks that reasoning: it may
wake up in the middle of a job believing it still leads. The job lock (:mod:`jobs.joblock`) is
what stops it from finishing that job at the same time as the new leader; :func:`run_as_leader`
takes both.

Outside Kubernetes, a single process needs no election: :class:`SingleProcess` always leads.

``kubernetes`` is imported here and in :mod:`jobs.inventory.kube` only (an import-linter
contract).

See: https://github.com/kubernetes/client-go/blob/master/tools/leaderelection/leaderelection.go
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from kubernetes import client as k8s
from kubernetes import config as _k8s_config
from kubernetes.leaderelection import electionconfig, leaderelection, leaderelectionrecord
from kubernetes.leaderelection.resourcelock import leaselock

from jobs.joblock import JobLocks

__all__ = [
    "DEFAULT_LEASE_NAME",
    "ElectionSettings",
    "JobOutcome",
    "Leadership",
    "LeaseElector",
    "SingleProcess",
    "api_client",
    "run_as_leader",
]

log = logging.getLogger(__name__)

DEFAULT_LEASE_NAME: Final = "netadvisor-scheduler"
"""The Lease the replicas compete for (the deployment's Role grants exactly this one)."""

# The election modules and the config loaders have no type annotations.
_ElectionConfig: Any = electionconfig.Config
_LeaderElection: Any = leaderelection.LeaderElection
_Record: Any = leaderelectionrecord.LeaderElectionRecord
_LeaseLock: Any = leaselock.LeaseLock
_load_incluster_config: Any = _k8s_config.load_incluster_config
_load_kube_config: Any = _k8s_config.load_kube_config

# client-go's JitterUntil factor: followers retry after retry_period * (1 + up to 1.2).
_JITTER: Final = 1.2


class Leadership(Protocol):
    """Whether this process may run the scheduled jobs now."""

    def is_leader(self) -> bool:
        """True while this process leads; may turn False at any time."""
        ...


class SingleProcess:
    """No election: the only process leads (outside Kubernetes, or one replica by choice)."""

    def is_leader(self) -> bool:
        """Always True."""
        return True


@dataclass(frozen=True, slots=True)
class ElectionSettings:
    """Where the Lease is and how its timing goes (client-go's defaults: 15 s, 10 s, 2 s)."""

    namespace: str
    """Namespace of the Lease (the pod's own namespace)."""
    identity: str
    """This candidate's name in ``spec.holderIdentity`` (the pod name: unique, and readable)."""
    lease_name: str = DEFAULT_LEASE_NAME
    lease_duration: int = 15
    """Seconds a follower waits, after last seeing the Lease change, before taking it over."""
    renew_deadline: int = 10
    """Seconds a leader keeps trying to renew before it stops leading."""
    retry_period: int = 2
    """Seconds between two attempts (followers add up to 120 % jitter)."""

    def __post_init__(self) -> None:
        # The library's Config calls sys.exit on these; say it as an error instead.
        if not self.namespace or not self.identity or not self.lease_name:
            raise ValueError("leader election needs a namespace, an identity and a lease name")
        if self.retry_period < 1:
            raise ValueError("leader election: retry_period must be at least 1 second")
        if self.renew_deadline <= _JITTER * self.retry_period:
            raise ValueError("leader election: renew_deadline must exceed 1.2 x retry_period")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leader election: lease_duration must exceed renew_deadline")


def api_client(kubeconfig: Path | None = None, context: str | None = None) -> k8s.ApiClient:
    """An API client for the election: in-cluster (the pod's service account) when
    ``kubeconfig`` is None, else from that kubeconfig file. urllib3's retries are off: the
    elector retries on its own schedule and must not overrun ``renew_deadline``."""
    configuration = k8s.Configuration()
    if kubeconfig is None:
        _load_incluster_config(client_configuration=configuration)
    else:
        _load_kube_config(
            config_file=str(kubeconfig), context=context, client_configuration=configuration
        )
    configuration.retries = False
    return k8s.ApiClient(configuration)


class _LeasesWithTimeout:
    """The three Lease calls the lock makes, each bounded by a timeout (the library sets none,
    so one hung request would stall renewals past the deadline)."""

    def __init__(self, api: k8s.CoordinationV1Api, timeout: float) -> None:
        self._api = api
        self._timeout = timeout

    def read_namespaced_lease(self, name: str, namespace: str) -> Any:
        return self._api.read_namespaced_lease(name, namespace, _request_timeout=self._timeout)

    def create_namespaced_lease(self, namespace: str, body: Any) -> Any:
        return self._api.create_namespaced_lease(namespace, body, _request_timeout=self._timeout)

    def replace_namespaced_lease(self, name: str, namespace: str, body: Any) -> Any:
        return self._api.replace_namespaced_lease(
            name=name, namespace=namespace, body=body, _request_timeout=self._timeout
        )


def _lease_lock(api: _LeasesWithTimeout, settings: ElectionSettings) -> Any:
    """The official LeaseLock, talking through ``api`` instead of the global default client."""
    lock = _LeaseLock(settings.lease_name, settings.namespace, settings.identity)
    lock.api_instance = api
    return lock


class JobOutcome(StrEnum):
    """What :func:`run_as_leader` did with a job."""

    RAN = "ran"
    NOT_LEADER = "not_leader"
    """Skipped: another replica leads."""
    LOCKED = "locked"
    """Skipped: the job lock is held (a former leader is still finishing this job)."""


class LeaseElector:
    """Takes part in the election for one Lease from a background thread.

    Use :meth:`start` and :meth:`stop` (or the context manager). ``on_change`` is called from the
    election thread with True when this process starts leading and False when it stops.

    Args:
        api: an API client built elsewhere (see :func:`api_client`); not closed here.
        settings: the Lease and its timing.
        on_change: called on every change of leadership.
    """

    def __init__(
        self,
        api: k8s.ApiClient,
        settings: ElectionSettings,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_change = on_change
        timeout = float(settings.retry_period)
        self._lock = _lease_lock(_LeasesWithTimeout(k8s.CoordinationV1Api(api), timeout), settings)
        self._election: Any = _LeaderElection(
            _ElectionConfig(
                self._lock,
                lease_duration=settings.lease_duration,
                renew_deadline=settings.renew_deadline,
                retry_period=settings.retry_period,
                onstarted_leading=lambda: None,  # leadership is read through is_leader()
                onstopped_leading=lambda: None,
            )
        )
        self._state = threading.Lock()
        self._leading = False
        self._renewed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Join the election in a background thread."""
        if self._thread is not None:
            raise RuntimeError("the elector was already started")
        self._thread = threading.Thread(
            target=self._loop, name="netadvisor-leader-election", daemon=True
        )
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Leave the election; with ``release``, hand the Lease back if this process holds it,
        so that another replica takes over at its next attempt instead of after
        ``lease_duration``. Waits for the election thread (at most one request timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.retry_period * 3 + 1)
        was_leading = self._set_leading(False)
        if release and was_leading:
            self._release()

    def __enter__(self) -> LeaseElector:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- state --------------------------------------------------------------------------------

    def is_leader(self) -> bool:
        """True while this process holds the Lease and renewed it within ``renew_deadline``."""
        with self._state:
            deadline = self._renewed_at + self.settings.renew_deadline
            return self._leading and time.monotonic() < deadline

    @property
    def holder(self) -> str | None:
        """The holder of the Lease as last seen (None before the first read or when free)."""
        record = self._election.observed_record
        return getattr(record, "holder_identity", None) or None

    def wait_until_leader(self, timeout: float) -> bool:
        """Block until this process leads or ``timeout`` seconds pass; the result of
        :meth:`is_leader` then."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.is_leader():
            if self._stop.wait(0.05):
                break
        return self.is_leader()

    # -- the election loop --------------------------------------------------------------------

    def _loop(self) -> None:
        settings = self.settings
        while not self._stop.is_set():
            renewed = self._attempt()
            now = time.monotonic()
            with self._state:
                if renewed:
                    self._renewed_at = now
                mine = self.holder == settings.identity
                leading = mine and now < self._renewed_at + settings.renew_deadline
            self._set_leading(leading)
            pause = float(settings.retry_period)
            if not leading:
                pause *= 1 + random.random() * _JITTER
            self._stop.wait(pause)

    def _attempt(self) -> bool:
        """One acquire-or-renew; False on any failure (logged once per run of failures)."""
        try:
            ok = bool(self._election.try_acquire_or_renew())
        except Exception as exc:  # the library lets connection errors through
            if self._failures == 0:
                log.warning(
                    "leader election: cannot reach the API server for Lease %s/%s: %s",
                    self.settings.namespace,
                    self.settings.lease_name,
                    type(exc).__name__,
                )
            self._failures += 1
            return False
        if self._failures:
            log.info("leader election: the API server answers again")
        self._failures = 0
        return ok

    def _set_leading(self, leading: bool) -> bool:
        """Record the new state; call ``on_change`` on a change. Returns the previous state."""
        with self._state:
            previous, self._leading = self._leading, leading
        if previous != leading:
            log.info(
                "leader election: %s %s Lease %s/%s",
                self.settings.identity,
                "now holds" if leading else "no longer holds",
                self.settings.namespace,
                self.settings.lease_name,
            )
            if self._on_change is not None:
                self._on_change(leading)
        return previous

    def _release(self) -> None:
        """Clear the holder (as client-go's ReleaseOnCancel does), unless someone else holds it."""
        settings = self.settings
        try:
            found, record = self._lock.get(settings.lease_name, settings.namespace)
            if not found or getattr(record, "holder_identity", None) != settings.identity:
                return
            now = str(datetime.now())  # the record's own format, see leaselock.time_str_to_iso
            released = _Record(None, "1", now, now)
            if self._lock.update(settings.lease_name, settings.namespace, released):
                log.info("leader election: released Lease %s/%s", settings.namespace,
                         settings.lease_name)  # fmt: skip
        except Exception as exc:  # best effort: the Lease then expires on its own
            log.warning("leader election: could not release the Lease: %s", type(exc).__name__)


def run_as_leader(
    job: str,
    work: Callable[[], object],
    leadership: Leadership,
    locks: JobLocks,
) -> JobOutcome:
    """Run ``work`` if this process leads and can take the lock of ``job``; say what happened.

    The lock is held while ``work`` runs, so that a former leader that paused in the middle of
    this job and woke up still believing it leads cannot run it at the same time as the new one.
    """
    if not leadership.is_leader():
        log.debug("job %s skipped: not the leader", job)
        return JobOutcome.NOT_LEADER
    with locks.hold(job) as held:
        if held is None:
            log.info("job %s skipped: its lock is held by another process", job)
            return JobOutcome.LOCKED
        work()
    return JobOutcome.RAN
