"""The ``netadvisor`` command line: the composition root for one-shot commands.

Exit codes: 0 when the command completed (whatever the verdicts, unless ``--fail-on``), 1 when a
``--fail-on`` level was reached or nothing could be done, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, Protocol, TextIO

from advisories.catalog import Catalog, CatalogError, load_catalog
from advisories.derive import OS_RELEASES, parse_os, resolve
from advisories.engine import Engine, Result
from advisories.facts import COMPONENTS, FACTS, FEATURES, FactError, FactKind, Facts, parse_fact
from advisories.fixes import find_fixes
from advisories.models import Verdict
from advisories.osv import to_osv
from advisories.serialize import advisory_to_json, facts_to_json, fix_to_json, result_to_json
from bot import logs, terminal
from bot.settings import SettingsError, load_settings

__all__ = [
    "add_config_flag",
    "add_fact_flags",
    "add_settings_flags",
    "add_state_flag",
    "build_parser",
    "main",
]

PROG = "netadvisor"

# Which described facts put a component in scope of the human report.
_COMPONENT_FACTS = {
    "kube-proxy": {"kubernetes", "kube-proxy", "proxy-mode", "iptables-version"},
    "calico": {"calico", "calico-encapsulation", "calico-iptables-backend"},
    "spiderpool": {"spiderpool"},
}


class UsageError(Exception):
    """A command-line argument is wrong; the message names it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fact_type(key: str) -> Any:
    def parse(text: str) -> tuple[str, str]:
        try:
            parse_fact(key, text)
        except FactError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None
        return key, text

    parse.__name__ = key
    return parse


def _os_type(text: str) -> str:
    if parse_os(text) is None:
        known = ", ".join(r.name for r in OS_RELEASES)
        raise argparse.ArgumentTypeError(f"unknown OS release {text!r} (known: {known})")
    return text


def _feature_type(text: str) -> str:
    name = text.strip().lower()
    if name not in FEATURES:
        raise argparse.ArgumentTypeError(
            f"unknown feature {text!r} (valid: {', '.join(sorted(FEATURES))})"
        )
    return name


def add_fact_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per fact key (aliases as extra flags), plus --feature / --no-feature."""
    group = parser.add_argument_group("facts (anything not given is unknown)")
    for spec in FACTS.values():
        flags = [f"--{spec.key}"] + [f"--{a}" for a in spec.aliases if a in ("k8s", "mode")]
        if spec.kind is FactKind.TEXT:
            group.add_argument(*flags, dest="os", type=_os_type, metavar="RELEASE",
                               help=spec.description)  # fmt: skip
            continue
        metavar = "VERSION"
        if spec.kind is FactKind.ENUM:
            metavar = "{" + ",".join(spec.values) + "}"
        elif spec.kind is FactKind.SET:
            metavar = "ENCAP"
        elif spec.kind is FactKind.KERNEL:
            metavar = "KERNEL"
        group.add_argument(
            *flags,
            dest="facts",
            action="append",
            type=_fact_type(spec.key),
            metavar=metavar,
            help=spec.description + (" (repeatable)" if spec.kind is FactKind.SET else ""),
        )
    group.add_argument("--feature", action="append", default=[], type=_feature_type,
                       metavar="NAME", help="a feature that is on (repeatable)")  # fmt: skip
    group.add_argument("--no-feature", action="append", default=[], type=_feature_type,
                       metavar="NAME", help="a feature that is off (repeatable)")  # fmt: skip


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    """``--config PATH``, the same for every command that reads the settings."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $NETADVISOR_CONFIG, else "
        "$XDG_CONFIG_HOME/netadvisor/config.yaml)",
    )


def add_state_flag(parser: argparse.ArgumentParser) -> None:
    """``--state URL``, the same for every command (see :func:`bot.state.state_database`)."""
    parser.add_argument(
        "--state",
        metavar="URL",
        help="state database URL for this run (default: $NETADVISOR_DATABASE_URL or database: "
        "in the configuration, else state.db under $XDG_STATE_HOME/netadvisor; demo.db for the "
        "demo fleet)",
    )


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """``--config PATH`` and ``--state URL``, for the commands that read both."""
    add_config_flag(parser)
    add_state_flag(parser)


def facts_from_args(args: argparse.Namespace) -> Facts:
    """Build Facts from the flags of :func:`add_fact_flags`."""
    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    encaps: set[str] = set()
    for key, text in args.facts or []:
        canonical, domain, _ = parse_fact(key, text)
        if canonical == "calico-encapsulation":
            encaps.update(v.strip().lower() for v in text.replace("+", ",").split(","))
            continue
        values[canonical] = domain
        raw[canonical] = text
    if encaps:
        values["calico-encapsulation"] = frozenset({frozenset(encaps)})
        raw["calico-encapsulation"] = ",".join(sorted(encaps))
    os_name = None
    if getattr(args, "os", None):
        release = parse_os(args.os)
        os_name = release.name if release else None
        raw["os"] = args.os
    both = set(args.feature) & set(args.no_feature)
    if both:
        raise UsageError(f"argument --feature/--no-feature: {sorted(both)[0]} given as both")
    for name in args.feature:
        values[name] = frozenset({True})
    for name in args.no_feature:
        values[name] = frozenset({False})
    return Facts(values=values, raw=raw, os_name=os_name)


def described_components(facts: Facts) -> list[str]:
    """Components the user said something about; all of them when none."""
    described = [c for c in COMPONENTS if _COMPONENT_FACTS[c] & set(facts.values)]
    for name in facts.values:
        if name in FEATURES and FEATURES[name].component not in described:
            described.append(FEATURES[name].component)
    return described or list(COMPONENTS)


def _fail_level(results: Sequence[Result], components: Sequence[str], level: str | None) -> int:
    if level is None:
        return 0
    threshold = Verdict(level).rank
    in_scope = [r for r in results if r.advisory.component in components]
    return 1 if any(r.verdict.rank >= threshold for r in in_scope) else 0


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(
        prog=PROG,
        description="Known kube-proxy, Calico and Spiderpool network issues, checked against "
        "versions, kernels and modes.",
        epilog=f"'{PROG} COMMAND --help' shows a command's flags. With nothing configured, "
        "scan reads the bundled demo fleet and prints instead of posting.",
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    catalog = commands.add_parser(
        "catalog",
        help="list, show, validate and export the advisories",
        description="The advisory catalog: the built-in advisories plus those of --catalog-dir.",
    )
    sub = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", parser_class=_Parser)
    sub.required = True
    sub.add_parser("list", help="one line per advisory")
    show = sub.add_parser("show", help="everything about one advisory")
    show.add_argument("id", help="advisory id, e.g. KP-IPVS-CONN-REUSE")
    show.add_argument("--json", action="store_true", help="netadvisor's JSON schema")
    sub.add_parser("features", help="the feature names --feature and --no-feature take")
    validate = sub.add_parser(
        "validate", help="check a directory of advisories, naming file, id and field of errors"
    )
    validate.add_argument("path", nargs="?", help="directory (default: the built-in catalog)")
    export = sub.add_parser("export", help="print the whole catalog as JSON or OSV records")
    export.add_argument(
        "--format",
        choices=("json", "osv"),
        default="json",
        help="netadvisor's JSON (default) or a list of OSV records",
    )

    check = commands.add_parser(
        "check",
        help="verdicts of every advisory for a setup you describe (no cluster needed)",
        description="Verdicts of every advisory for the facts you state; facts you do not "
        "state are unknown, and verdicts that depend on them say so.",
    )
    add_fact_flags(check)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument(
        "--fail-on",
        choices=("affected", "unknown"),
        help="exit 1 when a verdict of the checked components reaches this level",
    )
    check.add_argument("--lang", choices=("en", "zh"), default="en", help="language of texts")
    for module in _command_modules():
        module.register(commands)
    return parser


class CommandModule(Protocol):
    """A module that adds subcommands: ``register`` adds parsers, ``HANDLERS`` runs them."""

    HANDLERS: Mapping[str, Callable[[argparse.Namespace, TextIO, TextIO], int]]

    def register(self, commands: Any) -> None:
        """Add this module's subparsers to ``commands``."""


def _command_modules() -> list[CommandModule]:
    """Subcommands that live in their own modules (one per area of the program)."""
    modules: list[CommandModule] = []
    for name in _EXTRA_COMMAND_MODULES:
        modules.append(importlib.import_module(name))
    return modules


# Modules listed here add subcommands (inventory, scan, serve, ...), see CommandModule.
_EXTRA_COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli_ask",
    "bot.cli_inventory",
    "bot.cli_upstream",
    "bot.cli_service",
)


def _load(args: argparse.Namespace, err: TextIO) -> Catalog | None:
    try:
        return load_catalog(args.catalog_dir)
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=err)
        return None


def cmd_catalog(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor catalog ...``."""
    if args.catalog_command == "validate":
        try:
            catalog = load_catalog([args.path], builtin=False) if args.path else load_catalog()
        except CatalogError as exc:
            print(str(exc), file=err)
            return 1
        print(f"ok: {len(catalog.advisories)} advisories valid (catalog {catalog.version})",
              file=out)  # fmt: skip
        return 0
    if args.catalog_command == "features":
        print(terminal.render_features(), file=out)
        return 0
    loaded = _load(args, err)
    if loaded is None:
        return 1
    catalog = loaded
    if args.catalog_command == "list":
        print(terminal.render_list(catalog), file=out)
    elif args.catalog_command == "show":
        advisory = catalog.get(args.id)
        if advisory is None:
            ids = ", ".join(a.id for a in catalog.advisories)
            print(f"{PROG}: argument id: unknown advisory {args.id!r} (known: {ids})", file=err)
            return 2
        if args.json:
            data = {"catalog_version": catalog.version, **advisory_to_json(advisory)}
            print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
        else:
            print(terminal.render_advisory(advisory, catalog.version), file=out)
    elif args.catalog_command == "export":
        if args.format == "osv":
            now = datetime.now(UTC).replace(microsecond=0)
            records = [to_osv(a, now, catalog.version) for a in catalog.advisories]
            print(json.dumps(records, indent=2, ensure_ascii=False), file=out)
        else:
            data = {
                "catalog_version": catalog.version,
                "advisories": [advisory_to_json(a) for a in catalog.advisories],
            }
            print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    return 0


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``netadvisor check``: verdicts for stated facts."""
    catalog = _load(args, err)
    if catalog is None:
        return 1
    facts = facts_from_args(args)
    resolved = resolve(facts)
    results = Engine(catalog.advisories).evaluate(resolved)
    components = described_components(facts)
    if args.json:
        data = {
            "catalog_version": catalog.version,
            "facts": facts_to_json(resolved.facts),
            "components": components,
            "results": [result_to_json(r, args.lang) for r in results],
            "safe_with": check_safe_with(catalog, facts, results, components, args.lang),
        }
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        print(terminal.render_check(results, components, catalog.version, args.lang), file=out)
    return _fail_level(results, components, args.fail_on)


def check_safe_with(
    catalog: Catalog,
    facts: Facts,
    results: Sequence[Result],
    components: Sequence[str],
    language: str,
) -> list[dict[str, Any]]:
    """Alternatives, best first, that make every at-risk advisory in scope not affected."""
    at_risk = [
        r.id
        for r in results
        if r.verdict is not Verdict.NOT_AFFECTED and r.advisory.component in components
    ]
    fixes = find_fixes(Engine(catalog.advisories), [facts], at_risk, strict=True)
    return [fix_to_json(f, language) for f in fixes]


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:  # fmt: skip
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    for directory in args.catalog_dir:
        if not Path(directory).is_dir():
            print(f"{PROG}: argument --catalog-dir: {directory!r} is not a directory", file=err)
            return 2
    with _logging(args, err):
        return _dispatch(args, out, err)


def _logging(args: argparse.Namespace, err: TextIO) -> contextlib.AbstractContextManager[None]:
    """Log lines go to ``err``: format and level from the flags, else the settings."""
    try:
        settings = load_settings(getattr(args, "config", None))
    except SettingsError:  # the command itself reports a bad configuration
        settings = None
    fmt = args.log_format or (settings.log_format if settings is not None else "text")
    level = args.log_level or (settings.log_level if settings is not None else None)
    level = level or ("info" if args.command == "serve" else "warning")
    secrets = settings.secret_values() if settings is not None else ()
    return logs.configured(fmt, level, stream=err, secrets=secrets)


def _dispatch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        if args.command == "catalog":
            return cmd_catalog(args, out, err)
        if args.command == "check":
            return cmd_check(args, out, err)
        for module in _command_modules():
            if args.command in module.HANDLERS:
                return module.HANDLERS[args.command](args, out, err)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 2
    except BrokenPipeError:
        # The reader went away (``netadvisor ... | head``): stop quietly, as Unix tools do.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    print(f"{PROG}: error: unknown command {args.command!r}", file=err)
    return 2
