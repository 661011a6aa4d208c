"""Shared fixtures: the built-in catalog and an engine over it."""

from __future__ import annotations

import pytest

from advisories.catalog import Catalog, load_catalog
from advisories.derive import parse_os, resolve
from advisories.engine import Engine, Result
from advisories.facts import Facts, parse_fact


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def engine(catalog: Catalog) -> Engine:
    return Engine(catalog.advisories)


def stated(**given: str | bool) -> Facts:
    """Facts as a person states them: ``stated(k8s="1.27", mode="ipvs", feature_x=True)``.

    Keyword names use ``_`` for ``-``; booleans are features; ``os`` is an OS release.
    """
    values: dict[str, object] = {}
    raw: dict[str, str] = {}
    os_name = None
    for name, value in given.items():
        key = name.replace("_", "-")
        if isinstance(value, bool):
            values[key] = frozenset({value})
            continue
        if key == "os":
            release = parse_os(value)
            assert release is not None, value
            os_name = release.name
            raw["os"] = value
            continue
        canonical, domain, _ = parse_fact(key, value)
        values[canonical] = domain
        raw[canonical] = value
    return Facts(values=values, raw=raw, os_name=os_name)  # type: ignore[arg-type]


def result_of(engine: Engine, advisory_id: str, **given: str | bool) -> Result:
    """The result of one advisory at stated facts."""
    results = {r.id: r for r in engine.evaluate(resolve(stated(**given)))}
    return results[advisory_id]
