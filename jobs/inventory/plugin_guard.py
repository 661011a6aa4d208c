"""Runs one exec credential plugin in a process group of its own and kills the group at a deadline.

The ``kubernetes`` client runs a kubeconfig's exec credential plugin (``users[].user.exec``)
itself, with ``subprocess.Popen`` and no timeout: a plugin that hangs (a browser login nobody
completes, an SSO agent that never answers) would outlive the cluster's deadline and the process
that started it. :mod:`jobs.inventory.kube` therefore rewrites each exec entry so that the client
runs this script instead (``python -I -S plugin_guard.py DEADLINE COMMAND ARGS...``), which

- starts ``COMMAND ARGS...`` in a new session (its own process group), with the environment,
  working directory, standard input and output it was given itself;
- passes the plugin's exit code through when it ends in time, and then kills what the plugin
  left running in its group (a credential plugin is a one-shot command);
- kills the whole group (SIGKILL) at ``DEADLINE`` (seconds since the epoch), when the process that
  started it goes away, or on SIGTERM, SIGINT or SIGHUP, and exits 124;
- exits 127 when ``COMMAND`` cannot be found or run.

Its messages on standard error start with :data:`MARK` so that the reader can tell them from the
plugin's own. Standard library only: it runs with ``-I -S`` for a fast start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Final

__all__ = ["DEADLINE_EXIT", "MARK", "NOT_FOUND_EXIT", "main"]

MARK: Final = "netadvisor plugin guard: "
DEADLINE_EXIT: Final = 124
NOT_FOUND_EXIT: Final = 127
_POLL: Final = 0.1


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pgid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    """``plugin_guard.py DEADLINE COMMAND [ARGS...]``; the exit code to leave with."""
    if len(argv) < 2:
        print(f"{MARK}usage: plugin_guard.py DEADLINE COMMAND [ARGS...]", file=sys.stderr)
        return 2
    deadline = float(argv[0])
    command = argv[1:]
    parent = os.getppid()
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        plugin = subprocess.Popen(command, start_new_session=True)
    except FileNotFoundError:
        print(f"{MARK}command {command[0]!r} was not found", file=sys.stderr)
        return NOT_FOUND_EXIT
    except PermissionError:
        print(f"{MARK}command {command[0]!r} is not executable", file=sys.stderr)
        return NOT_FOUND_EXIT
    except OSError as exc:
        print(f"{MARK}command {command[0]!r} cannot be run: {exc.strerror}", file=sys.stderr)
        return NOT_FOUND_EXIT
    while True:
        left = deadline - time.time()
        try:
            code = plugin.wait(timeout=max(0.0, min(_POLL, left)))
        except subprocess.TimeoutExpired:
            if left > 0 and not stopping and os.getppid() == parent:
                continue
            _kill_group(plugin.pid)
            plugin.wait()
            why = "the cluster's deadline" if left <= 0 else "netadvisor stopped reading"
            print(f"{MARK}the plugin did not answer; killed at {why}", file=sys.stderr)
            return DEADLINE_EXIT
        _kill_group(plugin.pid)
        return code if code >= 0 else 128 - code  # killed by a signal: as a shell reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
