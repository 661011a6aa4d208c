"""``netadvisor report``, ``doctor`` and ``init``: a fleet exposure report to look at, and
set-up that checks itself.

- ``report`` renders the JSON document of ``scan --json`` (run here as a dry run, or read with
  ``--from``) as one self-contained HTML page, Markdown or a PNG.
- ``doctor`` checks every outside system netadvisor needs, one line per check with a fix, and
  exits 1 when one fails.
- ``init`` writes a commented configuration from a kubeconfig's contexts, never overwriting.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from bot.report.html import render_html
from bot.report.markdown import render_scan_markdown
from bot.report.model import ReportError, read_scan
from bot.report.png import render_png
from bot.scaffold import ScaffoldError, render_config, write_config
from bot.settings import Settings, SettingsError, load_settings
from bot.state import state_database
from jobs.checks import CheckResult, CheckStatus
from jobs.inventory.kube import KubeReader, list_contexts
from jobs.inventory.port import InventoryError

__all__ = ["HANDLERS", "cmd_doctor", "cmd_init", "cmd_report", "format_checks", "register"]

PROG: Final = "netadvisor"
_FORMATS: Final = ("html", "markdown", "png")


def register(commands: Any) -> None:
    """Add ``report``, ``doctor`` and ``init``."""
    report = commands.add_parser(
        "report",
        help="the fleet exposure matrix as HTML, Markdown or PNG",
        description="Scan the fleet (a dry run: nothing is stored or posted) or read a saved "
        "`scan --json` document, and render the clusters x advisories matrix.",
    )
    report.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="where to write it ('-' or nothing: standard output; a PNG needs a file)",
    )
    report.add_argument(
        "--output",
        "-o",
        choices=_FORMATS,
        default="html",
        help="html (default): one self-contained page; markdown: for a ticket "
        "or a PR comment; png: the matrix as an image",
    )
    report.add_argument(
        "--from",
        dest="source",
        metavar="JSON",
        help="a saved `netadvisor scan --json` document ('-': standard input) instead of scanning",
    )
    _fleet_flags(report)

    doctor = commands.add_parser(
        "doctor",
        help="check clusters, Slack, GitHub and database, with fixes",
        description="Check that every cluster is reachable and grants what inventory reads, "
        "that the Slack token has the manifest's scopes and is in every routed channel, the "
        "GitHub token and rate limit, and the state database. Exits 1 when a check fails.",
    )
    _fleet_flags(doctor)
    doctor.add_argument(
        "--post-test", action="store_true", help="also post a test message in every routed channel"
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")

    init = commands.add_parser(
        "init",
        help="write a commented config.yaml from kubeconfig contexts",
        description="Write a configuration with one cluster per kubeconfig context and the "
        "Slack and schedule settings commented out. Never overwrites a file.",
    )
    init.add_argument(
        "--config",
        metavar="PATH",
        help="file to write (default: $NETADVISOR_CONFIG, else "
        "$XDG_CONFIG_HOME/netadvisor/config.yaml)",
    )
    init.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig to read (default: $KUBECONFIG, else ~/.kube/config)",
    )
    init.add_argument("--stdout", action="store_true", help="print it instead of writing it")


def _fleet_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="configuration file")
    parser.add_argument(
        "--kubeconfig",
        action="append",
        default=[],
        metavar="PATH",
        help="every context of this kubeconfig, or those of --context",
    )
    parser.add_argument(
        "--context", action="append", default=[], metavar="NAME", help="this context (repeatable)"
    )
    parser.add_argument(
        "--dump", action="append", default=[], metavar="PATH", help="a dump bundle (repeatable)"
    )
    parser.add_argument("--state", metavar="URL", help="state database URL for this run")


# ---------------------------------------------------------------------------------------------
# report


def _scan_document(args: argparse.Namespace, err: TextIO) -> tuple[Any, datetime] | int:
    """The ``scan --json`` document and when the scan ran (or the file was written)."""
    if args.source:
        try:
            if args.source == "-":
                return json.load(sys.stdin), datetime.now(UTC).replace(microsecond=0)
            path = Path(args.source)
            data = json.loads(path.read_text(encoding="utf-8"))
            return data, datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
        except OSError as exc:
            print(f"{PROG}: argument --from: {args.source}: {exc.strerror}", file=err)
        except ValueError as exc:
            print(f"{PROG}: argument --from: {args.source}: not JSON ({exc})", file=err)
        return 2
    # The scan command itself, through its public interface: the report does not depend on
    # how scanning is wired. A dry run: a report stores nothing and posts nothing.
    from bot.cli import main

    argv = ["scan", "--json", "--dry-run"]
    for flag in ("config", "state"):
        if getattr(args, flag):
            argv += [f"--{flag}", getattr(args, flag)]
    for flag in ("kubeconfig", "context", "dump"):
        for value in getattr(args, flag):
            argv += [f"--{flag}", value]
    started = datetime.now(UTC).replace(microsecond=0)
    out = io.StringIO()
    code = main(argv, out, err)
    if not out.getvalue().strip():
        return code or 1
    return json.loads(out.getvalue()), started


def cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor report``."""
    if args.output == "png" and args.file == "-":
        print(
            f"{PROG}: argument FILE: a PNG needs a file name (report -o png matrix.png)", file=err
        )
        return 2
    scanned = _scan_document(args, err)
    if isinstance(scanned, int):
        return scanned
    data, when = scanned
    try:
        report = read_scan(data, when)
    except ReportError as exc:
        where = f"--from {args.source}" if args.source else "scan --json"
        print(f"{PROG}: {where}: {exc}", file=err)
        return 1
    if args.output == "png":
        content: bytes | str = render_png(report)
    elif args.output == "markdown":
        content = render_scan_markdown(report)
    else:
        content = render_html(report)
    if args.file == "-":
        out.write(content if isinstance(content, str) else content.decode())
        return 0
    path = Path(args.file)
    try:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    except OSError as exc:
        print(f"{PROG}: argument FILE: {path}: {exc.strerror}", file=err)
        return 1
    exposed = len(report.exposed_columns)
    print(
        f"{path}: {len(report.clusters)} clusters x {exposed} advisories that hold somewhere "
        f"({len(report.columns)} in the catalog), {len(report.unreadable)} unreadable",
        file=err,
    )
    return 0


# ---------------------------------------------------------------------------------------------
# doctor

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


def _kubernetes(args: argparse.Namespace, settings: Settings) -> list[CheckResult]:
    from bot.cli_inventory import fleet_from
    from jobs.inventory.access import check_access

    fleet = fleet_from(args, settings)
    if fleet.demo:
        return [
            CheckResult(
                "kubernetes",
                "clusters",
                CheckStatus.SKIP,
                "none configured: scan reads the bundled demo fleet",
                "run `netadvisor init` to write a configuration from your kubeconfig",
            )
        ]
    timeout = min(settings.cluster_timeout, 15.0)
    # Clusters are checked side by side (each asks about 15 questions), reported in order.
    with ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as pool:
        futures = {
            target.name: pool.submit(
                check_access, target.name, target.reader.connect, timeout=timeout
            )
            for target in fleet.targets
            if isinstance(target.reader, KubeReader)
        }
    out: list[CheckResult] = []
    for target in fleet.targets:
        if target.name in futures:
            out += futures[target.name].result()
        else:
            out.append(
                CheckResult(
                    "kubernetes",
                    target.name,
                    CheckStatus.SKIP,
                    f"read from {target.origin}: nothing to connect to",
                )
            )
    return out


def _slack(settings: Settings, post_test: bool, now: datetime) -> list[CheckResult]:
    if settings.slack_bot_token is None:
        return [
            CheckResult(
                "slack",
                "token",
                CheckStatus.SKIP,
                "no SLACK_BOT_TOKEN: messages are printed, not posted",
            )
        ]
    from bot.slack.doctor import check_slack
    from bot.slack.notifier import make_client

    channels = [settings.slack_channel] if settings.slack_channel else []
    channels += [route.channel for route in settings.slack_routes]
    client = make_client(settings.slack_bot_token.reveal(), settings.slack_api_url, timeout=15)
    results = check_slack(client, channels, post_test=post_test, now=now)
    if not channels and not any(r.failed for r in results):
        results.append(
            CheckResult(
                "slack",
                "channels",
                CheckStatus.WARN,
                "none configured",
                "set slack-channel (or slack-routes)",
            )
        )
    return results


def _github(settings: Settings, now: datetime) -> list[CheckResult]:
    from jobs.upstream.github import build_client, check_access

    token = settings.github_token.reveal() if settings.github_token else None
    with build_client(settings.github_api_url, token, timeout=10) as client:
        return check_access(client, token_given=token is not None, now=now)


def _database(args: argparse.Namespace, settings: Settings) -> CheckResult:
    from jobs.store.probe import check_database

    try:
        database = state_database(settings, args.state)
    except SettingsError as exc:
        return CheckResult(
            "database",
            "state",
            CheckStatus.FAIL,
            str(exc),
            "set database: or NETADVISOR_DATABASE_URL",
        )
    return check_database(database.url)


def run_doctor(
    args: argparse.Namespace,
    settings: Settings,
    now: datetime,
    checks: Mapping[str, Callable[[], list[CheckResult]]] | None = None,
) -> list[CheckResult]:
    """Every check, Kubernetes first (``checks`` replaces areas, for tests of the output)."""
    areas: dict[str, Callable[[], list[CheckResult]]] = {
        "kubernetes": lambda: _kubernetes(args, settings),
        "slack": lambda: _slack(settings, args.post_test, now),
        "github": lambda: _github(settings, now),
        "database": lambda: [_database(args, settings)],
    }
    areas.update(checks or {})
    results: list[CheckResult] = []
    for run in areas.values():
        results += run()
    return results


def cmd_doctor(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor doctor``."""
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        print(f"{'':16}fix: correct the field named above, then rerun doctor", file=err)
        return 1
    results = run_doctor(args, settings, datetime.now(UTC))
    if args.json:
        data = {
            "ok": not any(r.failed for r in results),
            "checks": [
                {
                    "area": r.area,
                    "subject": r.subject,
                    "status": r.status.value,
                    "message": r.message,
                    "fix": r.fix,
                }
                for r in results
            ],
        }
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        print(format_checks(results), file=out)
    return 1 if any(r.failed for r in results) else 0


# ---------------------------------------------------------------------------------------------
# init


def _default_config_path() -> Path | None:
    explicit = os.environ.get("NETADVISOR_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or (
        str(Path(os.environ["HOME"]) / ".config") if os.environ.get("HOME") else None
    )
    return Path(base) / "netadvisor" / "config.yaml" if base else None


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor init``."""
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG")
    if not kubeconfig:
        home = Path(os.environ.get("HOME", "~")).expanduser() / ".kube" / "config"
        kubeconfig = str(home) if home.is_file() else None
    if not kubeconfig:
        print(
            f"{PROG}: argument --kubeconfig: none given, and neither $KUBECONFIG nor "
            "~/.kube/config exists",
            file=err,
        )
        return 2
    try:
        contexts, current = list_contexts(kubeconfig)
    except InventoryError as exc:
        print(f"{PROG}: argument --kubeconfig: {exc.reason}", file=err)
        return 2
    text = render_config(kubeconfig, contexts, current)
    if args.stdout:
        out.write(text)
        return 0
    path = Path(args.config).expanduser() if args.config else _default_config_path()
    if path is None:
        print(
            f"{PROG}: argument --config: no $HOME or $XDG_CONFIG_HOME; give --config PATH", file=err
        )
        return 2
    try:
        write_config(path, text)
    except ScaffoldError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    print(
        f"{path}: {len(contexts)} cluster{'s' if len(contexts) != 1 else ''} from "
        f"{kubeconfig}. Next: netadvisor doctor, then netadvisor scan.",
        file=out,
    )
    return 0


HANDLERS: Mapping[str, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
    "report": cmd_report,
    "doctor": cmd_doctor,
    "init": cmd_init,
}
