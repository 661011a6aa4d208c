"""``netadvisor check``: verdicts of every advisory for the facts a person states."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from advisories.derive import resolve
from advisories.engine import Result
from advisories.fixes import find_fixes
from advisories.models import Verdict
from bot.cli.flags import (
    add_fact_flags,
    add_output_flag,
    add_severity_flag,
    described_components,
    facts_from_args,
    severe_enough,
)
from bot.report.markdown import render_check_markdown
from bot.report.tables import check_html
from bot.terminal import catalog as text
from bot.terminal import json as documents
from bot.wiring import Wiring

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``check``."""
    check = commands.add_parser(
        "check",
        help="verdicts of every advisory for a setup you describe (no cluster needed)",
        description="Verdicts of every advisory for the facts you state; facts you do not "
        "state are unknown, and verdicts that depend on them say so.",
    )
    check.set_defaults(run=run)
    add_fact_flags(check)
    add_output_flag(check, ("text", "json", "markdown", "html"))
    check.add_argument(
        "--fail-on",
        choices=("affected", "unknown"),
        help="exit 1 when a verdict of the checked components reaches this level",
    )
    check.add_argument("--lang", choices=("en", "zh"), default="en", help="language of texts")
    add_severity_flag(check)


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """Verdicts for stated facts."""
    catalog = w.catalog
    facts = facts_from_args(args)
    resolved = resolve(facts)
    results = [
        r
        for r in w.engine.evaluate(resolved)
        if r.verdict is Verdict.NOT_AFFECTED or severe_enough(r.severity, args.severity)
    ]
    components = described_components(facts)
    if args.output != "text":
        # Alternatives, best first, that make every at-risk advisory in scope not affected.
        at_risk = [
            r.id
            for r in results
            if r.verdict is not Verdict.NOT_AFFECTED and r.advisory.component in components
        ]
        fixes = find_fixes(w.engine, [facts], at_risk, strict=True)
        document = documents.check(catalog, resolved.facts, components, results, args.lang, fixes)
        if args.output == "markdown":
            out.write(render_check_markdown(document))
        elif args.output == "html":
            out.write(check_html(document))
        else:
            documents.dump(document, out)
    else:
        w.painter(out).print(text.render_check(results, components, catalog.version, args.lang))
    return _fail_level(results, components, args.fail_on)


def _fail_level(results: Sequence[Result], components: Sequence[str], level: str | None) -> int:
    if level is None:
        return 0
    threshold = Verdict(level).rank
    in_scope = [r for r in results if r.advisory.component in components]
    return 1 if any(r.verdict.rank >= threshold for r in in_scope) else 0
