"""How each setting's value is read: one parser per kind of value, named in the settings table.

A parser takes ``(value, field name, directory of the file or None)``: the value as the YAML file
holds it or as the variable's text, the setting's key, and the directory relative paths are
resolved against. It returns the value :class:`~bot.settings.model.Settings` holds, or raises
``ValueError`` with a message that reads after the field's name; :class:`FieldError` when the
problem is in a nested field (``clusters[2].context``), so the message names it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from advisories.facts import FACTS, FEATURES, FactError, FactKind, canonical_key, parse_fact
from bot.settings.model import ClusterSettings
from jobs.mutes import MAX_MUTE_DAYS, MAX_REASON, ConfigMute
from jobs.notify import Route

__all__ = [
    "FieldError",
    "Parser",
    "choice",
    "clusters",
    "http_url",
    "mutes",
    "port",
    "positive_int",
    "routes",
    "seconds",
    "slack_ids",
    "slack_url",
    "text",
    "time_of_day",
    "timezone",
    "yaml_problem",
]

Parser = Callable[[Any, str, Path | None], Any]
"""(value, field name, directory of the file or None) -> value; raises ValueError."""


class FieldError(ValueError):
    """A problem in a nested field (the field path is more precise than the setting's key)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field_path = field_path


def positive_int(value: Any, name: str, base: Path | None) -> int:
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit():
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValueError(f"must be a whole number from 1 to 1000, got {value!r}")
    return value


def seconds(value: Any, name: str, base: Path | None) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip().removesuffix("s"))
        except ValueError:
            raise ValueError(f"must be a number of seconds, got {value!r}") from None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _load_yaml(text: str) -> Any:
    """What the YAML ``text`` holds; a ValueError naming the problem where it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"is not valid YAML: {yaml_problem(exc)}") from None


def _yaml_list(value: Any, of: str) -> list[Any]:
    """The list ``value`` is, or the YAML text of; empty for None; else "must be a list of <of>"."""
    if isinstance(value, str):
        value = _load_yaml(value)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"must be a list of {of}")
    return value


def clusters(value: Any, name: str, base: Path | None) -> tuple[ClusterSettings, ...]:
    entries = _yaml_list(value, "clusters (each with a name)")
    out: list[ClusterSettings] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        cluster = _cluster(entry, f"{name}[{index}]", base)
        if cluster.name in seen:
            raise FieldError(
                f"{name}[{index}].name",
                f"two clusters are named {cluster.name!r} (also {name}[{seen[cluster.name]}]); "
                "names must be unique",
            )
        seen[cluster.name] = index
        out.append(cluster)
    return tuple(out)


def _url(value: Any) -> str:
    """``value`` stripped of white space, once it is known to be an http(s):// URL."""
    if not isinstance(value, str) or not value.strip().startswith(("https://", "http://")):
        raise ValueError(f"must be an http(s):// URL, got {value!r}")
    return value.strip()


def http_url(value: Any, name: str, base: Path | None) -> str:
    return _url(value).rstrip("/")


def text(value: Any, name: str, base: Path | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def slack_url(value: Any, name: str, base: Path | None) -> str:
    # Passed unchanged to the WebClient: no trailing slash is added or removed.
    return _url(value)


_ROUTE_KEYS: Final = frozenset({"labels", "channel", "severity", "min-severity"})


def routes(value: Any, name: str, base: Path | None) -> tuple[Route, ...]:
    entries = _yaml_list(value, "{labels: {...}, severity: high, channel: ...}")
    routes = []
    for index, entry in enumerate(entries):
        where = f"{name}[{index}]"
        if not isinstance(entry, dict) or set(entry) - _ROUTE_KEYS:
            raise FieldError(
                where, "must be a mapping with `channel` and `labels` and/or `severity`"
            )
        channel = entry.get("channel")
        if not isinstance(channel, str) or not channel.strip():
            raise FieldError(f"{where}.channel", "required: a channel ID or #name")
        labels = _labels(entry.get("labels"), f"{where}.labels") if "labels" in entry else {}
        severity = _route_severity(entry, where)
        if not labels and severity is None:
            raise FieldError(
                f"{where}.labels",
                "required: at least one label (env: prod), or a minimum `severity` (high)",
            )
        routes.append(Route(labels, channel.strip(), severity))
    return tuple(routes)


def _route_severity(entry: dict[str, Any], where: str) -> str | None:
    """A route's minimum severity (``severity`` or ``min-severity``), lower case."""
    keys = [k for k in ("severity", "min-severity") if k in entry]
    if not keys:
        return None
    if len(keys) > 1:
        raise FieldError(f"{where}.min-severity", "give `severity` or `min-severity`, not both")
    raw = entry[keys[0]]
    allowed = ("critical", "high", "medium", "low")
    if not isinstance(raw, str) or raw.strip().lower() not in allowed:
        raise FieldError(
            f"{where}.{keys[0]}",
            f"must be one of {', '.join(allowed)} (the least severe match the route takes), "
            f"got {raw!r}",
        )
    return raw.strip().lower()


_MUTE_KEYS: Final = ("advisory", "cluster", "reason", "expires", "days")


def mutes(value: Any, name: str, base: Path | None) -> tuple[ConfigMute, ...]:
    entries = _yaml_list(value, "mutes (each with advisory, cluster, reason, expires)")
    out: list[ConfigMute] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        mute = _mute(entry, f"{name}[{index}]")
        key = mute.key()
        if key in seen:
            raise FieldError(mute.field, f"the same mute as {name}[{seen[key]}]")
        seen[key] = index
        out.append(mute)
    return tuple(out)


def _mute(entry: Any, where: str) -> ConfigMute:
    if not isinstance(entry, dict):
        raise FieldError(where, "must be a mapping with advisory, cluster, reason and expires")
    for key in entry:
        if key not in _MUTE_KEYS:
            raise FieldError(f"{where}.{key}", f"unknown key (valid: {', '.join(_MUTE_KEYS)})")
    scope: dict[str, str | None] = {}
    for key, meaning in (("advisory", "an advisory id, or all"), ("cluster", "a name, or all")):
        item = entry.get(key)
        if item is None:
            raise FieldError(f"{where}.{key}", f"missing ({meaning})")
        if not isinstance(item, str) or not item.strip():
            raise FieldError(f"{where}.{key}", f"must be {meaning}, got {item!r}")
        scope[key] = None if item.strip().lower() == "all" else item.strip()
    reason = entry.get("reason")
    if reason is None:
        raise FieldError(f"{where}.reason", "missing (why it is muted, kept with the mute)")
    if not isinstance(reason, str) or not reason.strip():
        raise FieldError(f"{where}.reason", "must be a non-empty text")
    if len(reason.strip()) > MAX_REASON:
        raise FieldError(f"{where}.reason", f"longer than {MAX_REASON} characters")
    expires, days = entry.get("expires"), entry.get("days")
    if (expires is None) == (days is None):
        raise FieldError(
            f"{where}.expires",
            "give exactly one of expires (a date or a date and time) or days"
            + (" (both given)" if expires is not None else " (missing)"),
        )
    return ConfigMute(
        advisory_id=scope["advisory"],
        cluster=scope["cluster"],
        reason=" ".join(reason.split()),
        expires_at=_expiry(expires, f"{where}.expires") if expires is not None else None,
        days=_mute_days(days, f"{where}.days") if days is not None else None,
        field=where,
    )


def _expiry(value: Any, where: str) -> datetime:
    """A date (the mute ends at its start, UTC) or a date and time (UTC unless it says)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(
                where, f"must be a date (2026-12-01) or a date and time, got {text!r}"
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise FieldError(where, f"must be a date (2026-12-01) or a date and time, got {value!r}")


def _mute_days(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MUTE_DAYS:
        raise FieldError(where, f"must be a whole number of days from 1 to {MAX_MUTE_DAYS}")
    return value


def slack_ids(value: Any, name: str, base: Path | None) -> tuple[str, ...]:
    items = value
    if isinstance(value, str):
        items = _load_yaml(value) if value.strip().startswith("[") else None
        if items is None:
            items = value.replace(",", " ").split()
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ValueError(
            "must be a list of Slack IDs (U0ADMIN, C0OPS), or them separated by commas"
        )
    return tuple(i.strip() for i in items)


def time_of_day(value: Any, name: str, base: Path | None) -> str:
    text = str(value).strip()
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"must be a time of day as HH:MM, got {value!r}")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError(f"must be a time of day as HH:MM, got {value!r}")
    return f"{int(hours):02}:{minutes}"


def timezone(value: Any, name: str, base: Path | None) -> str:
    text = str(value).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)"
        ) from None
    return text


def choice(*choices: str) -> Callable[[Any, str, Path | None], str]:
    def parse(value: Any, name: str, base: Path | None) -> str:
        text = str(value).strip().lower()
        if isinstance(value, bool):  # YAML reads on/off as booleans
            text = "on" if value else "off"
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def port(value: Any, name: str, base: Path | None) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"must be a port number from 0 to 65535, got {value!r}")
    return int(text)


_CLUSTER_KEYS: Final = (
    "name",
    "kubeconfig",
    "context",
    "in-cluster",
    "dump",
    "labels",
    "overrides",
    "features",
)


def _cluster(entry: Any, where: str, base: Path | None) -> ClusterSettings:
    if not isinstance(entry, dict):
        raise FieldError(where, "must be a mapping with at least `name`")
    for key in entry:
        if key not in _CLUSTER_KEYS and str(key).replace("_", "-") not in _CLUSTER_KEYS:
            raise FieldError(f"{where}.{key}", f"unknown key (valid: {', '.join(_CLUSTER_KEYS)})")
    data = {str(k).replace("_", "-"): v for k, v in entry.items()}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FieldError(f"{where}.name", "required: a non-empty string")
    name = name.strip()
    kubeconfig = _path(data.get("kubeconfig"), f"{where}.kubeconfig", base)
    dump = _path(data.get("dump"), f"{where}.dump", base)
    context = data.get("context")
    if context is not None and (not isinstance(context, str) or not context.strip()):
        raise FieldError(f"{where}.context", "must be a non-empty string")
    in_cluster = data.get("in-cluster", False)
    if not isinstance(in_cluster, bool):
        raise FieldError(f"{where}.in-cluster", f"must be true or false, got {in_cluster!r}")
    sources = [
        s
        for s, given in (
            ("kubeconfig/context", kubeconfig is not None or context is not None),
            ("in-cluster", in_cluster),
            ("dump", dump is not None),
        )
        if given
    ]
    if len(sources) != 1:
        raise FieldError(
            where,
            f"cluster {name!r} needs exactly one source: kubeconfig (with an optional context), "
            f"context, in-cluster: true, or dump (got {', '.join(sources) or 'none'})",
        )
    labels = _labels(data.get("labels"), f"{where}.labels")
    overrides = _overrides(data.get("overrides"), f"{where}.overrides")
    features = _features(data.get("features"), f"{where}.features")
    return ClusterSettings(
        name=name,
        kubeconfig=kubeconfig,
        context=context.strip() if isinstance(context, str) else None,
        in_cluster=in_cluster,
        dump=dump,
        labels=labels,
        overrides=overrides,
        features=features,
    )


def _path(value: Any, where: str, base: Path | None) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise FieldError(where, "must be a file path")
    path = Path(value.strip()).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(where, "must be a mapping of label to value (env: prod)")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict | list) or item is None:
            raise FieldError(f"{where}.{key}", "must be a single value")
        out[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
    return out


def _overrides(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(where, "must be a mapping of fact key to value (proxy-mode: ipvs)")
    out: dict[str, str] = {}
    for key, item in value.items():
        name = str(key)
        if name.strip().lower() in FEATURES:
            raise FieldError(f"{where}.{name}", "is a feature: put it under `features:`")
        try:
            canonical = canonical_key(name)
        except FactError as exc:
            raise FieldError(f"{where}.{name}", _fact_message(exc)) from None
        if FACTS[canonical].kind is FactKind.TEXT:
            raise FieldError(f"{where}.{name}", "cannot be overridden: every node reports its own")
        if isinstance(item, list):
            text = ",".join(str(v) for v in item)
        elif isinstance(item, dict) or item is None or isinstance(item, bool):
            raise FieldError(f"{where}.{name}", f"must be a single value, got {item!r}")
        else:
            text = str(item)
        try:
            parse_fact(canonical, text)
        except FactError as exc:
            raise FieldError(f"{where}.{name}", _fact_message(exc)) from None
        out[canonical] = text
    return out


def _features(value: Any, where: str) -> dict[str, bool]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(where, "must be a mapping of feature name to true or false")
    out: dict[str, bool] = {}
    for key, item in value.items():
        name = str(key).strip().lower()
        if name not in FEATURES:
            raise FieldError(
                f"{where}.{key}", f"unknown feature (valid: {', '.join(sorted(FEATURES))})"
            )
        if not isinstance(item, bool):
            raise FieldError(f"{where}.{key}", f"must be true or false, got {item!r}")
        out[name] = item
    return out


def _fact_message(exc: FactError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)
