"""The fleet exposure report: reading scan --json, the HTML page, Markdown and the PNG."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.report.html import COLOURS, render_html
from bot.report.markdown import render_check_markdown, render_scan_markdown
from bot.report.model import ReportError, Shade, read_scan
from bot.report.png import render_png
from tests.runner import run

WHEN = datetime(2026, 12, 17, 14, 0, tzinfo=UTC)


def _holding(data: dict[str, Any]) -> set[str]:
    return {
        r["id"] for c in data["clusters"] for r in c["results"] if r["verdict"] != "not_affected"
    }


def test_the_matrix_has_every_advisory_and_puts_the_worst_first(fleet_scan: dict) -> None:
    report = read_scan(fleet_scan, WHEN)
    every = {r["id"] for c in fleet_scan["clusters"] for r in c["results"]}
    assert {c.id for c in report.columns} == every
    assert {c.id for c in report.exposed_columns} == _holding(fleet_scan)
    ranks = [("critical", "high", "medium", "low", None).index(c.severity) for c in report.columns]
    assert ranks == sorted(ranks)
    assert report.columns[0].severity == "critical"


def test_an_unreadable_cluster_is_unread_not_unaffected(fleet_scan: dict) -> None:
    report = read_scan(fleet_scan, WHEN)
    (row,) = report.unreadable
    assert row.name == "prod-us-east"
    assert {row.shade(c.id) for c in report.columns} == {Shade.UNREAD}


def test_a_muted_match_is_muted_and_an_unknown_one_unknown(fleet_scan: dict) -> None:
    rows = {r.name: r for r in read_scan(fleet_scan, WHEN).clusters}
    assert rows["demo-web-ubuntu"].shade("CALICO-VXLAN-PARENT-ROUTES") is Shade.MUTED
    assert rows["demo-web-ubuntu"].shade("KP-NFT-LB-SOURCE-RANGES") is Shade.HIGH
    assert rows["demo-prod-centos"].shade("KP-IPTABLES-RANDOM-FULLY") is Shade.UNKNOWN
    assert rows["demo-eks"].shade("KP-IPVS-CONN-REUSE") is Shade.NOT_AFFECTED


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("catalog_version"), "scan document: missing field 'catalog_version'"),
        (lambda d: d.update(clusters={}), "scan document.clusters: expected list, got dict"),
        (
            lambda d: d["clusters"][2]["results"][1].update(verdict="maybe"),
            "clusters[2] (demo-prod-centos).results[1].verdict: unknown verdict 'maybe'",
        ),
        (
            lambda d: d["clusters"][0]["results"][0].update(severity="urgent"),
            "clusters[0] (demo-edge-rke2).results[0].severity: unknown severity 'urgent'",
        ),
    ],
)
def test_a_document_that_is_not_scan_json_names_the_field(
    fleet_scan: dict, change: Any, message: str
) -> None:
    change(fleet_scan)
    with pytest.raises(ReportError) as caught:
        read_scan(fleet_scan, WHEN)
    assert str(caught.value) == message


def test_the_page_is_self_contained(fleet_scan: dict) -> None:
    page = render_html(read_scan(fleet_scan, WHEN))
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", page)
    assert "default-src 'none'" in page
    # URLs (in errors, recommendations) are text, never something the page fetches.
    assert not re.search(r"""(href|src|action|data)=["']?https?:""", page)


def test_the_header_shows_catalog_scan_time_and_unreadable_clusters(fleet_scan: dict) -> None:
    page = render_html(read_scan(fleet_scan, WHEN))
    assert f'<b id="catalog-version">{fleet_scan["catalog_version"]}</b>' in page
    assert '<b id="scan-time">Thu 17 Dec 14:00 UTC</b>' in page
    assert "<li><b>prod-us-east</b> (unreachable): cannot connect to" in page
    for label in ("env=prod", "env=edge", "team=payments"):
        assert f'<option value="{label}">{label}</option>' in page


def test_every_cell_is_coloured_and_labelled_by_its_verdict(fleet_scan: dict) -> None:
    report = read_scan(fleet_scan, WHEN)
    page = render_html(report)
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    cells = [
        (cluster, advisory, shade)
        for cluster, row in re.findall(r'<tr data-cluster="([^"]+)"(.*?)</tr>', body, re.S)
        for shade, advisory in re.findall(
            r'class="cell s-(\w+)[^"]*"[^>]*data-advisory="([^"]+)"', row
        )
    ]
    assert len(cells) == len(report.clusters) * len(report.columns)
    rows = {r.name: r for r in report.clusters}
    assert all(rows[c].shade(a).value == s for c, a, s in cells)
    for shade, colour in COLOURS.items():
        assert f".s-{shade.value}{{background:{colour};" in page


def test_the_data_island_cannot_break_out_of_its_script(fleet_scan: dict) -> None:
    fleet_scan["clusters"][0]["name"] = "</script><script>alert(1)</script>"
    page = render_html(read_scan(fleet_scan, WHEN))
    assert "<script>alert(1)" not in page
    island = page.split('id="fleet-data">')[1].split("</script>")[0]
    names = [c["name"] for c in json.loads(island)["clusters"]]
    assert names[0] == "</script><script>alert(1)</script>"


def test_markdown_leads_with_the_verdict_and_lists_each_match_once(fleet_scan: dict) -> None:
    text = render_scan_markdown(read_scan(fleet_scan, WHEN))
    lines = text.splitlines()
    assert lines[0].startswith("**3 of 4 clusters affected** by 5 known network issues")
    assert lines[0].endswith("1 cluster not read.")
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| severity")]
    assert [r.split(" | ")[0] for r in rows] == [
        "| CRITICAL",
        "| HIGH",
        "| HIGH",
        "| HIGH",
        "| MEDIUM",
    ]
    assert "- demo-web-ubuntu: **CALICO-VXLAN-PARENT-ROUTES**" in lines
    assert "- prod-us-east: cannot connect to https://10.0.0.1:6443: connection refused" in lines


def test_markdown_escapes_pipes_in_table_cells(fleet_scan: dict) -> None:
    fleet_scan["clusters"][0]["results"][-1]["recommendation"] = "use a | b"
    for result in fleet_scan["clusters"][0]["results"]:
        if result["verdict"] == "affected":
            result["recommendation"] = "use a | b"
    text = render_scan_markdown(read_scan(fleet_scan, WHEN))
    assert "use a \\| b |" in text


def test_check_results_in_markdown() -> None:
    code, out, _ = run(
        "check", "--json", "--kernel", "3.10.0-1160.el7.x86_64", "--proxy-mode", "ipvs",
        "--kube-proxy", "1.23.17",
    )  # fmt: skip
    assert code == 0
    text = render_check_markdown(json.loads(out))
    assert text.splitlines()[0].startswith("**Affected by ")
    assert "KP-IPVS-CONN-REUSE" in text


def _pixels(png: bytes) -> tuple[tuple[int, int], dict[tuple[int, int, int], int]]:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=rgb.width * rgb.height) or []
    return image.size, {colour: count for count, colour in colours}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_the_png_has_one_row_per_cluster_and_the_cells_colours(
    fleet_scan: dict, artifacts: Path
) -> None:
    report = read_scan(fleet_scan, WHEN)
    image = render_png(report)
    (artifacts / "digest-matrix.png").write_bytes(image)  # for people to look at
    size, counts = _pixels(image)
    cell = 48 * 28
    # A cell is mostly its colour (the label takes a few pixels); the legend adds a swatch.
    shown = [(row, col) for row in report.clusters for col in report.exposed_columns]
    expected = {
        shade: sum(1 for row, col in shown if row.shade(col.id) is shade)
        for shade in (Shade.CRITICAL, Shade.HIGH, Shade.MEDIUM, Shade.UNKNOWN, Shade.MUTED)
    }
    assert all(expected.values())  # the scenario shows every shade
    expected[Shade.UNREAD] = len(report.exposed_columns)
    for shade, cells in expected.items():
        found = counts.get(_rgb(COLOURS[shade]), 0)
        assert cells * cell * 0.7 < found < cells * cell + 400, shade
    assert counts.get(_rgb(COLOURS[Shade.LOW]), 0) < 400  # the legend's swatch only
    twin = {**fleet_scan["clusters"][1], "name": "demo-eks-2"}
    more = read_scan({**fleet_scan, "clusters": [*fleet_scan["clusters"], twin]}, WHEN)
    bigger, _ = _pixels(render_png(more))
    assert (bigger[0], bigger[1] - size[1]) == (size[0], 28)
    assert size[0] >= 640


def test_the_png_marks_the_digests_new_cells_and_counts_nothing_that_is_zero(
    fleet_scan: dict,
) -> None:
    from dataclasses import replace

    from bot.report.png import subtitle

    report = read_scan(fleet_scan, WHEN)
    assert report.unreadable and "1 unreadable" in subtitle(report)
    readable = replace(report, clusters=tuple(r for r in report.clusters if r.readable))
    assert "unreadable" not in subtitle(readable) and " 0 " not in subtitle(readable)
    assert "new" not in subtitle(readable)
    holding = [
        (row.name, col.id)
        for row in readable.clusters
        for col in readable.exposed_columns
        if row.shade(col.id) in (Shade.CRITICAL, Shade.HIGH, Shade.MEDIUM, Shade.MUTED)
    ]
    assert len(holding) >= 2
    dark = _rgb("#0f172a")
    plain = _pixels(render_png(readable))
    one = _pixels(render_png(readable, new=holding[:1]))
    two = _pixels(render_png(readable, new=holding[:2]))
    assert plain[1].get(dark, 0) == 0
    # Each new cell gets the same dark corner; the legend's key adds one smaller.
    corner = two[1][dark] - one[1][dark]
    assert corner > 20 and one[1][dark] > corner
    assert one[0][1] == plain[0][1] + 22  # the key's legend row
    assert "2 new since the last digest" in subtitle(readable, 2)
    # An advisory no column shows is not counted or marked.
    assert _pixels(render_png(readable, new=[("nowhere", "NO-SUCH")])) == plain
