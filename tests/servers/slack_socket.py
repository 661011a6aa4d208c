"""Slack's Socket Mode WebSocket endpoint on 127.0.0.1, for tests (``websockets``' sync server).

What it does, as Slack does it (https://api.slack.com/apis/connections/socket-implement):

- :meth:`SocketModeServer.issue_url` hands out a single-use ``ws://127.0.0.1:<port>/link/?ticket=
  ...`` URL; the Web API server of :mod:`tests.servers.slack` answers ``apps.connections.open``
  with it. A handshake with an unknown or used ticket is refused (401), and while
  :meth:`SocketModeServer.refuse` is on every handshake is refused (503).
- On a new connection it sends the ``hello`` message (``num_connections``, ``debug_info``,
  ``connection_info.app_id``) first.
- :meth:`SocketModeServer.send_envelope` sends an envelope (``envelope_id``, ``type``,
  ``payload``, ``accepts_response_payload``, and ``retry_attempt`` / ``retry_reason`` for
  ``events_api``) and :meth:`SocketModeServer.wait_ack` waits for the app's acknowledgement
  (``{"envelope_id": ..., "payload": ...}``), timing it from the moment the envelope was sent.
- :meth:`SocketModeServer.disconnect` sends ``{"type": "disconnect", "reason": ...}`` (the app
  should open a new connection); :meth:`SocketModeServer.drop` closes the connection.

Quick start::

    with SocketModeServer() as socket_mode, SlackServer(socket_mode=socket_mode) as slack:
        ...  # start the app with SLACK_APP_TOKEN=slack.app_token
        socket_mode.wait_connected()
        envelope = socket_mode.send_envelope("slash_commands", payload)
        ack, seconds = socket_mode.wait_ack(envelope)
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.servers.loopback import Stoppable

__all__ = ["Ack", "SocketModeServer"]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Ack:
    """A message the app sent back (an acknowledgement names an ``envelope_id``)."""

    message: JSON
    at: float
    """``time.monotonic()`` when it arrived."""


@dataclass
class _State:
    issued: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    refusing: bool = False
    connections: list[ServerConnection] = field(default_factory=list)
    opened: int = 0
    """Connections that completed the handshake (ever)."""
    sent: dict[str, float] = field(default_factory=dict)
    """envelope_id -> when it was sent."""
    received: list[Ack] = field(default_factory=list)
    handshakes: list[str] = field(default_factory=list)
    """The request path of every handshake attempt."""
    lock: threading.Condition = field(default_factory=threading.Condition)


class SocketModeServer(Stoppable):
    """The Socket Mode endpoint; use as a context manager (``start`` / ``stop`` also work)."""

    def __init__(self, app_id: str = "A0APP") -> None:
        self.app_id = app_id
        self._state = _State()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SocketModeServer:
        """Listen on a free port of 127.0.0.1."""
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            # Slack pings the app only rarely; the app's own pings are answered automatically.
            ping_interval=None,
            close_timeout=2,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection (1001 going away) and the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SocketModeServer:
        return self.start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._server is not None, "server not started"
        return int(self._server.socket.getsockname()[1])

    # -- apps.connections.open ----------------------------------------------------------------

    def issue_url(self) -> str:
        """A new single-use WebSocket URL, as ``apps.connections.open`` answers it."""
        ticket = uuid.uuid4().hex
        with self._state.lock:
            self._state.issued.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    def refuse(self, refusing: bool = True) -> None:
        """Refuse every handshake with 503 (Slack's endpoint unavailable) until called with
        False."""
        with self._state.lock:
            self._state.refusing = refusing

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._state.lock:
            self._state.handshakes.append(url.path)
            if self._state.refusing:
                return connection.respond(503, "Socket Mode is unavailable\n")
            if url.path != "/link/" or ticket not in self._state.issued:
                return connection.respond(401, "unknown ticket\n")
            if ticket in self._state.used:
                return connection.respond(401, "ticket already used\n")
            self._state.used.add(ticket)
        return None

    # -- connections --------------------------------------------------------------------------

    def _handle(self, connection: ServerConnection) -> None:
        with self._state.lock:
            self._state.connections.append(connection)
            self._state.opened += 1
            count = len(self._state.connections)
            self._state.lock.notify_all()
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-test-1",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            connection.send(json.dumps(hello))
            for raw in connection:
                message = json.loads(raw)
                with self._state.lock:
                    self._state.received.append(Ack(message, time.monotonic()))
                    self._state.lock.notify_all()
        except (ConnectionClosed, ValueError):
            pass
        finally:
            with self._state.lock:
                if connection in self._state.connections:
                    self._state.connections.remove(connection)
                self._state.lock.notify_all()

    def _current(self) -> ServerConnection:
        with self._state.lock:
            if not self._state.connections:
                raise AssertionError("no app is connected")
            return self._state.connections[-1]

    @property
    def connected(self) -> int:
        """Open connections now."""
        with self._state.lock:
            return len(self._state.connections)

    @property
    def opened(self) -> int:
        """Connections opened so far (reconnections included)."""
        with self._state.lock:
            return self._state.opened

    def wait_connected(self, opened: int = 1, timeout: float = 15.0) -> None:
        """Wait until ``opened`` connections have been opened and one is open."""

        def ready() -> bool:
            return self._state.opened >= opened and bool(self._state.connections)

        with self._state.lock:
            if not self._state.lock.wait_for(ready, timeout):
                raise AssertionError(
                    f"expected {opened} connection(s), got {self._state.opened}; "
                    f"handshakes: {self._state.handshakes}"
                )

    def wait_open(self, count: int, timeout: float = 10.0) -> None:
        """Wait until exactly ``count`` connections are open (after a refresh the app closes
        the old one once the new one is up)."""
        with self._state.lock:
            if not self._state.lock.wait_for(
                lambda: len(self._state.connections) == count, timeout
            ):
                raise AssertionError(
                    f"expected {count} open connection(s), got {len(self._state.connections)}"
                )

    def wait_disconnected(self, timeout: float = 10.0) -> None:
        """Wait until no connection is open."""
        self.wait_open(0, timeout)

    # -- messages -----------------------------------------------------------------------------

    def send(self, message: JSON) -> None:
        """Send one message on the newest connection."""
        self._current().send(json.dumps(message))

    def send_envelope(
        self, kind: str, payload: JSON, *, accepts_response_payload: bool | None = None
    ) -> str:
        """Send an envelope of ``kind`` (``slash_commands``, ``events_api``, ``interactive``);
        returns its ``envelope_id``."""
        envelope_id = str(uuid.uuid4())
        envelope: JSON = {"envelope_id": envelope_id, "payload": payload, "type": kind}
        if accepts_response_payload is None:
            # Slack: true for slash commands and interactivity that may answer in the ack.
            accepts_response_payload = kind != "events_api"
        envelope["accepts_response_payload"] = accepts_response_payload
        if kind == "events_api":
            envelope["retry_attempt"] = 0
            envelope["retry_reason"] = ""
        with self._state.lock:
            self._state.sent[envelope_id] = time.monotonic()
        self.send(envelope)
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> tuple[JSON, float]:
        """The app's acknowledgement of an envelope and the seconds it took."""

        def found() -> Ack | None:
            for ack in self._state.received:
                if ack.message.get("envelope_id") == envelope_id:
                    return ack
            return None

        with self._state.lock:
            ack = self._state.lock.wait_for(found, timeout)
            if ack is None:
                raise AssertionError(f"no acknowledgement of {envelope_id} in {timeout} s")
            return ack.message, ack.at - self._state.sent[envelope_id]

    def received(self) -> list[JSON]:
        """Every message the app sent, oldest first."""
        with self._state.lock:
            return [a.message for a in self._state.received]

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does before it recycles a connection."""
        self.send({"type": "disconnect", "reason": reason,
                   "debug_info": {"host": "applink-test-1"}})  # fmt: skip

    def drop(self) -> None:
        """Close the newest connection (1001 going away) without a ``disconnect`` message."""
        self._current().close(1001, "going away")
