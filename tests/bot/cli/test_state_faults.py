"""The state database failing under a command: one line and exit 1, never a traceback.

A damaged SQLite file is refused when it is opened (``quick_check``); a disk that fills up in
the middle of a scan (a file-size limit on the process, as a full disk answers) and a
PostgreSQL that stops in the middle of a scan (a proxy on 127.0.0.1 that drops every
connection at the scan's first write and refuses new ones) each end the scan with one line.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from jobs.inventory.dumps import demo_bundles
from jobs.store import Store, StoreError
from tests.bot.cli.test_ask import seed_store
from tests.runner import run
from tests.state_databases import database_url

PAGE = 4096


def _config(tmp_path: Path) -> Path:
    lines = ["clusters:"]
    for bundle in demo_bundles():
        lines.append(f"  - name: {bundle.stem}\n    dump: {bundle}")
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _damage_page(path: Path, number: int) -> None:
    """Overwrite the b-tree header of page ``number`` (0-based) with one whose cells point
    nowhere, as a torn write would leave it."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    data = bytearray(path.read_bytes())
    assert len(data) > (number + 1) * PAGE
    data[number * PAGE : number * PAGE + 12] = bytes.fromhex("0d000000090fff0000000000")
    path.write_bytes(bytes(data))


def test_a_damaged_sqlite_file_is_refused_at_open_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    url = seed_store(path)
    _damage_page(path, 8)
    with pytest.raises(StoreError) as refused:
        Store.open(url)
    message = str(refused.value)
    assert "the SQLite file is damaged (quick_check: On tree page 9" in message
    assert "restore it from a backup" in message and "\n" not in message
    code, _, err = run("mutes", "--state", url)
    assert code != 0
    assert len(err.splitlines()) == 1 and "the SQLite file is damaged" in err


def test_a_disk_that_fills_up_mid_scan_ends_the_scan_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(url).close()  # the tables exist: the scan's own writes are what fail

    def small_disk() -> None:
        limit = 32 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    config = _config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "scan", "--config", str(config), "--state", url],
        capture_output=True, text=True, timeout=120, preexec_fn=small_disk, check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("netadvisor: state database: disk I/O error"), done.stderr
    assert "disk may be full" in last


class _StoppingProxy:
    """A TCP proxy on 127.0.0.1 to PostgreSQL that, once the client sends ``trigger``, closes
    every connection and refuses new ones: the database stopped."""

    def __init__(self, host: str, port: int, trigger: bytes) -> None:
        self.target = (host, port)
        self.trigger = trigger
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.stopped.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, watch: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if watch and self.trigger in data:
                self.stop()
            if not data or self.stopped.is_set():
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        for end in (source, sink):
            end.close()

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self.stop()
        self._listener.close()


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[str]:
    with database_url("postgresql", tmp_path) as url:
        yield url


def test_a_postgresql_that_stops_mid_scan_ends_the_scan_with_one_line(
    postgres: str, tmp_path: Path
) -> None:
    Store.open(postgres).close()  # the tables exist: the scan's first write stops the database
    parsed = make_url(postgres)
    proxy = _StoppingProxy(parsed.host or "127.0.0.1", parsed.port or 5432, b"INSERT INTO")
    try:
        through = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        code, _, err = run("scan", "--config", str(_config(tmp_path)), "--state", through)
    finally:
        proxy.close()
    assert proxy.stopped.is_set()
    assert code == 1
    last = err.splitlines()[-1]
    assert last.startswith("netadvisor: state database: "), err
    assert "Traceback" not in err
