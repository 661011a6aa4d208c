"""A Slack Web API server on 127.0.0.1 for tests: the real ``slack_sdk`` WebClient talks to it.

It answers ``auth.test``, ``chat.postMessage``, ``chat.update``, ``chat.getPermalink``,
``conversations.history``, ``conversations.replies``, ``conversations.list``,
``conversations.info``, ``views.open`` (a modal opened with a button click's ``trigger_id``,
answered with the view and its new id) and the three steps of ``files_upload_v2``
(``files.getUploadURLExternal``, a POST of the bytes to the upload URL it returns,
``files.completeUploadExternal``, which needs the ``files:write`` scope) the way Slack does,
with the token's scopes in an ``x-oauth-scopes`` header on every answer (form or JSON bodies,
``Authorization: Bearer``, message metadata returned only with ``include_all_metadata``, newest
first with cursors), enforces the Block Kit limits netadvisor must respect (50 blocks per
message, 3,000 characters per section text, 150 per header), and records every request body.

Socket Mode: ``apps.connections.open`` takes the app-level token (``xapp-...``; every other
method the bot token, each refusing the other with ``not_allowed_token_type``) and answers with a
URL of the :class:`~tests.servers.slack_socket.SocketModeServer` given as ``socket_mode``.
Slash commands' ``response_url`` (:meth:`SlackServer.response_url`) points here too, like
``https://hooks.slack.com/commands/...``: what the app posts there is recorded as requests of
the method ``response_url`` (:meth:`SlackServer.responses`).

Failures are queued per method with :meth:`SlackServer.fail`: an HTTP status (429 with
``Retry-After``, 500 or 503, optionally *after* storing the message, as when Slack stored it and
the answer was lost), an ``ok: false`` error (``channel_not_found``, ``invalid_auth``...), or a
dropped connection.

Quick start::

    with SlackServer(channels={"C0NET": "net"}) as slack:
        client = WebClient(token=slack.token, base_url=slack.url)
        client.chat_postMessage(channel="#net", text="hi")
        assert slack.messages("C0NET")[0]["text"] == "hi"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.loopback import LoopbackHTTPServer, Stoppable

if TYPE_CHECKING:
    from tests.servers.slack_socket import SocketModeServer

__all__ = ["Failure", "Recorded", "SlackServer"]

JSON = dict[str, Any]

WORKSPACE_URL = "https://netadvisor-test.slack.com/"
"""The workspace's address (``auth.test``), the start of every permalink."""
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "app_mentions:read",
    "im:history",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "files:write",
)
"""The bot token's scopes (sent as ``x-oauth-scopes``, as Slack does on every answer)."""


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    """The API method, e.g. ``chat.postMessage``."""
    params: JSON
    """Query, form and JSON parameters merged (JSON-encoded form fields are decoded)."""
    authorization: str | None


@dataclass
class Failure:
    """What the next call of a method does instead of succeeding."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    store: bool = False
    """Store the message first (chat.postMessage), then fail: the answer is lost."""
    drop: bool = False
    """Close the connection without answering."""
    passes: bool = False
    """Not a failure: the call is answered as usual (``fail(after=...)`` queues these)."""


@dataclass
class _State:
    channels: dict[str, str]
    messages: dict[str, list[JSON]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    not_member: set[str] = field(default_factory=set)
    """Channel ids the bot is not in (chat.postMessage answers ``not_in_channel``)."""
    uploads: dict[str, JSON] = field(default_factory=dict)
    """files.getUploadURLExternal's files by id: filename, length, the bytes once uploaded."""
    files: list[JSON] = field(default_factory=list)
    """Files shared by files.completeUploadExternal, with their bytes (``content``)."""
    views: list[JSON] = field(default_factory=list)
    """Modals opened by views.open, as Slack answered them (with ``id``), oldest first."""
    clock: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _decode(value: str) -> Any:
    if value[:1] in "[{":
        with suppress(ValueError):
            return json.loads(value)
    return value


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        if urlsplit(self.path).path.startswith("/commands/"):
            self._response_url()
            return
        if urlsplit(self.path).path.startswith("/upload/v1/"):
            self._upload()
            return
        self._handle()

    def _upload(self) -> None:
        # The upload URL files.getUploadURLExternal hands out (files.slack.com/upload/v1/...):
        # the raw bytes of the file as the body, no token; Slack answers "OK - <length>".
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        file_id = urlsplit(self.path).path.rsplit("/", 1)[-1]
        state = self.server.state
        with state.lock:
            state.requests.append(Recorded("upload", {"file_id": file_id, "size": len(body)}, None))
            pending = state.uploads.get(file_id)
            if pending is not None:
                pending["content"] = body
        status, text = (200, f"OK - {len(body)}") if pending is not None else (404, "not found")
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _response_url(self) -> None:
        # A slash command's response_url (hooks.slack.com/commands/...): no token, a JSON body.
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            params: JSON = json.loads(body or b"{}")
        except ValueError:
            self._send(400, {"ok": False, "error": "invalid_payload"}, {})
            return
        params["_path"] = urlsplit(self.path).path
        with self.server.state.lock:
            self.server.state.requests.append(
                Recorded("response_url", params, self.headers.get("Authorization"))
            )
        self._send(200, {"ok": True}, {})

    def _handle(self) -> None:
        url = urlsplit(self.path)
        method = url.path.rsplit("/", 1)[-1]
        params: JSON = {k: _decode(v[0]) for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "")
        if body and kind.startswith("application/json"):
            params.update(json.loads(body))
        elif body:
            parsed = parse_qs(body.decode(), keep_blank_values=True)
            params.update({k: _decode(v[0]) for k, v in parsed.items()})
        state = self.server.state
        authorization = self.headers.get("Authorization")
        with state.lock:
            state.requests.append(Recorded(method, params, authorization))
            queue = state.failures.get(method) or []
            failure = queue.pop(0) if queue else None
        if failure is not None and failure.passes:
            failure = None
        if failure is not None and failure.store and method == "chat.postMessage":
            self._call(method, params, authorization)
        if failure is not None:
            if failure.drop:
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(2)
                return
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            answer: JSON = {"ok": False, "error": failure.error or "internal_error"}
            self._send(failure.status, answer, headers)
            return
        status, answer = self._call(method, params, authorization)
        headers = {}
        if authorization == f"Bearer {self.server.token}":
            with state.lock:
                headers["x-oauth-scopes"] = ",".join(state.scopes)
        self._send(status, answer, headers)

    def _call(self, method: str, params: JSON, authorization: str | None) -> tuple[int, JSON]:
        server = self.server
        # apps.connections.open takes the app-level token, everything else the bot token.
        app_level = method == "apps.connections.open"
        wanted = server.app_token if app_level else server.token
        other = server.token if app_level else server.app_token
        if other is not None and authorization == f"Bearer {other}":
            return 200, {"ok": False, "error": "not_allowed_token_type"}
        if wanted is None or authorization != f"Bearer {wanted}":
            return 200, {"ok": False, "error": "invalid_auth" if authorization else "not_authed"}
        handler = getattr(server, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}
        with server.state.lock:
            answer: JSON = handler(params)
        return 200, answer

    def _send(self, status: int, answer: JSON, headers: Mapping[str, str]) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _block_problem(blocks: Any) -> str | None:
    if not isinstance(blocks, list):
        return "blocks must be a list"
    if len(blocks) > MAX_BLOCKS:
        return f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "section":
            text = (block.get("text") or {}).get("text", "")
            if len(text) > MAX_SECTION_TEXT:
                return f"must be less than {MAX_SECTION_TEXT + 1} characters [/blocks/{index}/text]"
            if not text and not block.get("fields"):
                return f"section needs text or fields [/blocks/{index}]"
        elif kind == "header":
            text = (block.get("text") or {}).get("text", "")
            if block.get("text", {}).get("type") != "plain_text":
                return f"header text must be plain_text [/blocks/{index}/text]"
            if len(text) > MAX_HEADER_TEXT:
                return f"must be less than {MAX_HEADER_TEXT + 1} characters [/blocks/{index}/text]"
        elif kind == "context":
            if len(block.get("elements") or []) > MAX_CONTEXT_ELEMENTS:
                return f"no more than {MAX_CONTEXT_ELEMENTS} items allowed [/blocks/{index}]"
        elif kind not in ("divider", "rich_text", "actions", "image"):
            return f"unknown block type {kind!r} [/blocks/{index}]"
    return None


class _Server(LoopbackHTTPServer):
    allow_reuse_address = True

    def __init__(
        self,
        state: _State,
        token: str,
        app_token: str | None = None,
        socket_mode: SocketModeServer | None = None,
    ) -> None:
        super().__init__(_Handler)
        self.state = state
        self.token = token
        self.app_token = app_token
        self.socket_mode = socket_mode

    # Every api_* method runs with the state's lock held.

    def _channel(self, value: Any) -> str | None:
        name = str(value or "").lstrip("#")
        if name in self.state.channels:
            return name
        for channel_id, channel_name in self.state.channels.items():
            if channel_name == name:
                return channel_id
        return None

    def _ts(self) -> str:
        # Slack's ts is the time of posting, unique per channel.
        self.state.clock = max(time.time(), self.state.clock + 0.000001)
        return f"{self.state.clock:.6f}"

    def api_auth_test(self, params: JSON) -> JSON:
        return {
            "ok": True,
            "url": WORKSPACE_URL,
            "team": "Test",
            "user": "netadvisor",
            "team_id": "T0TEST",
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
        }

    def api_apps_connections_open(self, params: JSON) -> JSON:
        if self.socket_mode is None:
            return {"ok": False, "error": "invalid_app"}
        return {"ok": True, "url": self.socket_mode.issue_url()}

    def api_chat_postMessage(self, params: JSON) -> JSON:
        channel = self._channel(params.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.state.not_member:
            return {"ok": False, "error": "not_in_channel"}
        blocks = params.get("blocks")
        if blocks is not None:
            problem = _block_problem(blocks)
            if problem:
                return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        if not params.get("text") and not blocks:
            return {"ok": False, "error": "no_text"}
        message: JSON = {
            "type": "message",
            "user": "U0BOT",
            "bot_id": "B0BOT",
            "text": params.get("text", ""),
            "ts": self._ts(),
        }
        if blocks is not None:
            message["blocks"] = blocks
        metadata = params.get("metadata")
        if metadata:
            message["metadata"] = {
                "event_type": metadata.get("event_type"),
                "event_payload": metadata.get("event_payload", {}),
            }
        thread = params.get("thread_ts")
        if thread:
            parent = self._find(channel, str(thread))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            message["thread_ts"] = str(thread)
            parent.setdefault("reply_count", 0)
            parent["reply_count"] += 1
            parent["thread_ts"] = parent["ts"]
        self.state.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _find(self, channel: str, ts: str) -> JSON | None:
        for message in self.state.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        return None

    def api_chat_update(self, params: JSON) -> JSON:
        channel = str(params.get("channel") or "")
        if channel not in self.state.channels:
            # chat.update takes a channel ID only.
            return {"ok": False, "error": "channel_not_found"}
        message = self._find(channel, str(params.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        blocks = params.get("blocks")
        if blocks is not None:
            problem = _block_problem(blocks)
            if problem:
                return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
            message["blocks"] = blocks
        if "text" in params:
            message["text"] = params["text"]
        message["edited"] = {"user": "U0BOT", "ts": self._ts()}
        return {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"]}

    def api_chat_getPermalink(self, params: JSON) -> JSON:
        # See: https://api.slack.com/methods/chat.getPermalink (no scope needed; a channel ID)
        channel = str(params.get("channel") or "")
        if channel not in self.state.channels:
            return {"ok": False, "error": "channel_not_found"}
        ts = str(params.get("message_ts") or "")
        message = self._find(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _visible(self, message: JSON, params: JSON) -> JSON:
        shown = dict(message)
        if not _truthy(params.get("include_all_metadata")):
            shown.pop("metadata", None)
        return shown

    def _page(self, items: list[JSON], params: JSON, key: str) -> JSON:
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        page = items[start : start + limit]
        more = start + limit < len(items)
        answer: JSON = {"ok": True, key: page, "has_more": more}
        answer["response_metadata"] = {"next_cursor": str(start + limit) if more else ""}
        return answer

    def api_conversations_history(self, params: JSON) -> JSON:
        channel = str(params.get("channel") or "")
        if channel not in self.state.channels:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 1e12)
        top = [
            self._visible(m, params)
            for m in self.state.messages.get(channel, [])
            if "thread_ts" not in m or m["thread_ts"] == m["ts"]
            if oldest < float(m["ts"]) < latest
        ]
        return self._page(list(reversed(top)), params, "messages")

    def api_conversations_replies(self, params: JSON) -> JSON:
        channel = str(params.get("channel") or "")
        if channel not in self.state.channels:
            return {"ok": False, "error": "channel_not_found"}
        ts = str(params.get("ts") or "")
        parent = self._find(channel, ts)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        oldest = float(params.get("oldest") or 0)
        thread = [parent] + [
            m
            for m in self.state.messages.get(channel, [])
            if m.get("thread_ts") == ts and m["ts"] != ts and float(m["ts"]) > oldest
        ]
        return self._page([self._visible(m, params) for m in thread], params, "messages")

    def api_views_open(self, params: JSON) -> JSON:
        # A trigger_id comes from an interaction and expires after 3 seconds; a view is a
        # modal of at most 100 blocks, a title of 24 characters and 3,000 of private_metadata.
        trigger = params.get("trigger_id")
        view = params.get("view")
        if not trigger:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        title = (view.get("title") or {}).get("text", "")
        blocks = view.get("blocks") or []
        if not title or len(title) > 24 or not blocks or len(blocks) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        if len(str(view.get("private_metadata") or "")) > 3000:
            return {"ok": False, "error": "invalid_arguments"}
        opened: JSON = {
            **view,
            "id": f"V0{len(self.state.views) + 1:08d}",
            "team_id": "T0TEST",
            "app_id": "A0APP",
            "bot_id": "B0BOT",
            "state": {"values": {}},
            "hash": f"{int(self.state.clock)}.abc{len(self.state.views)}",
            "trigger_id": trigger,
        }
        self.state.views.append(opened)
        return {"ok": True, "view": opened}

    def api_conversations_list(self, params: JSON) -> JSON:
        channels = [
            {
                "id": channel_id,
                "name": name,
                "is_channel": True,
                "is_member": channel_id not in self.state.not_member,
            }
            for channel_id, name in self.state.channels.items()
        ]
        return self._page(channels, params, "channels")

    def api_conversations_info(self, params: JSON) -> JSON:
        channel = str(params.get("channel") or "")
        if channel not in self.state.channels:
            # conversations.info takes a channel ID only.
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": self.state.channels[channel],
                "is_channel": True,
                "is_private": False,
                "is_archived": False,
                "is_member": channel not in self.state.not_member,
                "created": 1700000000,
            },
        }

    def _missing_scope(self, scope: str) -> JSON | None:
        if scope in self.state.scopes:
            return None
        provided = ",".join(self.state.scopes)
        return {"ok": False, "error": "missing_scope", "needed": scope, "provided": provided}

    def api_files_getUploadURLExternal(self, params: JSON) -> JSON:
        missing = self._missing_scope("files:write")
        if missing is not None:
            return missing
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F0{len(self.state.uploads) + 1:08d}"
        self.state.uploads[file_id] = {"filename": filename, "length": length, "content": None}
        host, port = self.server_address[:2]
        return {
            "ok": True,
            "upload_url": f"http://{host!s}:{port}/upload/v1/{file_id}",
            "file_id": file_id,
        }

    def api_files_completeUploadExternal(self, params: JSON) -> JSON:
        missing = self._missing_scope("files:write")
        if missing is not None:
            return missing
        items = params.get("files")
        if not isinstance(items, list) or not items:
            return {"ok": False, "error": "invalid_arguments"}
        channel = params.get("channel_id")
        if channel is not None:
            if channel not in self.state.channels:
                return {"ok": False, "error": "channel_not_found"}
            if channel in self.state.not_member:
                return {"ok": False, "error": "not_in_channel"}
        thread = params.get("thread_ts")
        if thread and (channel is None or self._find(channel, str(thread)) is None):
            return {"ok": False, "error": "invalid_thread_ts"}
        shared = []
        for item in items:
            pending = self.state.uploads.get(str(item.get("id")))
            if pending is None or pending["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            if len(pending["content"]) != pending["length"]:
                return {"ok": False, "error": "file_upload_size_mismatch"}
            name = pending["filename"]
            info: JSON = {
                "id": item["id"],
                "created": int(time.time()),
                "name": name,
                "title": item.get("title") or name,
                "mimetype": "image/png" if name.endswith(".png") else "application/octet-stream",
                "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
                "user": "U0BOT",
                "size": pending["length"],
                "shares": {},
            }
            shared.append(info)
            self.state.files.append(
                {**info, "content": pending["content"], "channel": channel,
                 "thread_ts": thread, "initial_comment": params.get("initial_comment")}
            )  # fmt: skip
        if channel is not None:
            message: JSON = {
                "type": "message",
                "user": "U0BOT",
                "text": str(params.get("initial_comment") or ""),
                "files": shared,
                "ts": self._ts(),
            }
            if thread:
                message["thread_ts"] = str(thread)
            self.state.messages.setdefault(channel, []).append(message)
        return {"ok": True, "files": shared}


def is_baseline(message: JSON) -> bool:
    """Whether ``message`` is netadvisor's baseline of a channel (by its fallback text)."""
    return str(message.get("text", "")).startswith("netadvisor baseline")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class SlackServer(Stoppable):
    """The server; use as a context manager (``start`` / ``stop`` also work)."""

    def __init__(
        self,
        channels: Mapping[str, str] | None = None,
        token: str = "xoxb-test-token",
        *,
        app_token: str = "xapp-1-A0APP-1-test-app-level-token",
        socket_mode: SocketModeServer | None = None,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> None:
        self.token = token
        self.app_token = app_token
        """The app-level token ``apps.connections.open`` accepts."""
        self.socket_mode = socket_mode
        self._state = _State(dict(channels or {"C0NET": "net"}), scopes=tuple(scopes))
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        """The Web API base URL for ``WebClient(base_url=...)`` (ends with ``/api/``)."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def start(self) -> SlackServer:
        """Listen on a free port of 127.0.0.1."""
        self._server = _Server(self._state, self.token, self.app_token, self.socket_mode)
        self._server.start("slack")
        return self

    def stop(self) -> None:
        """Stop, close the socket and the connections still open."""
        if self._server is not None:
            self._server.stop(timeout=5)
            self._server = None

    def __enter__(self) -> SlackServer:
        return self.start()

    # -- scripting and inspection -------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        store: bool = False,
        drop: bool = False,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail this way (after ``after`` calls
        answered as usual)."""
        with self._state.lock:
            queue = self._state.failures.setdefault(method, [])
            queue.extend(Failure(passes=True) for _ in range(after))
            queue.extend(Failure(status, error, retry_after, store, drop) for _ in range(times))

    def response_url(self, name: str = "1/abc") -> str:
        """A slash command's ``response_url`` on this server."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/commands/T0TEST/{name}"

    def responses(self) -> list[JSON]:
        """What the app posted to response URLs, oldest first."""
        return [r.params for r in self.requests("response_url")]

    def add_user_message(self, channel: str, text: str, user: str = "U0OPS") -> str:
        """A message a person posted (say, the mention the app answers in its thread); its ts."""
        with self._state.lock:
            self._state.clock = max(time.time(), self._state.clock + 0.000001)
            ts = f"{self._state.clock:.6f}"
            message = {"type": "message", "user": user, "text": text, "ts": ts}
            self._state.messages.setdefault(channel, []).append(message)
        return ts

    def add_channel(self, channel_id: str, name: str) -> None:
        """A channel the bot is a member of."""
        with self._state.lock:
            self._state.channels[channel_id] = name

    def leave(self, channel_id: str) -> None:
        """The bot is no longer a member of this channel."""
        with self._state.lock:
            self._state.not_member.add(channel_id)

    def files(self) -> list[JSON]:
        """Files shared with files.completeUploadExternal, oldest first (``content``: bytes)."""
        with self._state.lock:
            return [dict(f) for f in self._state.files]

    def views(self) -> list[JSON]:
        """Modals opened with views.open (with the ``id`` Slack gave them), oldest first."""
        with self._state.lock:
            return [dict(v) for v in self._state.views]

    def messages(self, channel: str) -> list[JSON]:
        """Every message of a channel (thread replies included), oldest first."""
        with self._state.lock:
            return [dict(m) for m in self._state.messages.get(channel, [])]

    def top_level(self, channel: str, *, baseline: bool = False) -> list[JSON]:
        """Messages that are not thread replies, oldest first; the channel's baseline (the
        first message netadvisor posts in a channel) only with ``baseline``."""
        return [
            m
            for m in self.messages(channel)
            if m.get("thread_ts") in (None, m["ts"]) and (baseline or not is_baseline(m))
        ]

    def baselines(self, channel: str) -> list[JSON]:
        """The baselines posted in ``channel`` (one at most, if all is well)."""
        return [m for m in self.messages(channel) if is_baseline(m)]

    def replies(self, channel: str, ts: str) -> list[JSON]:
        """The replies in the thread of ``ts``, oldest first."""
        return [m for m in self.messages(channel) if m.get("thread_ts") == ts and m["ts"] != ts]

    def requests(self, method: str | None = None) -> list[Recorded]:
        """Recorded requests (of one method when given), oldest first."""
        with self._state.lock:
            return [r for r in self._state.requests if method is None or r.method == method]

    def all_messages(self) -> Iterator[tuple[str, JSON]]:
        """(channel, message) for every stored message."""
        with self._state.lock:
            items = [(c, dict(m)) for c, ms in self._state.messages.items() for m in ms]
        yield from items

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Recorded]:
        """Wait until ``count`` requests of ``method`` arrived; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(
            f"{count} {method} request(s) expected, got {len(self.requests(method))}"
        )
