"""The scheduler with short intervals: jobs fire, missed runs coalesce, runs never overlap."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from jobs.schedule import Scheduler


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    s = Scheduler(misfire_grace=30)
    yield s
    s.shutdown(wait=True)


def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_an_interval_job_fires_again_and_again(scheduler: Scheduler) -> None:
    fired: list[float] = []
    scheduler.every("scan", 0.1, lambda: fired.append(time.monotonic()), start_now=True)
    scheduler.start()
    wait_until(lambda: len(fired) >= 4)
    assert scheduler.stats["scan"].runs >= 4
    assert scheduler.stats["scan"].failures == 0


def test_a_job_still_running_when_the_next_is_due_is_not_started_twice(
    scheduler: Scheduler,
) -> None:
    running = 0
    most = 0
    guard = threading.Lock()

    def slow_scan() -> None:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        time.sleep(0.35)
        with guard:
            running -= 1

    scheduler.every("scan", 0.1, slow_scan, start_now=True)
    scheduler.start()
    wait_until(lambda: scheduler.stats["scan"].runs >= 2 and scheduler.stats["scan"].skipped >= 2)
    assert most == 1
    assert scheduler.stats["scan"].running <= 1


def test_runs_missed_while_paused_coalesce_into_one(scheduler: Scheduler) -> None:
    fired: list[float] = []
    scheduler.every("scan", 0.2, lambda: fired.append(time.monotonic()))
    scheduler.start()
    wait_until(lambda: len(fired) >= 1)
    scheduler.pause()
    time.sleep(0.05)
    before = len(fired)
    time.sleep(3.0)  # fifteen runs come due meanwhile
    assert len(fired) == before
    scheduler.resume()
    wait_until(lambda: len(fired) > before)
    time.sleep(0.3)
    # One run for the fifteen missed ones, then at most the regular ones of those 0.3 s
    # (without coalescing, the fifteen would run back to back).
    assert 1 <= len(fired) - before <= 4


def test_a_failing_job_is_counted_and_keeps_its_schedule(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("cluster exploded")

    scheduler.every("scan", 0.1, broken, start_now=True)
    scheduler.start()
    wait_until(lambda: scheduler.stats["scan"].failures >= 2)
    assert scheduler.stats["scan"].last_error == "RuntimeError: cluster exploded"
    assert "job scan failed" in caplog.text


@pytest.mark.parametrize(
    ("timezone", "at", "expected"),
    [
        ("UTC", "09:00", datetime(2030, 1, 2, 9, 0, tzinfo=UTC)),
        ("Asia/Shanghai", "09:00", datetime(2030, 1, 2, 1, 0, tzinfo=UTC)),
        ("America/New_York", "09:30", datetime(2030, 1, 1, 14, 30, tzinfo=UTC)),
    ],
)
def test_the_daily_digest_runs_at_its_time_in_the_configured_zone(
    timezone: str, at: str, expected: datetime
) -> None:
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    s = Scheduler(timezone=timezone, clock=lambda: now)
    s.daily("digest", at, lambda: None)
    # The scheduler is not started: ask the trigger directly, from a fixed "now".
    job = s._scheduler.get_job("digest")
    assert job is not None
    assert job.trigger.get_next_fire_time(None, now) == expected


def test_shutdown_waits_for_the_running_job(scheduler: Scheduler) -> None:
    started = threading.Event()
    finished = threading.Event()

    def job() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    scheduler.every("scan", 60, job, start_now=True)
    scheduler.start()
    assert started.wait(5)
    scheduler.shutdown(wait=True)
    assert finished.is_set()
    assert not scheduler.running
