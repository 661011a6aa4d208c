"""The documented settings and permissions tables (docs/) are generated; this keeps them true.

Regenerate with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/bot/settings/test_table.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.settings import settings_table
from jobs.inventory.resources import permissions_table

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize(
    ("marker", "table", "page"),
    [
        ("settings-table", settings_table, "settings.md"),
        ("permissions-table", permissions_table, "usage.md"),
    ],
)
def test_the_documented_table_is_generated_from_the_code(
    marker: str, table: object, page: str
) -> None:
    README = DOCS / page
    text = README.read_text(encoding="utf-8")
    start, end = f"<!-- {marker}:start -->\n", f"\n<!-- {marker}:end -->"
    before, rest = text.split(start, 1)
    current, after = rest.split(end, 1)
    expected = table()  # type: ignore[operator]
    if os.environ.get("UPDATE_GOLDEN") and current != expected:
        README.write_text(before + start + expected + end + after, encoding="utf-8")
        current = expected
    assert current == expected, "run with UPDATE_GOLDEN=1 to regenerate the README table"
