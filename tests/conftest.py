"""What every test starts from: a fresh machine, and one way to run the command line.

- :func:`fresh_machine` (autouse): no netadvisor, Slack, GitHub or Kubernetes variables (the
  PostgreSQL test URL that ``.ci/run`` exports is kept), no configuration file, ``HOME`` and the
  state directory under the test's own ``tmp_path``; so no test reads the developer's
  ``~/.kube/config`` or state, and tests do not see each other's.
- :func:`cli`: runs ``netadvisor`` in-process (see :func:`tests.runner.run`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runner import run
from tests.state_databases import PG_VARIABLE

_SCRUBBED = ("NETADVISOR_", "SLACK_", "GITHUB_", "KUBE", "XDG_")


@pytest.fixture(autouse=True)
def fresh_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh machine: nothing configured, state under ``tmp_path``; returns ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED) and name != PG_VARIABLE:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


@pytest.fixture
def cli() -> Callable[..., tuple[int, str, str]]:
    """``cli("scan", "--json")`` -> (exit code, standard output, standard error)."""
    return run
