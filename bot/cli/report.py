"""``netadvisor report``: the fleet exposure matrix (clusters x advisories) as one
self-contained HTML page, Markdown for a ticket or a PR comment, or a PNG.

It scans the fleet as a dry run (nothing stored, nothing posted) or reads a saved
``scan --json`` document with ``--from``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from bot.cli.flags import PROG, add_fleet_flags, add_state_flag, fleet_flags
from bot.report.html import render_html
from bot.report.markdown import render_scan_markdown
from bot.report.model import ReportError, read_scan
from bot.report.png import render_png
from bot.wiring import Wiring

__all__ = ["register", "run"]

_FORMATS: Final = ("html", "markdown", "png")


def register(commands: Any) -> None:
    """Add ``report``."""
    report = commands.add_parser(
        "report",
        help="the fleet exposure matrix as HTML, Markdown or PNG",
        description="Scan the fleet (a dry run: nothing is stored or posted) or read a saved "
        "`scan --json` document, and render the clusters x advisories matrix.",
    )
    report.set_defaults(run=run)
    report.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="where to write it ('-' or nothing: standard output; a PNG needs a file)",
    )
    report.add_argument(
        "--output",
        "-o",
        choices=_FORMATS,
        default="html",
        help="html (default): one self-contained page; markdown: for a ticket "
        "or a PR comment; png: the matrix as an image",
    )
    report.add_argument(
        "--from",
        dest="source",
        metavar="JSON",
        help="a saved `netadvisor scan --json` document ('-': standard input) instead of scanning",
    )
    add_fleet_flags(report)
    add_state_flag(report)


def _scan_document(args: argparse.Namespace, w: Wiring, err: TextIO) -> tuple[Any, datetime] | int:
    """The ``scan --json`` document and when the scan ran (or the file was written)."""
    if args.source:
        try:
            if args.source == "-":
                return json.load(sys.stdin), w.now().replace(microsecond=0)
            path = Path(args.source)
            data = json.loads(path.read_text(encoding="utf-8"))
            return data, datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
        except OSError as exc:
            print(f"{PROG}: argument --from: {args.source}: {exc.strerror}", file=err)
        except ValueError as exc:
            print(f"{PROG}: argument --from: {args.source}: not JSON ({exc})", file=err)
        return 2
    # The scan use case as a dry run: a report stores nothing and posts nothing.
    document = w.scan_document(fleet_flags(args), err)
    if isinstance(document, int):
        return document
    return document, w.now().replace(microsecond=0)


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor report``."""
    if args.output == "png" and args.file == "-":
        print(
            f"{PROG}: argument FILE: a PNG needs a file name (report -o png matrix.png)", file=err
        )
        return 2
    scanned = _scan_document(args, w, err)
    if isinstance(scanned, int):
        return scanned
    data, when = scanned
    try:
        report = read_scan(data, when)
    except ReportError as exc:
        where = f"--from {args.source}" if args.source else "scan --json"
        print(f"{PROG}: {where}: {exc}", file=err)
        return 1
    if args.output == "png":
        content: bytes | str = render_png(report)
    elif args.output == "markdown":
        content = render_scan_markdown(report)
    else:
        content = render_html(report)
    if args.file == "-":
        out.write(content if isinstance(content, str) else content.decode())
        return 0
    path = Path(args.file)
    try:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    except OSError as exc:
        print(f"{PROG}: argument FILE: {path}: {exc.strerror}", file=err)
        return 1
    exposed = len(report.exposed_columns)
    print(
        f"{path}: {len(report.clusters)} clusters x {exposed} advisories that hold somewhere "
        f"({len(report.columns)} in the catalog), {len(report.unreadable)} unreadable",
        file=err,
    )
    return 0
