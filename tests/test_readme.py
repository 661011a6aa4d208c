"""The documentation (docs/usage.md, linked from the README) tells the truth about the command
line and the Slack command; the README's first screen keeps its two commands.

- The ``netadvisor --help`` it quotes is what the program prints, at a fixed terminal width of
  :data:`COLUMNS` (argparse wraps to ``$COLUMNS``). Regenerate it with
  ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_readme.py``.
- Every command (and ``catalog`` / ``upstream`` action) its command blocks show exists, and every
  one that exists is shown; the same for the ``/netadvisor`` subcommands.

The settings and permissions tables have their own test: ``tests/jobs/inventory/test_readme.py``.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.slack.listeners.commands import SUBCOMMANDS

README = Path(__file__).resolve().parents[1] / "docs" / "usage.md"
COLUMNS = 100
"""The terminal width the quoted help is rendered at (the project's line length)."""
START, END = "<!-- help:start -->\n```\n", "```\n<!-- help:end -->"


def top_level_help(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", str(COLUMNS))
    monkeypatch.delenv("LINES", raising=False)
    return build_parser().format_help()


def test_the_quoted_help_is_what_netadvisor_help_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    quoted, after = rest.split(END, 1)
    expected = top_level_help(monkeypatch)
    if os.environ.get("UPDATE_GOLDEN") and quoted != expected:
        README.write_text(before + START + expected + END + after, encoding="utf-8")
        quoted = expected
    assert quoted == expected, "run with UPDATE_GOLDEN=1 to regenerate the README's --help"


def test_every_command_has_a_one_line_help_in_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    listing = top_level_help(monkeypatch).split("COMMAND\n", 1)[1].split("\n\n", 1)[0]
    names = list(_commands(build_parser()))
    lines = listing.splitlines()
    assert [line.split()[0] for line in lines] == names  # no help wraps onto a second line
    assert all(len(line.split(None, 1)) == 2 for line in lines)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _commands(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    """Command -> its actions (``catalog list``, ``upstream sync``), empty for plain ones."""
    return {name: set(_subparsers(sub)) for name, sub in _subparsers(parser).items()}


def _code_lines() -> list[str]:
    """Lines of the README's fenced blocks, the quoted ``--help`` left out."""
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    text = before + rest.split(END, 1)[1]
    lines: list[str] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        lines += block.splitlines()
    return lines


def _shown(prefix: str) -> dict[str, set[str]]:
    """Commands (and actions, ``show ID | features`` style) the blocks show after ``prefix``."""
    shown: dict[str, set[str]] = {}
    for line in _code_lines():
        if not line.startswith(prefix + " "):
            continue
        words = [w for w in line[len(prefix) :].split() if not w.startswith("-")]
        if not words:
            continue
        rest = line[len(prefix) :].split(words[0], 1)[1]
        actions = {part.split()[0] for part in rest.split(" | ") if part.split()}
        shown.setdefault(words[0], set()).update(a for a in actions if a.isalpha())
    return shown


def test_every_command_in_the_readme_exists_and_every_command_is_in_the_readme() -> None:
    real = _commands(build_parser())
    shown = _shown("netadvisor")
    assert set(shown) == set(real)
    for command, actions in real.items():
        if actions:
            assert shown[command] == actions, command


def test_every_slack_subcommand_in_the_readme_exists_and_vice_versa() -> None:
    assert set(_shown("/netadvisor")) == set(SUBCOMMANDS)


def test_the_readme_starts_with_the_two_commands_that_work_on_a_fresh_machine() -> None:
    text = (README.parents[1] / "README.md").read_text(encoding="utf-8")
    first_screen = text.split("\n## ", 1)[0]
    assert "pip install -e . && netadvisor scan" in first_screen
    assert "pip install -e '.[test]' && scripts/test" in first_screen
    for page in ("docs/usage.md", "docs/settings.md", "docs/deploying.md"):
        assert f"]({page})" in text and (README.parents[1] / page).is_file()
