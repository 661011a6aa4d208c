"""The command line run in-process, as the tests drive it."""

from __future__ import annotations

import io

from bot.cli import main

__all__ = ["run"]


def run(
    *argv: str, out: io.StringIO | None = None, err: io.StringIO | None = None
) -> tuple[int, str, str]:
    """Run ``netadvisor ARGV...``; returns (exit code, standard output, standard error).
    ``out`` and ``err`` may be streams of the test's own (a fake terminal)."""
    out = out if out is not None else io.StringIO()
    err = err if err is not None else io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()
