"""``netadvisor doctor``: every outside system netadvisor needs, checked, one line per check
with a fix; exit 1 when one fails.

Kubernetes per cluster (reachable, authenticated, a SelfSubjectAccessReview for every
permission inventory needs), Slack (the token's identity, its scopes against the manifest's,
membership of every routed channel, and with ``--post-test`` a test message), GitHub (the token
and the rate limit left) and the state database (reachable, its schema version).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final, TextIO

from bot.cli.flags import add_fleet_flags, add_output_flag, add_state_flag, fleet_flags
from bot.terminal import json as documents
from bot.wiring import SetupError, Wiring
from jobs.checks import CheckResult, CheckStatus

__all__ = ["format_checks", "register", "run"]


def register(commands: Any) -> None:
    """Add ``doctor``."""
    doctor = commands.add_parser(
        "doctor",
        help="check clusters, Slack, GitHub and database, with fixes",
        description="Check that every cluster is reachable and grants what inventory reads, "
        "that the Slack token has the manifest's scopes and is in every routed channel, the "
        "GitHub token and rate limit, and the state database. Exits 1 when a check fails.",
    )
    doctor.set_defaults(run=run)
    add_fleet_flags(doctor)
    add_output_flag(doctor, ("text", "json"))
    add_state_flag(doctor)
    doctor.add_argument(
        "--post-test", action="store_true", help="also post a test message in every routed channel"
    )


_MARKS: Final = {
    CheckStatus.OK: "ok  ",
    CheckStatus.WARN: "warn",
    CheckStatus.FAIL: "FAIL",
    CheckStatus.SKIP: "skip",
}


_CONNECTION: Final = ("reachable", "authenticated", "credentials")


def _permission(result: CheckResult) -> bool:
    return result.area == "kubernetes" and result.subject.partition(": ")[2] not in _CONNECTION


def _collapse(results: Sequence[CheckResult]) -> list[CheckResult]:
    """A cluster's granted permissions become one line after its ``authenticated`` line
    (``12 of 13 inventory needs granted``); a permission that is not granted keeps its line."""
    asked = Counter(r.subject.partition(": ")[0] for r in results if _permission(r))
    granted = Counter(
        r.subject.partition(": ")[0]
        for r in results
        if _permission(r) and r.status is CheckStatus.OK
    )
    merged: list[CheckResult] = []
    for result in results:
        if _permission(result) and result.status is CheckStatus.OK:
            continue
        merged.append(result)
        cluster, _, what = result.subject.partition(": ")
        if result.area == "kubernetes" and what == "authenticated" and asked[cluster]:
            status = CheckStatus.OK if granted[cluster] == asked[cluster] else CheckStatus.FAIL
            message = f"{granted[cluster]} of {asked[cluster]} inventory needs granted"
            merged.append(CheckResult("kubernetes", f"{cluster}: permissions", status, message))
    return merged


def format_checks(results: Sequence[CheckResult]) -> str:
    """The verdict first, then one line per check (and its fix under a line that is not OK)."""
    failed = [r for r in results if r.failed]
    warned = [r for r in results if r.status is CheckStatus.WARN]
    if failed:
        areas = ", ".join(dict.fromkeys(f"{r.area} {r.subject}" for r in failed))
        head = f"{len(failed)} of {len(results)} checks failed: {areas}. Fix them, then rerun."
    else:
        head = f"All {len(results)} checks passed" + (
            f" ({len(warned)} warning{'s' if len(warned) != 1 else ''})." if warned else "."
        )
    lines = [head]
    for result in _collapse(results):
        lines.append(
            f"{_MARKS[result.status]}  {result.area:<10}  {result.subject}: {result.message}"
        )
        if result.fix and result.status in (CheckStatus.FAIL, CheckStatus.WARN):
            lines.append(f"{'':16}fix: {result.fix}")
    return "\n".join(lines)


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor doctor``."""
    results: list[CheckResult] = []
    results += w.check_clusters(fleet_flags(args))
    results += w.check_slack(post_test=args.post_test)
    results += w.check_github()
    try:
        database = w.database()
    except SetupError as exc:
        results.append(CheckResult("database", "state", CheckStatus.FAIL, str(exc),
                                   "set database: or NETADVISOR_DATABASE_URL"))  # fmt: skip
    else:
        results.append(w.check_database(database))
    if args.output == "json":
        documents.dump(documents.checks(results), out)
    else:
        print(format_checks(results), file=out)
    return 1 if any(r.failed for r in results) else 0
