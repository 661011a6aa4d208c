"""The release-date table: every date parses, versions follow dates within a line, and each
narrowed band in the catalog is where the dates put it."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisories.catalog import builtin_catalog_dir
from advisories.release_dates import (
    Narrowing,
    ReleaseDataError,
    ReleaseDates,
    load_release_dates,
    parse_release_dates,
)

DATES = load_release_dates()


def test_the_built_in_table_validates_and_cites_a_source_for_every_date() -> None:
    assert DATES.releases["kubernetes"]
    for releases in DATES.releases.values():
        for release in releases:
            assert isinstance(release.date, dt.date)
            assert release.source.startswith("https://")


def test_within_a_line_later_versions_are_never_published_earlier() -> None:
    for releases in DATES.releases.values():
        lines: dict[str, list[Any]] = {}
        for release in releases:
            lines.setdefault(release.line, []).append(release)
        for items in lines.values():
            items.sort(key=lambda r: r.version.key)
            assert [r.date for r in items] == sorted(r.date for r in items)


def document(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"releases": {"kubernetes": list(entries)}}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            document({"version": "1.21.0", "date": "2021-13-01", "source": "https://x"}),
            "releases.kubernetes[0].date: '2021-13-01' is not a date",
        ),
        (
            document({"version": "one", "date": "2021-04-08", "source": "https://x"}),
            "releases.kubernetes[0].version",
        ),
        (
            document(
                {"version": "1.21.1", "date": "2021-04-01", "source": "https://x"},
                {"version": "1.21.0", "date": "2021-04-08", "source": "https://x"},
            ),
            "1.21.1 (2021-04-01) is dated before 1.21.0 (2021-04-08) in line 1.21",
        ),
        (
            document(
                {"version": "1.21.0", "date": "2021-04-08", "source": "https://x"},
                {"version": "1.21.0", "date": "2021-04-08", "source": "https://x"},
            ),
            "1.21.0 is listed twice",
        ),
        (document({"version": "1.21.0", "date": "2021-04-08"}), "releases.kubernetes[0].source"),
        (
            {
                **document({"version": "1.21.0", "date": "2021-04-08", "source": "https://x"}),
                "narrowings": [
                    {
                        "advisory": "A",
                        "case": "c",
                        "component": "calico",
                        "fix": "f",
                        "line": "3.2",
                        "open_on": "2022-01-01",
                        "evidence": "e",
                    }
                ],
            },
            "narrowings[0].component: no release dates for calico",
        ),
    ],
)
def test_malformed_data_is_an_error_naming_the_entry_and_field(
    doc: dict[str, Any], message: str
) -> None:
    with pytest.raises(ReleaseDataError, match=r"release-dates\.yaml: ") as raised:
        parse_release_dates(doc)
    assert message in str(raised.value)


def test_a_release_counts_as_published_before_a_day_only_when_dated_before_it() -> None:
    day = dt.date(2022, 1, 11)
    release = DATES.published_before("kubernetes", "1.21", day)
    assert release is not None and str(release.version) == "1.21.7"
    assert DATES.published_before("kubernetes", "1.21", dt.date(2021, 4, 8)) is None
    assert DATES.published_before("kubernetes", "1.19", day) is None


def _case(advisory: str, case: str) -> dict[str, Any]:
    for path in Path(builtin_catalog_dir()).rglob(f"{advisory}.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data["cases"]:
            if item["id"] == case:
                return dict(item)
    raise AssertionError(f"{advisory}: no case {case}")


def _bounds(events: list[dict[str, str]], line: str) -> tuple[str, str]:
    """The (introduced, fixed) pair of the events that starts the line ``line``."""
    for first, second in itertools.pairwise(events):
        if first.get("introduced") == f"{line}.0":
            return first["introduced"], second["fixed"]
    raise AssertionError(f"no range for {line} in {events}")


@pytest.mark.parametrize("narrowing", DATES.narrowings, ids=lambda n: f"{n.advisory}-{n.line}")
def test_each_narrowed_case_ends_at_the_first_release_after_the_fix_could_merge(
    narrowing: Narrowing,
) -> None:
    last = DATES.published_before(narrowing.component, narrowing.line, narrowing.open_on)
    assert last is not None
    major, minor, patch = last.version.release[:3]
    case = _case(narrowing.advisory, narrowing.case)
    assert case["affected"] is True and "uncertain" not in case
    assert "release dates" in case["note"]
    assert _bounds(case["when"]["kube-proxy"], narrowing.line) == (
        f"{narrowing.line}.0",
        f"{major}.{minor}.{patch + 1}",
    )


def test_the_narrowings_in_the_table_are_the_ones_the_catalog_names() -> None:
    assert {(n.advisory, n.case) for n in DATES.narrowings} == {
        ("KP-IPVS-CONN-REUSE", "1-20-to-1-21-before-backport"),
        ("KP-EXTERNALIPS-ETP-LOCAL", "1-28-1-29-before-cherry-picks"),
    }
    assert isinstance(DATES, ReleaseDates)
