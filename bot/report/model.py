"""The fleet exposure matrix, read from the JSON document of ``netadvisor scan --json``.

The matrix has one row per cluster and one column per advisory; each :class:`Cell` holds the
verdict of one advisory on one cluster and what decided it. Clusters that could not be read
are rows without cells (their verdicts are unknown, not "not affected").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final

__all__ = [
    "SEVERITIES",
    "Cell",
    "ClusterRow",
    "Column",
    "FleetReport",
    "ReportError",
    "Shade",
    "read_scan",
]

SEVERITIES: Final = ("critical", "high", "medium", "low")
"""Severities, worst first."""


class ReportError(ValueError):
    """The scan document is not what ``scan --json`` prints; the message names the field."""


class Shade(Enum):
    """How a cell is coloured: affected by severity, unknown, not affected, muted, unread."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNKNOWN = "unknown"
    NOT_AFFECTED = "not_affected"
    MUTED = "muted"
    UNREAD = "unread"
    """The cluster could not be read: nothing is known about it."""

    @property
    def label(self) -> str:
        """A short text for the cell, so that colour is never the only cue."""
        return _LABELS[self]

    @property
    def rank(self) -> int:
        """Higher is worse (sorting)."""
        return _RANKS[self]


_LABELS: Final = {
    Shade.CRITICAL: "CRIT",
    Shade.HIGH: "HIGH",
    Shade.MEDIUM: "MED",
    Shade.LOW: "LOW",
    Shade.UNKNOWN: "?",
    Shade.NOT_AFFECTED: "ok",
    Shade.MUTED: "muted",
    Shade.UNREAD: "n/a",
}
_RANKS: Final = {
    Shade.CRITICAL: 7,
    Shade.HIGH: 6,
    Shade.MEDIUM: 5,
    Shade.LOW: 4,
    Shade.UNKNOWN: 3,
    Shade.UNREAD: 2,
    Shade.MUTED: 1,
    Shade.NOT_AFFECTED: 0,
}


@dataclass(frozen=True, slots=True)
class Cell:
    """One advisory's verdict on one cluster."""

    advisory_id: str
    verdict: str
    """``affected``, ``unknown`` or ``not_affected`` as the engine said."""
    severity: str | None
    """Severity of the case that holds (affected or possibly affected), else None."""
    muted: bool
    """Somebody muted this match: it holds, but nobody is told again until the mute ends."""
    nodes: tuple[str, ...] = ()
    """Affected nodes (for an unknown verdict: the nodes it depends on)."""
    impact: str = ""
    recommendation: str = ""
    depends_text: str = ""
    """What an unknown verdict depends on, for a person."""
    evidence: Mapping[str, str] = field(default_factory=dict)
    """The facts that decided the verdict: fact key -> the value read."""
    change: str | None = None
    """``new``, ``open``, ``updated``... since the last scan (None when not tracked)."""

    @property
    def shade(self) -> Shade:
        """The cell's colour class."""
        if self.verdict == "not_affected":
            return Shade.NOT_AFFECTED
        if self.muted:
            return Shade.MUTED
        if self.verdict == "unknown":
            return Shade.UNKNOWN
        return Shade(self.severity) if self.severity in SEVERITIES else Shade.HIGH


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """One cluster: its identity and, when it was read, one cell per advisory."""

    name: str
    status: str
    """``ok`` when it was read; anything else means its verdicts are unknown."""
    error: str | None
    labels: Mapping[str, str]
    cells: Mapping[str, Cell]
    demo: bool = False

    @property
    def readable(self) -> bool:
        """Whether the cluster was read (its cells mean something)."""
        return self.status == "ok"

    def shade(self, advisory_id: str) -> Shade:
        """The colour class of one cell (``UNREAD`` for a cluster that was not read)."""
        if not self.readable:
            return Shade.UNREAD
        cell = self.cells.get(advisory_id)
        return cell.shade if cell is not None else Shade.UNKNOWN

    @property
    def worst(self) -> Shade:
        """The worst shade of the row, for sorting clusters by exposure."""
        if not self.readable:
            return Shade.UNREAD
        return max(
            (c.shade for c in self.cells.values()), key=lambda s: s.rank, default=Shade.NOT_AFFECTED
        )


@dataclass(frozen=True, slots=True)
class Column:
    """One advisory of the matrix."""

    id: str
    title: str
    component: str
    severity: str | None
    """The worst severity it has on any cluster (None when it holds nowhere)."""
    recommendation: str = ""
    """What to do about it (the advisory's, the same on every cluster)."""


@dataclass(frozen=True, slots=True)
class FleetReport:
    """Everything a report shows."""

    catalog_version: str
    scanned_at: datetime | None
    """When the scan ran (None: not known)."""
    clusters: tuple[ClusterRow, ...]
    columns: tuple[Column, ...]
    """Every advisory of the catalog, worst severity first."""
    demo: bool = False

    @property
    def unreadable(self) -> tuple[ClusterRow, ...]:
        """Clusters that could not be read."""
        return tuple(c for c in self.clusters if not c.readable)

    @property
    def exposed_columns(self) -> tuple[Column, ...]:
        """Advisories that hold, may hold or are muted on at least one cluster."""
        return tuple(
            col
            for col in self.columns
            if any(
                row.shade(col.id) not in (Shade.NOT_AFFECTED, Shade.UNREAD) for row in self.clusters
            )
        )

    def count(self, *shades: Shade) -> int:
        """Cells of readable clusters with one of these shades."""
        return sum(
            1
            for row in self.clusters
            if row.readable
            for cell in row.cells.values()
            if cell.shade in shades
        )


def _severity_rank(severity: str | None) -> int:
    return len(SEVERITIES) - SEVERITIES.index(severity) if severity in SEVERITIES else 0


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ReportError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ReportError(f"{where}.{key}: expected {names}, got {type(value).__name__}")
    return value


def _strings(values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ReportError(f"{where}: expected a list of strings")
    return tuple(values)


def _cell(data: Any, where: str) -> Cell:
    if not isinstance(data, Mapping):
        raise ReportError(f"{where}: expected an object")
    verdict = _field(data, "verdict", str, where)
    if verdict not in ("affected", "unknown", "not_affected"):
        raise ReportError(f"{where}.verdict: unknown verdict {verdict!r}")
    severity = data.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise ReportError(f"{where}.severity: unknown severity {severity!r}")
    nodes = _strings(data.get("nodes") or [], f"{where}.nodes")
    if verdict == "unknown" and not nodes:
        nodes = _strings(data.get("unknown_nodes") or [], f"{where}.unknown_nodes")
    evidence = data.get("evidence") or {}
    if not isinstance(evidence, Mapping):
        raise ReportError(f"{where}.evidence: expected an object")
    # A match is muted when the scan said so (notified: muted) or the document marks it.
    muted = data.get("notified") == "muted" or data.get("muted") is True
    return Cell(
        advisory_id=_field(data, "id", str, where),
        verdict=verdict,
        severity=severity,
        muted=muted,
        nodes=nodes,
        impact=str(data.get("impact") or ""),
        recommendation=str(data.get("recommendation") or ""),
        depends_text=str(data.get("depends_text") or ""),
        evidence={str(k): str(v) for k, v in evidence.items()},
        change=data.get("change") if isinstance(data.get("change"), str) else None,
    )


def read_scan(
    data: Any, scanned_at: datetime | None = None, muted: Sequence[tuple[str, str]] = ()
) -> FleetReport:
    """The report of a ``scan --json`` document.

    ``scanned_at`` is when the scan ran (the document does not say); ``muted`` lists extra
    (cluster, advisory id) pairs under an active mute. Raises :class:`ReportError` naming the
    field that is not as ``scan --json`` prints it.
    """
    if not isinstance(data, Mapping):
        raise ReportError("scan document: expected a JSON object")
    version = _field(data, "catalog_version", str, "scan document")
    clusters = _field(data, "clusters", list, "scan document")
    extra = set(muted)
    rows: list[ClusterRow] = []
    columns: dict[str, Column] = {}
    for index, cluster in enumerate(clusters):
        where = f"clusters[{index}]"
        if not isinstance(cluster, Mapping):
            raise ReportError(f"{where}: expected an object")
        name = _field(cluster, "name", str, where)
        where = f"clusters[{index}] ({name})"
        labels = cluster.get("labels") or {}
        if not isinstance(labels, Mapping):
            raise ReportError(f"{where}.labels: expected an object")
        cells: dict[str, Cell] = {}
        for number, result in enumerate(cluster.get("results") or []):
            cell = _cell(result, f"{where}.results[{number}]")
            if (name, cell.advisory_id) in extra and cell.verdict != "not_affected":
                cell = Cell(**{**_as_dict(cell), "muted": True})
            cells[cell.advisory_id] = cell
            known = columns.get(cell.advisory_id)
            severity = cell.severity if cell.verdict != "not_affected" else None
            if known is None or _severity_rank(severity) > _severity_rank(known.severity):
                columns[cell.advisory_id] = Column(
                    cell.advisory_id,
                    str(result.get("title") or cell.advisory_id),
                    str(result.get("component") or ""),
                    severity if known is None or severity else known.severity,
                    cell.recommendation or (known.recommendation if known else ""),
                )
        rows.append(
            ClusterRow(
                name=name,
                status=_field(cluster, "status", str, where),
                error=cluster.get("error") if isinstance(cluster.get("error"), str) else None,
                labels={str(k): str(v) for k, v in labels.items()},
                cells=cells,
                demo=cluster.get("demo") is True,
            )
        )
    ordered = sorted(columns.values(), key=lambda c: (-_severity_rank(c.severity), c.id))
    return FleetReport(
        catalog_version=version,
        scanned_at=scanned_at,
        clusters=tuple(rows),
        columns=tuple(ordered),
        demo=data.get("demo") is True,
    )


def _as_dict(cell: Cell) -> dict[str, Any]:
    return {name: getattr(cell, name) for name in Cell.__dataclass_fields__}


def human_time(moment: datetime | None) -> str:
    """``Thu 17 Dec 14:00 UTC``: the way a person reads a time (no microseconds)."""
    if moment is None:
        return "time not known"
    zone = moment.tzname() or "UTC"
    return f"{moment:%a} {moment.day} {moment:%b %H:%M} {zone}"
