"""Job locks: at most one process runs a given scheduled job at a time, whoever leads.

Leader election decides who *starts* jobs; it cannot stop a leader that paused in the middle of
one (a stopped VM, a long pause of the process) from waking up and finishing it while the new
leader runs the same job. So each job also holds a lock while it runs:

- on PostgreSQL (several replicas), a session-level advisory lock on a dedicated connection
  (``pg_try_advisory_lock``). If the paused process's connection was dropped meanwhile, the lock
  went with it, and :meth:`HeldLock.held` says so before the job does anything visible;
- on SQLite (one replica with its volume), an ``flock`` on a file next to the database.

Both are defence in depth: the state store itself keeps two scans that do overlap from posting
a match twice (row locks per cluster, leases on queued messages).

Taking a lock never waits: a job whose lock is busy is skipped, and the scheduler runs it again
at its next time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

__all__ = [
    "FileJobLocks",
    "HeldLock",
    "JobLocks",
    "LocalJobLocks",
    "PostgresJobLocks",
    "advisory_key",
    "job_locks_for",
]

log = logging.getLogger(__name__)

_JOB_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class HeldLock(Protocol):
    """A job lock this process holds."""

    def held(self) -> bool:
        """Whether the lock is still ours (False once its database session is gone)."""
        ...


class JobLocks(Protocol):
    """Where job locks are taken."""

    def hold(self, job: str) -> contextlib.AbstractContextManager[HeldLock | None]:
        """Take the lock of ``job`` without waiting: yields the held lock, or None when another
        process holds it. The lock is released when the block ends."""
        ...


def _check_name(job: str) -> str:
    if not _JOB_NAME.match(job):
        raise ValueError(f"job name {job!r}: use lowercase letters, digits and dashes")
    return job


def advisory_key(job: str) -> int:
    """The 64-bit advisory lock key of a job (signed, as PostgreSQL's ``bigint``); stable across
    processes and versions."""
    digest = hashlib.sha256(f"netadvisor/job/{_check_name(job)}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _Always:
    def held(self) -> bool:
        return True


class LocalJobLocks:
    """Locks within this process only (one process, no shared state: an in-memory store)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, job: str) -> Iterator[HeldLock | None]:
        """See :meth:`JobLocks.hold`."""
        with self._guard:
            lock = self._locks.setdefault(_check_name(job), threading.Lock())
        if not lock.acquire(blocking=False):
            yield None
            return
        try:
            yield _Always()
        finally:
            lock.release()


class _FileHeld:
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.released = False

    def held(self) -> bool:
        return not self.released


class FileJobLocks:
    """``flock`` on ``<directory>/<job>.lock`` (the SQLite database's directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, job: str) -> Path:
        """The lock file of ``job``."""
        return self.directory / f"netadvisor-{_check_name(job)}.lock"

    @contextlib.contextmanager
    def hold(self, job: str) -> Iterator[HeldLock | None]:
        """See :meth:`JobLocks.hold`."""
        path = self.path(job)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            held = _FileHeld(fd)
            try:
                yield held
            finally:
                held.released = True
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class _AdvisoryHeld:
    def __init__(self, conn: Connection, key: int) -> None:
        self._conn = conn
        self._key = key
        self.lost = False

    def held(self) -> bool:
        # A session-level advisory lock lives as long as its session: ask that very session.
        if self.lost:
            return False
        try:
            row = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND classid = :hi AND objid = :lo "
                    "AND objsubid = 1"
                ),
                {"hi": (self._key >> 32) & 0xFFFFFFFF, "lo": self._key & 0xFFFFFFFF},
            ).scalar_one()
            self._conn.commit()
        except SQLAlchemyError:
            self.lost = True
            return False
        return bool(row)


class _SessionLost(Exception):
    pass


class PostgresJobLocks:
    """Session-level advisory locks on PostgreSQL, each on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"advisory locks need PostgreSQL, not {engine.dialect.name}")
        self.engine = engine

    @contextlib.contextmanager
    def hold(self, job: str) -> Iterator[HeldLock | None]:
        """See :meth:`JobLocks.hold`."""
        key = advisory_key(job)
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
            conn.commit()  # the lock belongs to the session, not to this transaction
            if not got:
                yield None
                return
            held = _AdvisoryHeld(conn, key)
            try:
                yield held
            finally:
                try:
                    if held.lost:
                        raise _SessionLost
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
                except (SQLAlchemyError, _SessionLost):
                    # The session is gone, and the lock with it; never hand this connection on.
                    with contextlib.suppress(SQLAlchemyError):
                        conn.invalidate()
        finally:
            conn.close()


def job_locks_for(engine: Engine | None) -> JobLocks:
    """The job locks that go with a state store's engine: advisory locks on PostgreSQL, file
    locks next to a SQLite file, process-local locks otherwise (in-memory SQLite, no store)."""
    if engine is None:
        return LocalJobLocks()
    if engine.dialect.name == "postgresql":
        return PostgresJobLocks(engine)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return FileJobLocks(Path(database).expanduser().resolve().parent)
    return LocalJobLocks()
