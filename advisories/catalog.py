"""Load and validate the advisory catalog (YAML files, one advisory each).

Every problem is reported as a :class:`CatalogIssue` naming the file, the advisory id and the
field; :func:`load_catalog` raises :class:`CatalogError` carrying all of them at once, so that an
operator fixing a local catalog sees every mistake in one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from advisories.facts import COMPONENTS, FACTS, FEATURES, FactKind
from advisories.models import (
    Advisory,
    AdvisoryId,
    Case,
    Condition,
    DecidedBy,
    Reference,
    Severity,
    Text,
    Workaround,
)
from advisories.symptoms import SymptomIndex
from advisories.versions import (
    MAX_KEY,
    MIN_KEY,
    VersionError,
    VersionKey,
    VersionSet,
    parse_kernel,
    parse_version,
)

__all__ = ["Catalog", "CatalogError", "CatalogIssue", "builtin_catalog_dir", "load_catalog"]

# libyaml's loader when PyYAML has it (10x faster; the catalog is read by every command).
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NORMALISED: Final = re.compile(r"^\d+\.\d+\.\d+(-(alpha|beta|rc)\.?\d+)?$")
_ID_RE: Final = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
_CASE_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_REFERENCE_TYPES: Final = frozenset(
    {"ADVISORY", "ARTICLE", "DETECTION", "REPORT", "FIX", "INTRODUCED", "GIT", "PACKAGE",
     "EVIDENCE", "WEB"}
)  # fmt: skip
_TOP_FIELDS: Final = frozenset(
    {"id", "title", "title_zh", "modified", "component", "decided_by", "summary", "symptoms",
     "recommendation", "workaround", "references", "source", "notes", "cases"}
)  # fmt: skip
_REQUIRED: Final = ("id", "title", "component", "decided_by", "summary", "recommendation", "cases")
_CASE_FIELDS: Final = frozenset(
    {"id", "affected", "severity", "when", "impact", "uncertain", "note", "symptoms"}
)


@dataclass(frozen=True, slots=True)
class CatalogIssue:
    """One problem in one advisory file."""

    path: str
    advisory: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.advisory:
            where += f" [{self.advisory}]"
        return f"{where}: {self.field}: {self.message}"


class CatalogError(Exception):
    """The catalog could not be loaded; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[CatalogIssue]) -> None:
        self.issues = tuple(issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in the advisory catalog:\n{lines}")


@dataclass(frozen=True, slots=True)
class Catalog:
    """The loaded advisories and the catalog's own version."""

    version: str
    advisories: tuple[Advisory, ...]
    by_id: Mapping[str, Advisory] = field(init=False, repr=False, compare=False)
    symptoms: SymptomIndex = field(init=False, repr=False, compare=False)
    """The symptom keywords of every advisory and case, indexed once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {a.id: a for a in self.advisories})
        object.__setattr__(self, "symptoms", SymptomIndex(self.advisories))

    def get(self, advisory_id: str) -> Advisory | None:
        """The advisory with this id (case-insensitive), or None."""
        return self.by_id.get(AdvisoryId(advisory_id.strip().upper()))


def builtin_catalog_dir() -> Path:
    """The directory of the catalog shipped with netadvisor."""
    return Path(str(resources.files("advisories") / "catalog"))


def load_catalog(extra_dirs: Iterable[str | Path] = (), *, builtin: bool = True) -> Catalog:
    """Load the built-in catalog plus local advisory directories; raise CatalogError."""
    issues: list[CatalogIssue] = []
    advisories: list[Advisory] = []
    dirs = [builtin_catalog_dir()] if builtin else []
    dirs.extend(Path(d) for d in extra_dirs)
    version = _read_version(builtin_catalog_dir(), issues) if builtin else "local"
    seen: dict[str, str] = {}
    for directory in dirs:
        if not directory.is_dir():
            issues.append(CatalogIssue(str(directory), None, "path", "not a directory"))
            continue
        for path in sorted(directory.rglob("*.yaml")):
            if path.name == "VERSION.yaml":
                continue
            advisory = load_advisory_file(path, issues)
            if advisory is None:
                continue
            if advisory.id in seen:
                issues.append(
                    CatalogIssue(
                        str(path), advisory.id, "id", f"duplicate id (also in {seen[advisory.id]})"
                    )
                )
                continue
            seen[advisory.id] = str(path)
            advisories.append(advisory)
    if issues:
        raise CatalogError(issues)
    if extra_dirs and builtin:
        version += "+local"
    return Catalog(version=version, advisories=tuple(advisories))


def _read_version(directory: Path, issues: list[CatalogIssue]) -> str:
    path = directory / "VERSION.yaml"
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        issues.append(CatalogIssue(str(path), None, "catalog_version", str(exc)))
        return "unknown"
    if not isinstance(data, dict) or not isinstance(data.get("catalog_version"), str):
        issues.append(CatalogIssue(str(path), None, "catalog_version", "missing or not a string"))
        return "unknown"
    return str(data["catalog_version"])


def load_advisory_file(path: Path, issues: list[CatalogIssue]) -> Advisory | None:
    """Read and validate one advisory file; append problems to ``issues``."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except OSError as exc:
        issues.append(CatalogIssue(str(path), None, "file", exc.strerror or str(exc)))
        return None
    except yaml.YAMLError as exc:
        issues.append(CatalogIssue(str(path), None, "yaml", str(exc).replace("\n", " ")))
        return None
    return parse_advisory(data, str(path), issues)


def parse_advisory(data: Any, path: str, issues: list[CatalogIssue]) -> Advisory | None:
    """Validate one advisory given as parsed YAML; append problems to ``issues``."""
    before = len(issues)
    if not isinstance(data, dict):
        issues.append(CatalogIssue(path, None, "(top)", "an advisory must be a mapping"))
        return None
    raw_id = data.get("id")
    aid = raw_id if isinstance(raw_id, str) else None

    def problem(field: str, message: str) -> None:
        issues.append(CatalogIssue(path, aid, field, message))

    for key in sorted(set(data) - _TOP_FIELDS, key=str):
        problem(str(key), f"unknown field (valid: {', '.join(sorted(_TOP_FIELDS))})")
    for key in _REQUIRED:
        if data.get(key) in (None, "", [], {}):
            problem(key, "missing")
    if aid is not None and not _ID_RE.match(aid):
        problem("id", f"{aid!r} is not an id like KP-IPVS-CONN-REUSE (uppercase, dashes)")
    elif raw_id is not None and aid is None:
        problem("id", "must be a string")
    component = data.get("component")
    if component is not None and component not in COMPONENTS:
        problem("component", f"unknown component {component!r} (valid: {', '.join(COMPONENTS)})")
    decided_by = None
    if data.get("decided_by") is not None:
        try:
            decided_by = DecidedBy(data["decided_by"])
        except ValueError:
            valid = ", ".join(d.value for d in DecidedBy)
            problem("decided_by", f"unknown value {data['decided_by']!r} (valid: {valid})")
    title = _string(data, "title", problem)
    title_zh = _string(data, "title_zh", problem, required=False) or None
    modified = _day(data.get("modified"), "modified", problem)
    summary = _string(data, "summary", problem)
    source = _string(data, "source", problem, required=False)
    recommendation = _text(data.get("recommendation"), "recommendation", problem)
    symptoms = _symptoms(data.get("symptoms"), problem)
    workaround = _workarounds(data.get("workaround"), problem)
    references = _references(data.get("references"), problem)
    notes = _string_list(data.get("notes"), "notes", problem)
    cases = _cases(data.get("cases"), problem)
    if cases and not any(c.affected for c in cases):
        problem("cases", "no case is affected: true")
    case_ids = {c.id for c in cases}
    for i, item in enumerate(workaround):
        for case_id in item.cases:
            if case_id not in case_ids:
                problem(f"workaround[{i}].cases", f"unknown case {case_id!r}")
    if len(issues) > before:
        return None
    assert aid is not None and component is not None and decided_by is not None
    assert recommendation is not None
    return Advisory(
        id=AdvisoryId(aid),
        title=title,
        component=component,
        decided_by=decided_by,
        summary=summary,
        cases=tuple(cases),
        recommendation=recommendation,
        symptoms=symptoms,
        workaround=tuple(workaround),
        references=tuple(references),
        source=source,
        notes=tuple(notes),
        path=path,
        title_zh=title_zh,
        modified=modified,
    )


def _day(value: Any, field: str, problem: Any) -> date | None:
    """A day written ``YYYY-MM-DD`` (YAML reads it as a date already, or as text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        problem(field, f"must be a day as YYYY-MM-DD, got {value!r}")
        return None


def _string(data: Mapping[str, Any], key: str, problem: Any, required: bool = True) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problem(key, "must be a string")
        return ""
    return value.strip()


def _text(value: Any, field: str, problem: Any) -> Text | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Text(en=value.strip())
    if isinstance(value, dict):
        extra = set(value) - {"en", "zh"}
        if extra:
            problem(f"{field}.{sorted(extra)[0]}", "unknown language (valid: en, zh)")
        en, zh = value.get("en"), value.get("zh")
        if not isinstance(en, str) or not en.strip():
            problem(f"{field}.en", "missing English text")
            return None
        if zh is not None and not isinstance(zh, str):
            problem(f"{field}.zh", "must be a string")
            zh = None
        return Text(en=en.strip(), zh=zh.strip() if zh else None)
    problem(field, "must be a string or a mapping with en (and zh)")
    return None


def _string_list(value: Any, field: str, problem: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problem(field, "must be a list of strings")
        return []
    return [v.strip() for v in value]


def _symptoms(value: Any, problem: Any, field: str = "symptoms") -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problem(field, "must be a mapping of language (en, zh) to keyword lists")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for language, words in value.items():
        if language not in ("en", "zh"):
            problem(f"{field}.{language}", "unknown language (valid: en, zh)")
            continue
        out[language] = tuple(_string_list(words, f"{field}.{language}", problem))
    return out


def _workarounds(value: Any, problem: Any) -> list[Workaround]:
    if value is None:
        return []
    if not isinstance(value, list):
        problem("workaround", "must be a list of {description, command}")
        return []
    out = []
    for i, item in enumerate(value):
        field = f"workaround[{i}]"
        allowed = {"description", "description_zh", "command", "cases"}
        if not isinstance(item, dict) or set(item) - allowed:
            problem(field, "must be a mapping with description, description_zh, command, cases")
            continue
        command, description = item.get("command"), item.get("description", "")
        if not isinstance(command, str) or not command.strip():
            problem(f"{field}.command", "missing")
            continue
        description_zh = item.get("description_zh")
        if description_zh is not None and not isinstance(description_zh, str):
            problem(f"{field}.description_zh", "must be a string")
            description_zh = None
        cases = _string_list(item.get("cases"), f"{field}.cases", problem)
        out.append(
            Workaround(
                description=str(description).strip(),
                command=command.strip(),
                description_zh=description_zh.strip() if description_zh else None,
                cases=tuple(cases),
            )
        )
    return out


def _references(value: Any, problem: Any) -> list[Reference]:
    if value is None:
        return []
    if not isinstance(value, list):
        problem("references", "must be a list of {type, url}")
        return []
    out = []
    for i, item in enumerate(value):
        field = f"references[{i}]"
        if not isinstance(item, dict) or set(item) - {"type", "url", "note"}:
            problem(field, "must be a mapping with type, url and optional note")
            continue
        kind, url = item.get("type"), item.get("url")
        if kind not in _REFERENCE_TYPES:
            valid = ", ".join(sorted(_REFERENCE_TYPES))
            problem(f"{field}.type", f"unknown type {kind!r} (valid: {valid})")
            continue
        if not isinstance(url, str) or not url.startswith("https://"):
            problem(f"{field}.url", "must be an https:// URL")
            continue
        note = item.get("note")
        out.append(Reference(type=kind, url=url, note=str(note) if note else None))
    return out


def _cases(value: Any, problem: Any) -> list[Case]:
    if value is None:
        return []
    if not isinstance(value, list):
        problem("cases", "must be a list")
        return []
    out: list[Case] = []
    ids: set[str] = set()
    for i, item in enumerate(value):
        field = f"cases[{i}]"
        if not isinstance(item, dict):
            problem(field, "must be a mapping")
            continue
        for key in sorted(set(item) - _CASE_FIELDS, key=str):
            problem(f"{field}.{key}", f"unknown field (valid: {', '.join(sorted(_CASE_FIELDS))})")
        case_id = item.get("id")
        if not isinstance(case_id, str) or not _CASE_ID_RE.match(case_id):
            problem(f"{field}.id", "missing or not kebab-case")
            continue
        field = f"cases[{case_id}]"
        if case_id in ids:
            problem(f"{field}.id", "duplicate case id")
        ids.add(case_id)
        affected = item.get("affected")
        if not isinstance(affected, bool):
            problem(f"{field}.affected", "must be true or false")
            continue
        severity = None
        if affected:
            try:
                severity = Severity(item.get("severity"))
            except ValueError:
                valid = ", ".join(s.value for s in Severity)
                problem(f"{field}.severity", f"{item.get('severity')!r} (valid: {valid})")
        elif item.get("severity") is not None:
            problem(f"{field}.severity", "only affected cases have a severity")
        impact = _text(item.get("impact"), f"{field}.impact", problem)
        if impact is None:
            if "impact" not in item:
                problem(f"{field}.impact", "missing")
            continue
        uncertain = item.get("uncertain")
        if uncertain is not None and (not isinstance(uncertain, str) or not uncertain.strip()):
            problem(f"{field}.uncertain", "must be a sentence saying why the band is uncertain")
            uncertain = None
        note = item.get("note")
        if note is not None and not isinstance(note, str):
            problem(f"{field}.note", "must be a string")
            note = None
        when = _conditions(item.get("when"), f"{field}.when", problem)
        if when is None:
            continue
        symptoms = _symptoms(item.get("symptoms"), problem, f"{field}.symptoms")
        out.append(
            Case(
                id=case_id,
                affected=affected,
                when=when,
                impact=impact,
                severity=severity,
                uncertain=uncertain.strip() if isinstance(uncertain, str) else None,
                note=note.strip() if isinstance(note, str) else None,
                symptoms=symptoms,
            )
        )
    return out


def _conditions(value: Any, field: str, problem: Any) -> tuple[Condition, ...] | None:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problem(field, "must be a mapping of fact keys or features to conditions")
        return None
    out = []
    ok = True
    for key, cond in value.items():
        where = f"{field}.{key}"
        if key in FEATURES:
            if not isinstance(cond, bool):
                problem(where, "a feature condition is true or false")
                ok = False
                continue
            out.append(Condition(key=key, flag=cond))
            continue
        spec = FACTS.get(key)
        if spec is None or spec.kind is FactKind.TEXT:
            valid = sorted(k for k, s in FACTS.items() if s.kind is not FactKind.TEXT)
            problem(
                where,
                f"unknown fact or feature (facts: {', '.join(valid)}; "
                f"features: {', '.join(sorted(FEATURES))})",
            )
            ok = False
            continue
        if spec.kind in (FactKind.VERSION, FactKind.KERNEL):
            parsed = _events(cond, where, spec.kind is FactKind.KERNEL, problem)
            if parsed is None:
                ok = False
                continue
            versions, events = parsed
            out.append(Condition(key=key, versions=versions, events=events))
            continue
        if not isinstance(cond, list) or not cond or not all(isinstance(v, str) for v in cond):
            problem(where, f"must be a list of values out of: {', '.join(spec.values)}")
            ok = False
            continue
        bad = [v for v in cond if v not in spec.values]
        if bad:
            problem(where, f"unknown value {bad[0]!r} (valid: {', '.join(spec.values)})")
            ok = False
            continue
        out.append(Condition(key=key, values=frozenset(cond)))
    return tuple(out) if ok else None


def _events(
    value: Any, field: str, kernel: bool, problem: Any
) -> tuple[VersionSet, tuple[tuple[str, str], ...]] | None:
    """Read OSV ``events`` into a version set (ECOSYSTEM semantics, sorted events)."""
    if not isinstance(value, list) or not value:
        problem(field, "must be a list of events (introduced / fixed / last_affected)")
        return None
    events: list[tuple[str, str, VersionKey]] = []
    for i, event in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(event, dict) or len(event) != 1:
            problem(where, "an event has exactly one of introduced, fixed, last_affected")
            return None
        ((kind, text),) = event.items()
        if kind not in ("introduced", "fixed", "last_affected"):
            problem(where, f"unknown event {kind!r} (valid: introduced, fixed, last_affected)")
            return None
        if not isinstance(text, str):
            problem(where, f"version {text!r} must be a quoted string")
            return None
        if kind == "introduced" and text == "0":
            key = MIN_KEY
        else:
            if not _NORMALISED.match(text):
                problem(where, f"bad version {text!r} (write a normalised version like 1.19.0)")
                return None
            try:
                key = parse_kernel(text).key if kernel else parse_version(text).key
            except VersionError:
                problem(where, f"bad version {text!r}")
                return None
            if kind == "last_affected":
                key = key.just_after()
        events.append((kind, text, key))
    intervals = []
    start: VersionKey | None = None
    previous = MIN_KEY
    for kind, text, key in events:
        if key < previous:
            problem(field, f"events are not sorted by version at {kind}: {text!r}")
            return None
        previous = key
        if kind == "introduced":
            if start is not None:
                problem(field, f"introduced {text!r} follows another introduced")
                return None
            start = key
        else:
            if start is None:
                problem(field, f"{kind} {text!r} has no introduced before it")
                return None
            intervals.append((start, key))
            start = None
    if start is not None:
        intervals.append((start, MAX_KEY))
    return VersionSet.of(*intervals), tuple((k, t) for k, t, _ in events)
