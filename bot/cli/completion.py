"""``netadvisor completion bash|zsh|fish``: the shell code that completes netadvisor's commands,
flags and their values (argcomplete, generated from the parser at completion time)."""

from __future__ import annotations

import argparse
from typing import Any, Final, TextIO

from argcomplete.shell_integration import shellcode

from bot.cli.flags import PROG
from bot.wiring import Wiring

__all__ = ["register", "run"]

SHELLS: Final = ("bash", "zsh", "fish")

_HOW: Final = {
    "bash": 'eval "$(netadvisor completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(netadvisor completion zsh)"    # in ~/.zshrc',
    "fish": "netadvisor completion fish | source   # in ~/.config/fish/config.fish",
}


def register(commands: Any) -> None:
    """Add ``completion``."""
    completion = commands.add_parser(
        "completion",
        help="print shell completion code (bash, zsh or fish)",
        description="Print the code that makes your shell complete netadvisor's commands, "
        "flags and choices. " + " ; ".join(_HOW.values()),
    )
    completion.set_defaults(run=run)
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """Print the completion code for ``args.shell``."""
    out.write(f"# {_HOW[args.shell]}\n")
    out.write(shellcode([PROG], shell=args.shell))
    return 0
