"""``netadvisor catalog list | show ID | features | validate [PATH] | export``."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from advisories.catalog import CatalogError, load_catalog
from bot.cli.flags import PROG, did_you_mean
from bot.terminal import catalog as text
from bot.terminal import json as documents
from bot.wiring import Wiring

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``catalog`` and its actions."""
    catalog = commands.add_parser(
        "catalog",
        help="list, show, validate and export the advisories",
        description="The advisory catalog: the built-in advisories plus those of --catalog-dir.",
    )
    catalog.set_defaults(run=run)
    sub = catalog.add_subparsers(dest="catalog_command", metavar="ACTION",
                                 parser_class=type(catalog))  # fmt: skip
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


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor catalog ...``."""
    if args.catalog_command == "validate":
        # DIR is checked as --catalog-dir DIR will load it: beside the built-in advisories, so
        # that an id that duplicates a built-in one is refused here too. Problems in DIR are
        # problems in what the user gave (exit 2); in the built-in catalog, a broken install (1).
        try:
            catalog = load_catalog([args.path]) if args.path else load_catalog()
        except CatalogError as exc:
            print(str(exc), file=err)
            return 2 if args.path else 1
        count = len(catalog.advisories)
        if args.path:
            count -= len(load_catalog().advisories)
        print(f"ok: {count} advisories valid (catalog {catalog.version})", file=out)
        return 0
    if args.catalog_command == "features":
        print(text.render_features(), file=out)
        return 0
    catalog = w.catalog
    if args.catalog_command == "list":
        rows = [
            (a.id, a.component, a.worst_severity.value if a.worst_severity else "-", a.title)
            for a in catalog.advisories
        ]
        title = f"netadvisor catalog {catalog.version}: {len(rows)} advisories"
        if not w.painter(out).table(title, ("ID", "COMPONENT", "SEVERITY", "TITLE"), rows):
            print(text.render_list(catalog), file=out)
    elif args.catalog_command == "show":
        advisory = catalog.get(args.id)
        if advisory is None:
            ids = [a.id for a in catalog.advisories]
            hint = did_you_mean(args.id, ids) or f" (known: {', '.join(ids)})"
            print(f"{PROG}: argument id: unknown advisory {args.id!r}{hint}", file=err)
            return 2
        if args.json:
            _print_json(documents.advisory(catalog, advisory), out)
        else:
            w.painter(out).print(text.render_advisory(advisory, catalog.version))
    elif args.catalog_command == "export":
        if args.format == "osv":
            _print_json(documents.osv_export(catalog, w.now()), out)
        else:
            _print_json(documents.catalog_export(catalog), out)
    return 0


def _print_json(data: Any, out: TextIO) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
