"""``netadvisor inventory``: read the fleet and show what the advisories depend on.

Where clusters come from, first that applies: the ``--kubeconfig`` / ``--context`` / ``--dump``
flags; the configuration file's ``clusters:``; the in-cluster service account; ``$KUBECONFIG`` or
``~/.kube/config`` (every context); else the bundled demo fleet, labelled as demo data wherever
it shows. The source is said on standard error at start.

Exit codes: 0 when the run completed, even if some clusters could not be read (they are
reported); 1 when no cluster could be read; 2 for usage errors (bad flags, a bad configuration
file, two clusters with one name).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from advisories.fleet import ClusterStatus
from bot.cli.flags import PROG, add_fleet_flags, add_output_flag, prepare_fleet
from bot.report.tables import inventory_html, inventory_markdown
from bot.terminal import json as documents
from bot.terminal.fleet import ProgressBar, render_inventory
from bot.wiring import Wiring
from jobs.inventory.dumps import dump_script
from jobs.inventory.run import read_fleet

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``inventory``."""
    inventory = commands.add_parser(
        "inventory",
        help="read the fleet: versions, modes, features and nodes of every cluster",
        description="Read every cluster of the fleet (read-only) and show what the advisories "
        "depend on, with where each fact was read or why it is unknown.",
    )
    inventory.set_defaults(run=run)
    add_fleet_flags(inventory)
    add_output_flag(inventory, ("text", "json", "markdown", "html"))
    inventory.add_argument(
        "--print-dump-command",
        action="store_true",
        help="print a POSIX sh script that dumps a cluster with kubectl "
        "(for clusters netadvisor cannot reach), and exit",
    )


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor inventory``."""
    if args.print_dump_command:
        out.write(dump_script())
        return 0
    fleet = prepare_fleet(args, w, err)
    if isinstance(fleet, int):
        return fleet
    settings = w.settings
    bar = ProgressBar(err)
    clusters = read_fleet(
        fleet.targets,
        concurrency=args.concurrency or settings.fleet.concurrency,
        timeout=args.timeout or settings.fleet.cluster_timeout,
        progress=bar,
    )
    bar.clear()
    if args.output == "json":
        documents.dump(documents.inventory(clusters), out)
    elif args.output == "markdown":
        out.write(inventory_markdown(documents.inventory(clusters)))
    elif args.output == "html":
        out.write(inventory_html(documents.inventory(clusters)))
    else:
        w.painter(out).print(render_inventory(clusters, {t.name: t.origin for t in fleet.targets}))
    if not any(c.status is ClusterStatus.OK for c in clusters):
        print(f"{PROG}: no cluster could be read", file=err)
        return 1
    return 0
