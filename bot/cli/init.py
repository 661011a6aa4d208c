"""``netadvisor init``: a commented ``config.yaml`` from a kubeconfig's contexts (one cluster per
context, the Slack and schedule settings commented out); never overwrites a file."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from bot.cli.flags import PROG
from bot.scaffold import ScaffoldError, render_config, write_config
from bot.settings import config_path
from bot.wiring import Wiring
from jobs.inventory.kube import list_contexts
from jobs.inventory.port import InventoryError

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``init``."""
    init = commands.add_parser(
        "init",
        help="write a commented config.yaml from kubeconfig contexts",
        description="Write a configuration with one cluster per kubeconfig context and the "
        "Slack and schedule settings commented out. Never overwrites a file.",
    )
    init.set_defaults(run=run)
    init.add_argument(
        "--config",
        dest="target",
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


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor init``."""
    kubeconfig = args.kubeconfig or w.settings.environment.default_kubeconfig()
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
    path = config_path(args.target)
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
