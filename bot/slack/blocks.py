"""Block Kit building blocks, and Slack's limits kept by splitting rather than by cutting.

Slack refuses a message with more than 50 blocks, a section whose text exceeds 3,000
characters, or a header longer than 150. :func:`section` splits long text into several sections
at line breaks (code fences are closed and reopened around the cut), and :func:`pages` splits a
long list of blocks into messages; the first page is the message, the others go in its thread.
See: https://api.slack.com/reference/block-kit/blocks
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = [
    "MAX_BLOCKS",
    "MAX_HEADER",
    "MAX_SECTION",
    "Block",
    "SlackMessage",
    "blocks_to_text",
    "context",
    "divider",
    "escape",
    "fit",
    "header",
    "pages",
    "plural",
    "section",
    "split_text",
    "utc",
]

Block = dict[str, Any]

MAX_BLOCKS: Final = 50
MAX_SECTION: Final = 3000
MAX_HEADER: Final = 150
MAX_CONTEXT_ELEMENTS: Final = 10
FENCE: Final = "```"


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One message: the notification text (also the fallback) and its blocks."""

    text: str
    blocks: Sequence[Block] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The ``text`` and ``blocks`` arguments of chat.postMessage / chat.update."""
        return {"text": self.text, "blocks": list(self.blocks)}


def escape(text: str) -> str:
    """Text safe inside mrkdwn: ``&``, ``<`` and ``>`` escaped as Slack requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 cluster``, ``3 clusters`` (``many`` when the plural is not ``one`` + s)."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def fit(text: str, limit: int) -> str:
    """``text`` on one line in at most ``limit`` characters, cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ,;:-·") + "…"


def utc(moment: datetime | None) -> str:
    """``2026-12-03 18:08 UTC`` (``-`` for none)."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"


def header(text: str) -> Block:
    """A header (plain text, cut to 150 characters with an ellipsis)."""
    if len(text) > MAX_HEADER:
        text = text[: MAX_HEADER - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def divider() -> Block:
    """A divider."""
    return {"type": "divider"}


def context(*texts: str) -> list[Block]:
    """Context blocks of mrkdwn elements (10 elements per block at most)."""
    elements = [{"type": "mrkdwn", "text": t[:MAX_SECTION]} for t in texts if t]
    return [
        {"type": "context", "elements": elements[i : i + MAX_CONTEXT_ELEMENTS]}
        for i in range(0, len(elements), MAX_CONTEXT_ELEMENTS)
    ]


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at line breaks where possible.

    A cut inside a code block closes the fence at the end of the piece and reopens it at the
    start of the next one, so every piece renders on its own.
    """
    if len(text) <= limit:
        return [text] if text else []
    reserve = 2 * (len(FENCE) + 1)
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    in_code = False

    def flush() -> None:
        nonlocal current, size
        if not current:
            return
        piece = "\n".join(current)
        if in_code:
            piece += "\n" + FENCE
        pieces.append(piece)
        current = [FENCE] if in_code else []
        size = len(FENCE) + 1 if in_code else 0

    for line in text.split("\n"):
        while len(line) > limit - reserve:
            # A single line longer than a section: cut it hard.
            room = limit - reserve - size - 1
            if room < 1:
                flush()
                continue
            current.append(line[:room])
            size += room + 1
            line = line[room:]
            flush()
        if size + len(line) + 1 > limit - reserve:
            flush()
        current.append(line)
        size += len(line) + 1
        if line.strip().startswith(FENCE) and line.strip().count(FENCE) % 2 == 1:
            in_code = not in_code
    if current:
        in_code = False
        pieces.append("\n".join(current))
    return pieces


def section(text: str) -> list[Block]:
    """Section blocks holding ``text`` (several when it is longer than 3,000 characters)."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in split_text(text)
    ]


def pages(blocks: Iterable[Block], limit: int = MAX_BLOCKS) -> list[list[Block]]:
    """Blocks in messages of at most ``limit`` blocks; a page that continues says so."""
    items = list(blocks)
    if len(items) <= limit:
        return [items]
    out: list[list[Block]] = []
    while items:
        if len(items) <= limit:
            out.append(items)
            break
        cut = limit - 1
        out.append([*items[:cut], *context("_(continued in the thread)_")])
        items = items[cut:]
    return out


def _element_text(element: Any) -> str:
    if isinstance(element, dict):
        return str(element.get("text", ""))
    return ""


def blocks_to_text(blocks: Iterable[Block]) -> str:
    """Block Kit as plain text: headers underlined, sections as they are, context in brackets."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _element_text(block.get("text"))
            lines += [title, "=" * min(len(title), 72)]
        elif kind == "section":
            lines.append(_element_text(block.get("text")))
        elif kind == "context":
            lines.append("  ".join(_element_text(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("")
    text = "\n".join(lines)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
