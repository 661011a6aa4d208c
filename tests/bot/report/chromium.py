"""Headless Chromium driven through the DevTools protocol (a WebSocket), for the report's
browser tests: load a page at a given viewport, collect console errors and exceptions,
evaluate JavaScript, take a screenshot.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it). Without it the tests are
skipped, except under ``CI=true`` where they fail.
See: https://chromedevtools.github.io/devtools-protocol/
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

__all__ = ["Browser", "chromium_path"]

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_path() -> str:
    """The Chromium binary; skips the test (fails it under CI=true) when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "no chromium on PATH: the browser tests need Debian's chromium package"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (.ci/run installs it)")
    pytest.skip(message)


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="netadvisor-chromium-")
        self._process: subprocess.Popen[str] | None = None
        self._socket: ClientConnection | None = None
        self._stack = contextlib.ExitStack()
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        binary = chromium_path()
        self._process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # Its own process group: the helpers Chromium starts (zygote, crashpad) go with it.
            start_new_session=True,
        )
        assert self._process.stderr is not None
        deadline = time.monotonic() + 60
        browser_url = None
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()
            if not line and self._process.poll() is not None:
                break
            found = _LISTENING.search(line)
            if found:
                browser_url = found.group(1)
                break
        if browser_url is None:
            self.__exit__()
            raise AssertionError("chromium did not start its DevTools endpoint")
        # The page target of about:blank, from the HTTP endpoint next to the browser's socket.
        http = browser_url.split("/devtools/")[0].replace("ws://", "http://")
        with urllib.request.urlopen(f"{http}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t.get("type") == "page")
        self._socket = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        )
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            # Helpers of Chromium that outlived it would keep writing into the profile.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            if self._process.stderr is not None:
                self._process.stderr.close()
        for _ in range(50):
            try:
                self._profile.cleanup()
                return
            except OSError:  # a file still being written as the directory is removed
                time.sleep(0.1)
        self._profile.cleanup()

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call one DevTools method and return its result; events that arrive meanwhile are
        kept in :attr:`events`."""
        assert self._socket is not None
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        """The next event of this name (or one already received)."""
        assert self._socket is not None
        for message in self.events:
            if message["method"] == event:
                self.events.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv(timeout=deadline - time.monotonic()))
            if message.get("method") == event:
                return message
            if "method" in message:
                self.events.append(message)
        raise AssertionError(f"no {event} within {timeout} s")

    def open(self, path: Path, width: int, height: int, *, mobile: bool = False) -> None:
        """Load a file at this viewport (CSS pixels) and wait for its load event."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )
        self.send("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-serialisable); raises on an exception."""
        answer = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
            userGesture=True,
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        self.send("Runtime.evaluate", expression="0")  # flush events already sent
        found = []
        for message in self.events:
            params = message.get("params", {})
            if message["method"] == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif message["method"] == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "assert",
            ):
                found.append(json.dumps(params.get("args", []))[:500])
            elif message["method"] == "Log.entryAdded":
                entry = params.get("entry", {})
                if entry.get("level") == "error":
                    found.append(f"{entry.get('source')}: {entry.get('text')}")
        return found

    def screenshot(self, path: Path, *, full_page: bool = False) -> bytes:
        """A PNG of the viewport (or the whole page), written to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = base64.b64decode(self.send("Page.captureScreenshot", **params)["data"])
        path.write_bytes(data)
        return data
