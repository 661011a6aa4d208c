"""The fleet exposure matrix as a PNG, for people who would rather look than read (Slack).

Rows are clusters, columns the advisories that hold (or may hold, or are muted) somewhere,
worst severity first; the cell colours are those of the HTML report
(:data:`bot.report.html.COLOURS`) and each cell carries its short label too. Drawn with Pillow
and its bundled font, so the image looks the same on every machine.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from bot.report.html import COLOURS
from bot.report.model import FleetReport, Shade, human_time

__all__ = ["render_png", "subtitle"]

_BACKGROUND: Final = "#ffffff"
_INK: Final = "#111827"
_MUTED_INK: Final = "#475569"
_GRID: Final = "#cbd5e1"
_NEW_INK: Final = "#0f172a"
_PAD: Final = 12
_CELL_W: Final = 48
_CELL_H: Final = 28
_MAX_ROWS: Final = 200
_LEGEND: Final = (
    Shade.CRITICAL,
    Shade.HIGH,
    Shade.MEDIUM,
    Shade.LOW,
    Shade.UNKNOWN,
    Shade.MUTED,
    Shade.NOT_AFFECTED,
    Shade.UNREAD,
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def _cell_ink(shade: Shade) -> str:
    return "#ffffff" if shade in (Shade.CRITICAL, Shade.HIGH) else _INK


def subtitle(report: FleetReport, new: int = 0) -> str:
    """The line under the title: catalog, scan time and the counts that are not zero."""
    clusters = len(report.clusters)
    parts = [f"catalog {report.catalog_version}", f"scanned {human_time(report.scanned_at)}"]
    if clusters:
        parts.append(f"{clusters} cluster{'s' if clusters != 1 else ''}")
    if report.unreadable:
        parts.append(f"{len(report.unreadable)} unreadable")
    if new:
        parts.append(f"{new} new since the last digest")
    if report.demo:
        parts.append("DEMO DATA")
    return " · ".join(parts)


def _new_mark(draw: ImageDraw.ImageDraw, x: int, y: int) -> None:
    """A dark corner (top right) with a white edge: readable on every cell colour."""
    right = x + _CELL_W - 2
    draw.polygon([(right - 12, y + 1), (right, y + 1), (right, y + 13)], fill=_NEW_INK,
                 outline="#ffffff")  # fmt: skip


def render_png(
    report: FleetReport,
    title: str = "netadvisor: fleet exposure",
    new: Collection[tuple[str, str]] = (),
) -> bytes:
    """The matrix as PNG bytes (RGB). Clusters beyond the first 200 are summarised in a line.

    ``new``: (cluster name, advisory id) of the matches opened since the last digest, whose
    cells get a dark corner (and the legend a key for it).
    """
    font = _font(13)
    small = _font(11)
    bold = _font(16)
    columns = report.exposed_columns
    rows = report.clusters[:_MAX_ROWS]
    exposed = {c.id for c in columns}
    shown_new = {(name, a) for name, a in new if a in exposed}
    name_w = max([_text_width(font, r.name) for r in rows] + [120]) + 2 * _PAD
    header_h = max([_text_width(small, c.id) for c in columns] + [40]) + 2 * _PAD
    top = 64
    grid_w = max(len(columns), 1) * _CELL_W
    legend_y = top + header_h + max(len(rows), 1) * _CELL_H + 16
    width = max(name_w + grid_w + 2 * _PAD, 640)
    height = legend_y + (3 if shown_new else 2) * 22 + 3 * _PAD
    if len(report.clusters) > _MAX_ROWS:
        height += 20
    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((_PAD, _PAD), title, fill=_INK, font=bold)
    draw.text((_PAD, _PAD + 24), subtitle(report, len(shown_new)), fill=_MUTED_INK, font=small)
    # Column headers, written bottom-up so that long advisory ids fit narrow columns.
    for index, column in enumerate(columns):
        label = Image.new("RGB", (header_h, _CELL_W), _BACKGROUND)
        ImageDraw.Draw(label).text((_PAD // 2, _CELL_W // 2 - 7), column.id, fill=_INK, font=small)
        rotated = label.rotate(90, expand=True)
        image.paste(rotated, (name_w + index * _CELL_W, top))
    y = top + header_h
    if not columns:
        draw.text((name_w, y + 6), "no advisory holds on any cluster", fill=_INK, font=font)
    for row in rows:
        draw.text((_PAD, y + 7), row.name, fill=_INK, font=font)
        for index, column in enumerate(columns):
            shade = row.shade(column.id)
            x = name_w + index * _CELL_W
            box = (x, y, x + _CELL_W - 1, y + _CELL_H - 1)
            draw.rectangle(box, fill=COLOURS[shade], outline=_GRID)
            label_w = _text_width(small, shade.label)
            draw.text(
                (x + (_CELL_W - label_w) // 2, y + 8),
                shade.label,
                fill=_cell_ink(shade),
                font=small,
            )
            if (row.name, column.id) in shown_new:
                _new_mark(draw, x, y)
        y += _CELL_H
    if len(report.clusters) > _MAX_ROWS:
        more = len(report.clusters) - _MAX_ROWS
        draw.text((_PAD, y + 4), f"... and {more} more clusters", fill=_MUTED_INK, font=small)
    x, y = _PAD, legend_y
    for shade in _LEGEND:
        text = {Shade.NOT_AFFECTED: "not affected", Shade.UNREAD: "not read"}.get(
            shade, shade.value
        )
        needed = 18 + _text_width(small, text) + 14
        if x + needed > width - _PAD:
            x, y = _PAD, y + 22
        draw.rectangle((x, y, x + 13, y + 13), fill=COLOURS[shade], outline=_GRID)
        draw.text((x + 18, y), text, fill=_INK, font=small)
        x += needed
    if shown_new:
        text = "new since the last digest"
        needed = 18 + _text_width(small, text) + 14
        if x + needed > width - _PAD:
            x, y = _PAD, y + 22
        draw.rectangle((x, y, x + 13, y + 13), fill=_BACKGROUND, outline=_GRID)
        draw.polygon([(x + 3, y + 1), (x + 13, y + 1), (x + 13, y + 11)], fill=_NEW_INK)
        draw.text((x + 18, y), text, fill=_INK, font=small)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
