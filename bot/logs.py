"""Logging for the command line and the service: text for people, JSON lines for collectors.

``--log-format json`` (or ``NETADVISOR_LOG_FORMAT=json``, the container image's default) writes
one JSON object per line to standard error::

    {"time": "2026-11-26T09:00:02.417Z", "level": "warning", "logger": "jobs.inventory.run",
     "message": "prod-eu: timeout after 30 s", "cluster": "prod-eu", "advisory": null}

Every line has ``cluster`` and ``advisory`` (see :mod:`jobs.logctx`), plus whatever ``extra``
fields the call gave. No secret reaches a line: the values of the settings marked secret are
masked wherever they appear, and so are strings shaped like tokens (Slack, GitHub, bearer
tokens, JWTs) and passwords in URLs, in the message and in tracebacks alike.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from jobs.logctx import FIELDS, current

__all__ = [
    "FORMATS",
    "LEVELS",
    "JsonFormatter",
    "TextFormatter",
    "bounded",
    "configure",
    "configured",
    "redact",
]

FORMATS: Final = ("text", "json")
LEVELS: Final = ("debug", "info", "warning", "error")
MASK: Final = "***"

_PATTERNS: Final = (
    # Slack bot/user/app tokens, GitHub tokens.
    re.compile(r"\bxox[abeprs]-[A-Za-z0-9-]{6,}"),
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{6,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    # JWTs (Kubernetes service account tokens).
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
)
_BEARER: Final = re.compile(r"(?i)\b(bearer|token)(\s*[:=]?\s+)([^\s'\",]{6,})")
_URL_PASSWORD: Final = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)([^@\s]+)(@)")
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)

_secrets: set[str] = set()


def bounded(text: str, limit: int = 120) -> str:
    """``text`` on one line of printable ASCII, at most ``limit`` characters (for log lines
    that carry untrusted input)."""
    flat = text.encode("unicode_escape", "replace").decode("ascii")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def redact(text: str) -> str:
    """``text`` with the registered secret values and anything shaped like a token masked."""
    for value in sorted(_secrets, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def _scrub(value: Any) -> Any:
    """``value`` made JSON-ready, every string in it passed through :func:`redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """``cluster``, ``advisory`` (from ``extra`` or :func:`jobs.logctx.about`) and other extras."""
    context = current()
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(record, name, None)
        out[name] = value if value is not None else context.get(name)
    for key, value in vars(record).items():
        if key not in _STANDARD and key not in out and not key.startswith("_"):
            out[key] = value
    return out


def _time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line of JSON, secrets masked."""
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        # Masked value by value: masking the encoded line could cut through JSON's escapes.
        return json.dumps(_scrub(line), ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger [cluster=... advisory=...] message``, secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (plus a traceback), secrets masked."""
        about = " ".join(
            f"{k}={v}" for k, v in _fields(record).items() if k in FIELDS and v is not None
        )
        text = f"{_time(record)} {record.levelname.lower():7} {record.name}: "
        text += (f"[{about}] " if about else "") + record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return redact(text)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure` installs (and replaces when called again)."""


# Libraries that say too much at INFO: the election library logs every attempt, APScheduler
# every run, urllib3 every retry.
_QUIET: Final = {
    "leaderelection": logging.WARNING,
    "apscheduler": logging.WARNING,
    "urllib3": logging.WARNING,
    "kubernetes": logging.WARNING,
}


def configure(
    fmt: str = "text",
    level: str = "info",
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Send the root logger's records to ``stream`` (standard error) as text or JSON lines.

    ``secrets`` are values to mask wherever they appear (tokens, passwords); they add to those
    given before. Calling it again replaces the handler it installed.
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
    _secrets.update(s for s in secrets if s and len(s) >= 4)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _Handler):
            root.removeHandler(handler)
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    if level.lower() != "debug":
        for name, quiet in _QUIET.items():
            logging.getLogger(name).setLevel(quiet)


@contextlib.contextmanager
def configured(
    fmt: str = "text",
    level: str = "info",
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> Iterator[None]:
    """:func:`configure` for the duration of the block; then the root logger and the quieted
    libraries are as they were (the command line runs in-process in tests)."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    quiet = {name: logging.getLogger(name).level for name in _QUIET}
    configure(fmt, level, stream=stream, secrets=secrets)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if isinstance(handler, _Handler) and handler not in before[0]:
                root.removeHandler(handler)
        for handler in before[0]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(before[1])
        for name, value in quiet.items():
            logging.getLogger(name).setLevel(value)
