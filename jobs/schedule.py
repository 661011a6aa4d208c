"""When the service's jobs run: APScheduler 3 (the only module that imports it).

Every job is coalesced (runs missed while the process was paused or busy run once, not once each),
runs one instance at a time (a scan still running when the next is due is not started twice: the
due run is skipped), and may start up to ``misfire_grace`` seconds late. Across replicas, the
caller wraps each job in leader election and a job lock (:func:`jobs.leader.run_as_leader`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobExecutionEvent, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

__all__ = ["JobStats", "Scheduler", "earlier"]

log = logging.getLogger(__name__)

DEFAULT_GRACE: Final = 300.0


def earlier(at: str, minutes: int) -> str:
    """The wall-clock time ``minutes`` before ``at`` (both ``HH:MM``), across midnight:
    ``earlier("09:00", 30) == "08:30"``, ``earlier("00:10", 30) == "23:40"``."""
    hours, mins = (int(part) for part in at.split(":"))
    total = (hours * 60 + mins - minutes) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"


@dataclass
class JobStats:
    """What a job did since the scheduler started (read by health checks and tests)."""

    name: str
    runs: int = 0
    failures: int = 0
    skipped: int = 0
    """Due runs skipped because the previous run was still going."""
    running: int = 0
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Scheduler:
    """A background scheduler of named jobs. ``clock`` gives the time jobs are stamped with."""

    def __init__(
        self,
        *,
        timezone: str = "UTC",
        misfire_grace: float = DEFAULT_GRACE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.timezone = ZoneInfo(timezone)
        self._clock = clock or (lambda: datetime.now(self.timezone))
        self._scheduler = BackgroundScheduler(
            timezone=self.timezone,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(1, round(misfire_grace)),
            },
        )
        self._scheduler.add_listener(self._on_max_instances, EVENT_JOB_MAX_INSTANCES)
        self.stats: dict[str, JobStats] = {}

    def every(
        self, name: str, seconds: float, work: Callable[[], object], *, start_now: bool = False
    ) -> None:
        """Run ``work`` every ``seconds`` (first run now when ``start_now``, else after one
        interval)."""
        trigger = IntervalTrigger(seconds=seconds, timezone=self.timezone)
        first = self._clock() if start_now else None
        self._add(name, trigger, work, first)

    def daily(self, name: str, at: str, work: Callable[[], object]) -> None:
        """Run ``work`` every day at ``at`` (``HH:MM``) in the scheduler's time zone."""
        hours, minutes = (int(part) for part in at.split(":"))
        trigger = CronTrigger(hour=hours, minute=minutes, timezone=self.timezone)
        self._add(name, trigger, work, None)

    def _add(
        self, name: str, trigger: Any, work: Callable[[], object], first: datetime | None
    ) -> None:
        stats = self.stats.setdefault(name, JobStats(name))
        options: dict[str, Any] = {"id": name, "name": name, "replace_existing": True}
        if first is not None:
            options["next_run_time"] = first
        self._scheduler.add_job(self._wrap(stats, work), trigger, **options)

    def _wrap(self, stats: JobStats, work: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with stats.lock:
                stats.running += 1
                stats.last_started = self._clock()
            try:
                work()
            except Exception as exc:
                with stats.lock:
                    stats.failures += 1
                    stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("job %s failed", stats.name)
            finally:
                with stats.lock:
                    stats.running -= 1
                    stats.runs += 1
                    stats.last_finished = self._clock()

        return run

    def _on_max_instances(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        stats = self.stats.get(str(event.job_id))
        if stats is not None:
            with stats.lock:
                stats.skipped += 1
        log.info("job %s is still running; this run is skipped", event.job_id)

    def run_now(self, name: str) -> None:
        """Run the job once as soon as possible (a replica that just became the leader scans
        at once instead of at its next interval); its schedule then goes on from there."""
        job = self._scheduler.get_job(name)
        if job is not None:
            job.modify(next_run_time=self._clock())

    def next_run(self, name: str) -> datetime | None:
        """When the job runs next (None when paused or unknown)."""
        job = self._scheduler.get_job(name)
        return None if job is None else job.next_run_time

    def start(self) -> None:
        """Start running jobs in background threads."""
        self._scheduler.start()

    def pause(self) -> None:
        """Stop starting jobs (running ones finish); runs missed meanwhile coalesce."""
        self._scheduler.pause()

    def resume(self) -> None:
        """Start jobs again."""
        self._scheduler.resume()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the scheduler; with ``wait``, let running jobs finish first."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`shutdown`."""
        return bool(self._scheduler.running)
