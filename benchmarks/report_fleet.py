"""The fleet exposure report for a large fleet: time to render and size of the HTML page and
the PNG, from a ``scan --json`` document of N clusters (the demo fleet's four shapes repeated,
with labels). Target: a 200-cluster page under 2 MB that renders in under a second. Run::

    python benchmarks/report_fleet.py [--clusters 200]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import tempfile
import time
from datetime import UTC, datetime

from bot.cli import main
from bot.report.html import render_html
from bot.report.markdown import render_scan_markdown
from bot.report.model import read_scan
from bot.report.png import render_png


def _fleet(clusters: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as state:
        out, err = io.StringIO(), io.StringIO()
        code = main(["scan", "--json", "--dry-run", "--state", f"sqlite:///{state}/s.db"], out, err)
        assert code == 0, err.getvalue()
    demo = json.loads(out.getvalue())
    shapes = demo["clusters"]
    rows = []
    for index in range(clusters):
        row = copy.deepcopy(shapes[index % len(shapes)])
        row["name"] = f"{row['name']}-{index:03d}"
        row["labels"] = {"env": ("prod", "staging", "dev")[index % 3], "team": f"t{index % 7}"}
        rows.append(row)
    return {**demo, "clusters": rows}


def main_() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=200)
    args = parser.parse_args()
    data = _fleet(args.clusters)
    started = time.perf_counter()
    report = read_scan(data, datetime.now(UTC))
    read = time.perf_counter() - started
    for name, render in (("html", render_html), ("markdown", render_scan_markdown),
                         ("png", render_png)):  # fmt: skip
        started = time.perf_counter()
        output = render(report)
        took = time.perf_counter() - started
        size = len(output.encode() if isinstance(output, str) else output)
        print(f"{name:8} {args.clusters} clusters: {took * 1000:7.1f} ms, {size / 1024:8.1f} KiB")
    print(f"read     {args.clusters} clusters: {read * 1000:7.1f} ms")


if __name__ == "__main__":
    main_()
