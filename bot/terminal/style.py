"""Colour on a terminal: verdicts, severities and headlines highlighted with rich.

Text is rendered plain first (what a pipe, a file or a test receives); on a TTY, unless
``NO_COLOR`` is set (https://no-color.org), the same text is printed through rich with a
highlighter, so colour never changes what the words say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TextIO

from rich.console import Console
from rich.highlighter import RegexHighlighter
from rich.table import Table
from rich.theme import Theme

__all__ = ["Painter"]

_THEME: Final = Theme(
    {
        "netadvisor.affected": "bold red",
        "netadvisor.unknown": "bold yellow",
        "netadvisor.ok": "green",
        "netadvisor.critical": "bold white on red",
        "netadvisor.high": "bold red",
        "netadvisor.medium": "yellow",
        "netadvisor.low": "cyan",
        "netadvisor.cluster": "bold",
        "netadvisor.demo": "bold magenta",
    }
)


class _Verdicts(RegexHighlighter):
    """What a person looks for first: verdicts, severities, cluster headers, demo labels."""

    base_style = "netadvisor."
    highlights = [  # noqa: RUF012 (rich reads the class attribute)
        r"(?P<affected>\bAFFECTED\b|^Not safe:|^不安全|\baffected\b(?= ->| →|,))",
        r"(?P<unknown>\bUNKNOWN\b|^It depends\b|^视情况而定|\bmay hold\b)",
        r"(?P<ok>^Safe:|^安全|\bnot_affected\b|(?<= )ok(?= |$))",
        r"(?P<critical>\[critical\]|\bCRITICAL\b)",
        r"(?P<high>\[high\]|\bHIGH\b)",
        r"(?P<medium>\[medium\]|\bMEDIUM\b)",
        r"(?P<low>\[low\]|\bLOW\b)",
        r"(?P<cluster>^== \S+)",
        r"(?P<demo>DEMO DATA)",
    ]


class Painter:
    """Prints a command's text on ``out``: coloured on a terminal, plain everywhere else."""

    def __init__(self, out: TextIO, *, no_color: bool = False) -> None:
        self.out = out
        isatty = getattr(out, "isatty", None)
        self.colour = bool(isatty is not None and isatty()) and not no_color

    def _console(self) -> Console:
        return Console(
            file=self.out,
            theme=_THEME,
            highlighter=_Verdicts(),
            force_terminal=True,
            soft_wrap=True,
            emoji=False,
        )

    def print(self, text: str) -> None:
        """The text, highlighted on a terminal."""
        if not self.colour:
            print(text, file=self.out)
            return
        self._console().print(text, markup=False, highlight=True)

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> bool:
        """A table on a terminal (True); False when plain text should be printed instead."""
        if not self.colour:
            return False
        table = Table(title=title, title_justify="left", highlight=True, show_edge=False)
        for name in header:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*row)
        self._console().print(table)
        return True
