"""``netadvisor ask``: a plain-language question answered from the catalog (and the last scan
for questions that name a cluster), the same answer ``/netadvisor ask`` gives."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any, TextIO

from advisories.answers import answer
from advisories.questions import parse_question
from bot.cli.flags import PROG, add_settings_flags, add_severity_flag
from bot.terminal import json as documents
from bot.wiring import Wiring
from jobs.scan import last_scan
from jobs.store import StoreError

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``ask``."""
    ask = commands.add_parser(
        "ask",
        help="answer a question in plain language (English or Chinese)",
        description='Answer a question such as "is kernel 5.4 safe for IPVS?" from the catalog '
        "(and the last scan for questions that name a cluster).",
    )
    ask.set_defaults(run=run)
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    add_severity_flag(ask)
    ask.add_argument(
        "--all",
        action="store_true",
        help="show every advisory that may hold, not only those the answer names",
    )
    add_settings_flags(ask)


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor ask "QUESTION" [--json]``."""
    catalog = w.catalog
    unavailable = None
    try:
        clusters = last_scan(w.existing_store(w.database()))
    except StoreError as exc:
        # The catalog still answers what needs no cluster; the configured names still let a
        # question about a cluster be recognised (and said to be unanswerable now).
        print(f"{PROG}: warning: {exc}", file=err)
        unavailable = "the state store did not answer"
        clusters = {}
    names = tuple(clusters) or tuple(c.name for c in w.settings.fleet.clusters)
    question = parse_question(
        args.question, clusters=names, advisory_ids=[a.id for a in catalog.advisories]
    )
    if args.severity:  # as "anything critical?" in the question
        question = replace(question, severity=args.severity)
    ans = answer(
        question,
        catalog,
        engine=w.engine,
        clusters=clusters,
        show_all=args.all,
        unavailable=unavailable,
    )
    if args.json:
        documents.dump(documents.answer(ans), out)
    else:
        w.painter(out).print(ans.text())
    # A question about a cluster was not answered: say so in the exit code too.
    return 1 if unavailable is not None and question.clusters else 0
