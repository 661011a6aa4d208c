"""The HTML report in a real browser (headless Chromium): it loads with no console error, a
cell click shows its detail, sorting and the label filter work, and it reads at laptop and
phone width. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.report.html import render_html
from bot.report.model import read_scan
from tests.bot.report.chromium import Browser

WHEN = datetime(2026, 12, 17, 14, 0, tzinfo=UTC)
VIEWPORTS = {"laptop": (1366, 800, False), "phone": (390, 844, True)}


@pytest.fixture
def page(fleet_scan: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    path.write_text(render_html(read_scan(fleet_scan, WHEN)), encoding="utf-8")
    return path


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_report_loads_without_errors_and_a_click_shows_the_case_that_holds(
    page: Path, artifacts: Path, viewport: str
) -> None:
    width, height, mobile = VIEWPORTS[viewport]
    with Browser() as browser:
        browser.open(page, width, height, mobile=mobile)
        assert browser.evaluate("document.getElementById('detail').hidden") is True
        browser.screenshot(artifacts / f"report-{viewport}.png")
        browser.evaluate(
            'document.querySelector(\'tr[data-cluster="demo-prod-centos"] td.cell'
            '[data-advisory="KP-IPVS-CONN-REUSE"]\').click()'
        )
        detail = browser.evaluate(
            "(() => { const d = document.getElementById('detail'); "
            "const r = d.getBoundingClientRect(); "
            "return {hidden: d.hidden, text: d.innerText, top: r.top, bottom: r.bottom, "
            "left: r.left, right: r.right}; })()"
        )
        browser.screenshot(artifacts / f"report-{viewport}-detail.png")
        errors = browser.errors()
    assert errors == []
    assert detail["hidden"] is False
    text = detail["text"]
    assert "demo-prod-centos is affected (HIGH) on 9 nodes" in text
    assert "prod-cp-00" in text  # the nodes
    assert "proxy-mode" in text and "ipvs" in text  # the facts that decided it
    assert "Use IPVS mode only on kernels >= 5.9" in text  # the recommendation
    # The detail is on screen, whole, at this width.
    assert detail["left"] >= 0 and detail["right"] <= width
    assert detail["top"] >= 0


def test_the_label_filter_and_the_sorts_reorder_the_matrix(page: Path) -> None:
    with Browser() as browser:
        browser.open(page, 1366, 800)
        rows = (
            "Array.from(document.querySelectorAll('#matrix tbody tr:not(.hidden)'))"
            ".map(r => r.dataset.cluster)"
        )
        worst_first = browser.evaluate(rows)
        browser.evaluate(
            "(() => { const s = document.getElementById('label-filter'); s.value = 'env=prod'; "
            "s.dispatchEvent(new Event('change')); })()"
        )
        prod = browser.evaluate(rows)
        shown = browser.evaluate("document.getElementById('shown').textContent")
        browser.evaluate(
            "(() => { const s = document.getElementById('sort-clusters'); s.value = 'name'; "
            "s.dispatchEvent(new Event('change')); "
            "const a = document.getElementById('sort-advisories'); a.value = 'id'; "
            "a.dispatchEvent(new Event('change')); })()"
        )
        by_name = browser.evaluate(rows)
        columns = browser.evaluate(
            "Array.from(document.querySelectorAll('#matrix thead th[data-advisory]'))"
            ".map(t => t.dataset.advisory)"
        )
        first_row = browser.evaluate(
            "Array.from(document.querySelector('#matrix tbody tr:not(.hidden)').cells)"
            ".slice(1).map(c => c.dataset.advisory)"
        )
        errors = browser.errors()
    assert errors == []
    assert worst_first[0] == "demo-edge-rke2"  # the only critical match
    assert worst_first[-1] == "demo-eks"  # nothing holds there
    assert prod == ["demo-prod-centos", "prod-us-east", "demo-eks"]
    assert shown == "3 of 5 clusters shown"
    assert by_name == ["demo-eks", "demo-prod-centos", "prod-us-east"]
    assert columns == sorted(columns)
    assert first_row == columns  # the cells moved with their column


def test_a_not_affected_cell_and_an_unread_cluster_say_so(page: Path) -> None:
    click = (
        '(() => {{ document.querySelector(\'tr[data-cluster="{0}"] '
        'td.cell[data-advisory="KP-IPVS-CONN-REUSE"]\').click(); '
        "return document.getElementById('detail').innerText; }})()"
    )
    with Browser() as browser:
        browser.open(page, 1366, 800)
        fine = browser.evaluate(click.format("demo-eks"))
        unread = browser.evaluate(click.format("prod-us-east"))
        errors = browser.errors()
    assert errors == []
    assert "demo-eks is not affected by KP-IPVS-CONN-REUSE." in fine
    assert "RECOMMENDATION" not in fine.upper()
    assert "prod-us-east could not be read: cannot connect to https://10.0.0.1:6443" in unread
