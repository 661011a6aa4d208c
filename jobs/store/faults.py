"""Database faults in words: one line for a person, never a chained driver traceback.

A disk that fills up or a database that stops in the middle of a scan surfaces as a SQLAlchemy
exception wrapping the driver's, each with its own traceback. :func:`describe` turns one into
a line (what failed and the driver's first line of why); :func:`quick_check` refuses a SQLite
file that is damaged before anything is read from or written to it.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

__all__ = ["describe", "quick_check"]

_CHECKED_ROWS: Final = 5
"""Problems ``quick_check`` is asked to list (the first says enough)."""


def describe(exc: BaseException) -> str | None:
    """One line for a state database error, or None when ``exc`` is not one."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    why = lines[0] if lines else type(cause).__name__
    # SQLAlchemy appends "(Background on this error at: https://sqlalche.me/...)".
    why = why.split(" (Background on this error at:")[0]
    hint = ""
    lowered = why.lower()
    if "disk is full" in lowered or "no space left" in lowered or "disk full" in lowered:
        hint = "; free space where the state database lives, then run again"
    elif "disk i/o error" in lowered:
        hint = "; the disk may be full or failing where the state database lives"
    elif isinstance(exc, DBAPIError) and exc.connection_invalidated:
        hint = "; the database went away: run again once it answers"
    return f"{why[:300]}{hint}"


def quick_check(dbapi_connection: Any) -> str | None:
    """SQLite's ``PRAGMA quick_check`` on a raw connection: None when the file is sound, else
    its first problems on one line."""
    cursor = dbapi_connection.cursor()
    try:
        rows = cursor.execute(f"PRAGMA quick_check({_CHECKED_ROWS})").fetchall()
    finally:
        cursor.close()
    problems = [str(row[0]) for row in rows]
    if problems == ["ok"]:
        return None
    # Each row may hold several lines, headed "*** in database main ***".
    lines = [
        line.strip()
        for problem in problems
        for line in problem.splitlines()
        if line.strip() and not line.startswith("***")
    ]
    shown = "; ".join(lines[:2]) + (" (and more)" if len(lines) > 2 else "")
    return shown[:300]
