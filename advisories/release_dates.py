"""Release dates of component versions, and the uncertain bands they narrow.

A release published before a fix was merged cannot carry it. ``releases/release-dates.yaml``
keeps, per component, the release dates the catalog's uncertain bands need (each with its
source), and per narrowed band the fix, the release line and a date on which the fix was still
not merged (``open_on``). :func:`published_before` then says which releases of the line are
certainly without the fix; the catalog's cases are split accordingly, and a test keeps the two
in agreement.

Pure data and arithmetic: the file is read from the package, never from the network.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources as package_files
from typing import Any, Final

import yaml

from advisories.versions import Version, VersionError, parse_version

__all__ = [
    "Narrowing",
    "Release",
    "ReleaseDataError",
    "ReleaseDates",
    "load_release_dates",
    "parse_release_dates",
]

FILE: Final = "release-dates.yaml"


class ReleaseDataError(ValueError):
    """The release-date data is malformed; the message names the entry and field."""


@dataclass(frozen=True, slots=True)
class Release:
    """One published version."""

    version: Version
    date: dt.date
    source: str

    @property
    def line(self) -> str:
        """``major.minor`` (``1.21``)."""
        return ".".join(str(p) for p in self.version.release[:2])


@dataclass(frozen=True, slots=True)
class Narrowing:
    """An uncertain band cut at a date on which its fix was not yet merged."""

    advisory: str
    case: str
    """The catalog case that holds the releases certainly without the fix."""
    component: str
    fix: str
    line: str
    open_on: dt.date
    evidence: str


@dataclass(frozen=True, slots=True)
class ReleaseDates:
    """Release dates per component, and the narrowings they support."""

    releases: Mapping[str, tuple[Release, ...]]
    narrowings: tuple[Narrowing, ...]

    def published_before(self, component: str, line: str, day: dt.date) -> Release | None:
        """The latest release of ``line`` known to be published before ``day``.

        Every earlier version of the line was published before it too (dates are validated to
        follow version order), so none of them can carry a fix merged on or after ``day``.
        """
        known = [r for r in self.releases.get(component, ()) if r.line == line and r.date < day]
        return max(known, key=lambda r: r.version.key) if known else None


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ReleaseDataError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")


def _text(entry: Mapping[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ReleaseDataError(f"{where}.{field}: missing or not text")
    return value.strip()


def parse_release_dates(document: Any, origin: str = FILE) -> ReleaseDates:
    """Validate the parsed YAML; raise ReleaseDataError naming the place of the first error."""
    if not isinstance(document, Mapping):
        raise ReleaseDataError(f"{origin}: not a mapping")
    table = document.get("releases")
    if not isinstance(table, Mapping):
        raise ReleaseDataError(f"{origin}: releases: missing or not a mapping")
    releases: dict[str, tuple[Release, ...]] = {}
    for component, entries in table.items():
        if not isinstance(entries, list):
            raise ReleaseDataError(f"{origin}: releases.{component}: not a list")
        found = []
        for index, entry in enumerate(entries):
            where = f"{origin}: releases.{component}[{index}]"
            if not isinstance(entry, Mapping):
                raise ReleaseDataError(f"{where}: not a mapping")
            try:
                version = parse_version(_text(entry, "version", where))
            except VersionError as exc:
                raise ReleaseDataError(f"{where}.version: {exc}") from None
            day = _date(entry.get("date"), f"{where}.date")
            found.append(Release(version, day, _text(entry, "source", where)))
        _check_order(str(component), found, origin)
        releases[str(component)] = tuple(found)
    narrowings = []
    for index, entry in enumerate(document.get("narrowings") or ()):
        where = f"{origin}: narrowings[{index}]"
        if not isinstance(entry, Mapping):
            raise ReleaseDataError(f"{where}: not a mapping")
        narrowing = Narrowing(
            advisory=_text(entry, "advisory", where),
            case=_text(entry, "case", where),
            component=_text(entry, "component", where),
            fix=_text(entry, "fix", where),
            line=_text(entry, "line", where),
            open_on=_date(entry.get("open_on"), f"{where}.open_on"),
            evidence=_text(entry, "evidence", where),
        )
        if narrowing.component not in releases:
            raise ReleaseDataError(f"{where}.component: no release dates for {narrowing.component}")
        narrowings.append(narrowing)
    return ReleaseDates(releases, tuple(narrowings))


def _check_order(component: str, found: list[Release], origin: str) -> None:
    """Within a line, later versions are never published earlier; no version twice."""
    by_line: dict[str, list[Release]] = {}
    for release in found:
        by_line.setdefault(release.line, []).append(release)
    for line, items in by_line.items():
        items.sort(key=lambda r: r.version.key)
        for before, after in itertools.pairwise(items):
            if before.version.key == after.version.key:
                raise ReleaseDataError(
                    f"{origin}: releases.{component}: {after.version} is listed twice"
                )
            if after.date < before.date:
                raise ReleaseDataError(
                    f"{origin}: releases.{component}: {after.version} ({after.date}) is dated "
                    f"before {before.version} ({before.date}) in line {line}"
                )


def load_release_dates() -> ReleaseDates:
    """The built-in table (package data ``advisories/releases/release-dates.yaml``)."""
    text = (package_files.files("advisories") / "releases" / FILE).read_text(encoding="utf-8")
    return parse_release_dates(yaml.safe_load(text))
