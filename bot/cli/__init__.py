"""The ``netadvisor`` command line: parse, wire once, run one command.

Each command is a leaf module of this package (``catalog``, ``check``, ``ask``, ``plan``,
``mutes``, ``inventory``, ``scan``, ``digest``, ``upstream``, ``serve``) with ``register`` (its
parsers) and ``run(args, wiring, out, err)``; they share :mod:`bot.cli.flags` and never import
each other. :func:`main` builds the :class:`bot.wiring.Wiring` the command receives.

Exit codes: 0 when the command completed (whatever the verdicts, unless ``--fail-on``), 1 when a
``--fail-on`` level was reached or nothing could be done, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import argcomplete

from advisories.catalog import CatalogError
from bot import logs
from bot.cli import (
    ask,
    catalog,
    check,
    completion,
    digest,
    doctor,
    init,
    inventory,
    mutes,
    plan,
    report,
    scan,
    serve,
    upstream,
)
from bot.cli.flags import PROG, Parser, UsageError, VersionAction
from bot.settings import Settings, SettingsError, load_settings
from bot.wiring import SetupError, Wiring
from jobs.store import describe_fault

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (
    catalog,
    check,
    ask,
    plan,
    mutes,
    inventory,
    scan,
    upstream,
    digest,
    serve,
    report,
    doctor,
    init,
    completion,
)
"""The command modules, in the order ``--help`` lists their commands."""

_NO_SETTINGS = frozenset({"catalog", "check", "completion"})
"""Commands that read no configuration (a broken configuration file never stops them)."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = Parser(
        prog=PROG,
        description="Known kube-proxy, Calico and Spiderpool network issues, checked against "
        "versions, kernels and modes.",
        epilog=f"'{PROG} COMMAND --help' shows a command's flags. With nothing configured, "
        "scan reads the bundled demo fleet and prints instead of posting.",
    )
    parser.add_argument(
        "-V",
        "--version",
        action=VersionAction,
        help="print the version and the catalog's, and exit",
    )
    parser.add_argument("--catalog-dir", action="append", default=[], metavar="DIR",
                        help="add local advisories from DIR (repeatable)")  # fmt: skip
    parser.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        help="log lines as text or JSON (default: $NETADVISOR_LOG_FORMAT, text)",
    )
    parser.add_argument(
        "--log-level",
        choices=logs.LEVELS,
        help="least severe level logged (default: info for serve, else warning)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:  # fmt: skip
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    # Under a shell's completion hook (``netadvisor completion``), print the candidates and exit.
    argcomplete.autocomplete(parser)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command is None:  # a bare `netadvisor`: what it can do
        parser.print_help(out)
        return 0
    for directory in args.catalog_dir:
        if not Path(directory).is_dir():
            print(f"{PROG}: argument --catalog-dir: {directory!r} is not a directory", file=err)
            return 2
    settings: Settings | None
    try:
        settings = load_settings(getattr(args, "config", None))
    except SettingsError as exc:
        if args.command not in _NO_SETTINGS:
            print(f"{PROG}: {exc}", file=err)
            return 2
        settings = None
    with _logging(args, settings, err):
        wiring = Wiring(
            settings or Settings(),
            catalog_dirs=args.catalog_dir,
            state=getattr(args, "state", None),
            stream=err,
        )
        with wiring:
            return _dispatch(args, wiring, out, err)


def _logging(
    args: argparse.Namespace, settings: Settings | None, err: TextIO
) -> contextlib.AbstractContextManager[None]:
    """Log lines go to ``err``: format and level from the flags, else the settings."""
    fmt = args.log_format or (settings.logging.format if settings is not None else "text")
    level = args.log_level or (settings.logging.level if settings is not None else None)
    level = level or ("info" if args.command == "serve" else "warning")
    secrets = settings.secret_values() if settings is not None else ()
    return logs.configured(fmt, level, stream=err, secrets=secrets)


def _dispatch(args: argparse.Namespace, wiring: Wiring, out: TextIO, err: TextIO) -> int:
    try:
        code: int = args.run(args, wiring, out, err)
    except (UsageError, SetupError) as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 2
    except CatalogError as exc:  # the built-in catalog or a --catalog-dir cannot be loaded
        print(f"{PROG}: {exc}", file=err)
        return 1
    except BrokenPipeError:
        # The reader went away (``netadvisor ... | head``): stop quietly, as Unix tools do.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        # The state database failing under a command (a full disk, a database stopped in the
        # middle of a scan) is one line, not a chain of driver tracebacks.
        fault = describe_fault(exc)
        if fault is None:
            raise
        print(f"{PROG}: state database: {fault}", file=err)
        return 1
    return code
