"""Job locks: a file lock next to SQLite, a session advisory lock on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from jobs.joblock import (
    FileJobLocks,
    LocalJobLocks,
    PostgresJobLocks,
    advisory_key,
    job_locks_for,
)
from tests.state_databases import postgres_base_url


def test_the_advisory_key_of_a_job_is_stable_and_fits_a_bigint() -> None:
    # Pinned: replicas of different versions must agree on the key during a rolling update.
    assert advisory_key("scan") == advisory_key("scan")
    assert advisory_key("scan") != advisory_key("digest")
    for job in ("scan", "digest", "upstream-sync"):
        assert -(2**63) <= advisory_key(job) < 2**63


@pytest.mark.parametrize("bad", ["", "Scan", "scan job", "../etc/passwd", "x" * 64])
def test_job_names_are_checked(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="job name"):
        advisory_key(bad)
    with pytest.raises(ValueError, match="job name"), FileJobLocks(tmp_path).hold(bad):
        pass


def test_the_store_decides_the_kind_of_lock(tmp_path: Path) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    memory = create_engine("sqlite://")
    try:
        locks = job_locks_for(sqlite)
        assert isinstance(locks, FileJobLocks) and locks.directory == tmp_path.resolve()
        assert isinstance(job_locks_for(memory), LocalJobLocks)
        assert isinstance(job_locks_for(None), LocalJobLocks)
    finally:
        sqlite.dispose()
        memory.dispose()


def test_a_file_lock_excludes_a_second_holder_until_released(tmp_path: Path) -> None:
    first, second = FileJobLocks(tmp_path), FileJobLocks(tmp_path)
    with first.hold("scan") as held:
        assert held is not None and held.held()
        with second.hold("scan") as other:
            assert other is None
        with second.hold("digest") as other_job:
            assert other_job is not None
    assert not held.held()
    with second.hold("scan") as again:
        assert again is not None


def _hold_in_child(directory: str, ready: str, release: str) -> None:  # pragma: no cover
    import time

    locks = FileJobLocks(Path(directory))
    with locks.hold("scan") as held:
        assert held is not None
        Path(ready).touch()
        while not Path(release).exists():
            time.sleep(0.02)


def test_a_file_lock_held_by_another_process_is_seen_and_freed_when_it_dies(
    tmp_path: Path,
) -> None:
    ready, release = tmp_path / "ready", tmp_path / "release"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tests.jobs.test_leader_joblock import _hold_in_child; "
            "_hold_in_child(*sys.argv[1:])",
            str(tmp_path),
            str(ready),
            str(release),
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        for _ in range(500):
            if ready.exists() or child.poll() is not None:
                break
            time.sleep(0.02)
        assert ready.exists()
        with FileJobLocks(tmp_path).hold("scan") as held:
            assert held is None
        child.kill()  # killed, not released: the kernel drops the flock with the process
        child.wait(timeout=10)
        with FileJobLocks(tmp_path).hold("scan") as held:
            assert held is not None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)


def test_local_locks_exclude_within_the_process() -> None:
    locks = LocalJobLocks()
    with locks.hold("scan") as held:
        assert held is not None
        with locks.hold("scan") as other:
            assert other is None
    with locks.hold("scan") as again:
        assert again is not None


# ---------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture
def pg() -> Iterator[Engine]:
    engine = create_engine(postgres_base_url())
    yield engine
    engine.dispose()


def test_an_advisory_lock_excludes_other_sessions_and_is_released(pg: Engine) -> None:
    other_engine = create_engine(pg.url)
    try:
        first, second = PostgresJobLocks(pg), PostgresJobLocks(other_engine)
        with first.hold("test-scan") as held:
            assert held is not None and held.held()
            with second.hold("test-scan") as other:
                assert other is None
        with second.hold("test-scan") as again:
            assert again is not None
        with pg.connect() as conn:
            key = advisory_key("test-scan")
            left = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = :hi AND objid = :lo"
                ),
                {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
            ).scalar_one()
        assert left == 0
    finally:
        other_engine.dispose()


def test_a_lock_whose_session_was_killed_is_no_longer_held(pg: Engine) -> None:
    locks = PostgresJobLocks(pg)
    with locks.hold("test-digest") as held:
        assert held is not None and held.held()
        with pg.connect() as admin:
            key = advisory_key("test-digest")
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = :hi AND objid = :lo AND pid <> pg_backend_pid()"
                ),
                {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
            )
            admin.commit()
        # The paused former leader wakes up: its lock went with its session.
        assert not held.held()
        with PostgresJobLocks(pg).hold("test-digest") as taken_over:
            assert taken_over is not None
    # Leaving the block with a dead session is not an error, and the pool stays usable.
    with pg.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_advisory_locks_need_postgresql(tmp_path: Path) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(ValueError, match="PostgreSQL"):
            PostgresJobLocks(sqlite)
    finally:
        sqlite.dispose()
