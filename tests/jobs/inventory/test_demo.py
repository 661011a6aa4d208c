"""The bundled demo fleet is current, realistic, and labelled as demo data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.inventory.dumps import demo_bundles
from tests.jobs.inventory.demo import DEMO, DEMO_DIR, demo_bundle, render


@pytest.mark.parametrize("name", sorted(DEMO))
def test_demo_bundle_is_what_the_live_adapter_reads_from_its_scenario(
    name: str, tmp_path: Path
) -> None:
    expected = render(demo_bundle(name, tmp_path))
    path = DEMO_DIR / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(expected, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == expected, "run with UPDATE_GOLDEN=1 to regenerate"


def test_demo_bundles_ship_as_package_data() -> None:
    assert [p.stem for p in demo_bundles()] == sorted(DEMO)
