"""What the commands share: the usage error, the parser class, flag groups and argument types.

Every command module imports from here and from nowhere else in :mod:`bot.cli`; commands never
import each other.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any, NoReturn, TextIO

from argcomplete.completers import ChoicesCompleter

from advisories.catalog import load_catalog
from advisories.derive import OS_RELEASES, parse_os
from advisories.facts import COMPONENTS, FACTS, FEATURES, FactError, FactKind, Facts, parse_fact
from advisories.models import Severity
from advisories.planning import Change
from advisories.planning import parse_change as core_parse_change
from bot.settings import SettingsError
from bot.wiring import Fleet, FleetFlags, Wiring
from jobs.inventory.run import FleetError, check_names
from jobs.store import Store

__all__ = [
    "NOT_DELIVERED",
    "PROG",
    "Parser",
    "UsageError",
    "VersionAction",
    "add_config_flag",
    "add_fact_flags",
    "add_fleet_flags",
    "add_output_flag",
    "add_settings_flags",
    "add_severity_flag",
    "add_state_flag",
    "config_mutes",
    "described_components",
    "did_you_mean",
    "facts_from_args",
    "fleet_flags",
    "parse_change",
    "positive_float",
    "positive_int",
    "prepare_fleet",
    "severe_enough",
]

PROG = "netadvisor"
NOT_DELIVERED = 3
"""Exit code of ``scan`` and ``digest``: messages could not be delivered for a reason retrying
will not fix (the error names the channel and the fix)."""

# Which described facts put a component in scope of the human report.
_COMPONENT_FACTS = {
    "kube-proxy": {"kubernetes", "kube-proxy", "proxy-mode", "iptables-version"},
    "calico": {"calico", "calico-encapsulation", "calico-iptables-backend"},
    "spiderpool": {"spiderpool"},
}


class UsageError(Exception):
    """A command-line argument is wrong; the message names it. The command exits 2."""


class VersionAction(argparse.Action):
    """``--version``: the package's version and the built-in catalog's."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("nargs", 0)
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        try:
            package = metadata.version("netadvisor")
        except metadata.PackageNotFoundError:  # run from a checkout that is not installed
            package = "unknown"
        print(f"{PROG} {package} (catalog {load_catalog().version})")
        parser.exit(0)


class Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and the usage on standard error for every error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean KP-IPVS-CONN-REUSE?)`` for a mistyped or partial name, else ``""``.

    A name that contains the word (``ipvs``), or that the word's parts all appear in, counts
    before a merely similar spelling."""
    names = list(known)
    lowered = word.lower()
    contains = [n for n in names if lowered and lowered in n.lower()]
    parts = [p for p in lowered.replace("_", "-").split("-") if p]
    if not contains and parts:
        contains = [n for n in names if all(p in n.lower() for p in parts)]
    close = difflib.get_close_matches(word.upper(), [n.upper() for n in names], n=3, cutoff=0.6)
    by_upper = {n.upper(): n for n in names}
    found = contains[:3] or [by_upper[c] for c in close]
    if not found:
        return ""
    return f" (did you mean {' or '.join(found)}?)"


# ---------------------------------------------------------------------------------------------
# Argument types


def positive_int(text: str) -> int:
    """A whole number from 1 to 1000."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, got {text!r}")
    return int(text)


def positive_float(text: str) -> float:
    """A positive number of seconds, under a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


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


def parse_change(text: str, flag: str = "--set") -> Change:
    """``KEY=VALUE`` of ``--set`` (:func:`advisories.planning.parse_change`); ``flag`` names the
    argument in the error."""
    try:
        return core_parse_change(text)
    except FactError as exc:
        if str(exc).startswith(f"{text}: "):
            raise UsageError(f"argument {flag}: {text!r} is not KEY=VALUE") from None
        message = str(exc).removeprefix("os: ")
        raise UsageError(f"argument {flag}: {message}") from None


# ---------------------------------------------------------------------------------------------
# Flag groups


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
        action = group.add_argument(
            *flags,
            dest="facts",
            action="append",
            type=_fact_type(spec.key),
            metavar=metavar,
            help=spec.description + (" (repeatable)" if spec.kind is FactKind.SET else ""),
        )
        if spec.values:  # shell completion offers the values (argcomplete reads .completer)
            action.completer = ChoicesCompleter({v: v for v in spec.values})  # type: ignore[attr-defined]
    for flag, state in (("--feature", "on"), ("--no-feature", "off")):
        action = group.add_argument(
            flag,
            action="append",
            default=[],
            type=_feature_type,
            metavar="NAME",
            help=f"a feature that is {state} (repeatable)",
        )
        features = {name: spec.description for name, spec in FEATURES.items()}
        action.completer = ChoicesCompleter(features)  # type: ignore[attr-defined]


def add_severity_flag(parser: argparse.ArgumentParser) -> None:
    """``--severity LEVEL``: only advisories at least this severe are shown (and fail)."""
    parser.add_argument(
        "--severity",
        choices=[s.value for s in sorted(Severity, key=lambda s: s.rank)],
        help="only advisories at least this severe (their worst case that may hold); "
        "--fail-on counts only those",
    )


def severe_enough(severity: Severity | None, minimum: str | None) -> bool:
    """Whether a result of ``severity`` passes ``--severity minimum`` (an advisory whose cases
    that may hold carry no severity passes only when no minimum is given)."""
    if minimum is None:
        return True
    return severity is not None and severity.rank >= Severity(minimum).rank


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    """``--config PATH``, the same for every command that reads the settings."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $NETADVISOR_CONFIG, else "
        "$XDG_CONFIG_HOME/netadvisor/config.yaml)",
    )


def add_state_flag(parser: argparse.ArgumentParser) -> None:
    """``--state URL``, the same for every command (see :mod:`bot.wiring`)."""
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


def add_fleet_flags(parser: argparse.ArgumentParser) -> None:
    """Where clusters come from, how many are read at once, how long one may take."""
    group = parser.add_argument_group("where clusters come from (first that applies)")
    group.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $NETADVISOR_CONFIG, else "
        "$XDG_CONFIG_HOME/netadvisor/config.yaml)",
    )
    group.add_argument(
        "--kubeconfig",
        action="append",
        default=[],
        metavar="PATH",
        help="read every context of this kubeconfig, or those of --context (repeatable)",
    )
    group.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="NAME",
        help="read this context (repeatable; of --kubeconfig, else of "
        "$KUBECONFIG or ~/.kube/config)",
    )
    group.add_argument(
        "--dump",
        action="append",
        default=[],
        metavar="PATH",
        help="read a dump bundle or a `kubectl get -o json` List (repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        help="clusters read at the same time (default 16)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        help="time one cluster may take in all (default 30)",
    )


def add_output_flag(parser: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    """``--output FORMAT`` (``-o``), and ``--json`` as a synonym of ``--output json``."""
    parser.add_argument(
        "-o",
        "--output",
        choices=formats,
        default="text",
        help="text (default), " + ", ".join(f for f in formats if f != "text"),
    )
    parser.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        help="print one JSON object (and nothing else) on standard output; = --output json",
    )


def fleet_flags(args: argparse.Namespace) -> FleetFlags:
    """The fleet named by :func:`add_fleet_flags`' flags."""
    return FleetFlags(tuple(args.kubeconfig), tuple(args.context), tuple(args.dump))


def prepare_fleet(args: argparse.Namespace, w: Wiring, err: TextIO) -> Fleet | int:
    """The fleet of :func:`add_fleet_flags`, said on ``err``; an exit code when it cannot be
    read (two clusters with one name: 2; no clusters: 1)."""
    fleet = w.fleet(fleet_flags(args))
    try:
        check_names(fleet.targets)
    except FleetError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 2
    if not fleet.targets:
        print(f"{PROG}: error: no clusters to read from {fleet.source}", file=err)
        return 1
    count = len(fleet.targets)
    print(f"{PROG}: reading {count} cluster{'s' if count != 1 else ''} from {fleet.source}",
          file=err)  # fmt: skip
    return fleet


def config_mutes(w: Wiring, store: Store, err: TextIO) -> bool:
    """Apply the configuration's ``mutes:`` to ``store``, saying what changed; False (after
    printing why) when an entry names an unknown advisory."""
    try:
        synced = w.apply_config_mutes(store)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=err)
        return False
    if synced.added or synced.lifted:
        print(f"{PROG}: mutes from the configuration: {len(synced.added)} added, "
              f"{len(synced.lifted)} lifted, {synced.kept} unchanged", file=err)  # fmt: skip
    return True


# ---------------------------------------------------------------------------------------------
# Facts from flags


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
