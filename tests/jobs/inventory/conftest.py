"""Fixtures: one fake API server per scenario, kubeconfigs with token and exec credentials."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from advisories.fleet import ClusterFacts
from jobs.inventory.port import ReadContext, Snapshot
from tests.jobs.inventory.scenarios import SCENARIOS
from tests.servers.kubeapi import KubeAPIServer, exec_plugin, write_kubeconfig


@dataclass
class Fleet:
    """The scenario servers and a kubeconfig with one context per scenario."""

    servers: dict[str, KubeAPIServer]
    tokens: dict[str, str]
    kubeconfig: Path
    directory: Path

    def secrets(self) -> list[str]:
        return list(self.tokens.values())


def new_token() -> str:
    """A long random bearer token (so that finding it in output cannot be a coincidence)."""
    return "tok-" + secrets.token_urlsafe(32)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Every scenario served on 127.0.0.1 over TLS, each with its own CA (kubectl sends bearer
    tokens only over TLS); ``eks`` authenticates through an exec credential plugin, the others
    with bearer tokens."""
    directory = tmp_path_factory.mktemp("fleet")
    servers: dict[str, KubeAPIServer] = {}
    tokens: dict[str, str] = {}
    try:
        for name, build in SCENARIOS.items():
            tokens[name] = new_token()
            servers[name] = KubeAPIServer(build(), token=tokens[name], tls=True)
        entries = []
        for name, server in servers.items():
            user: object = tokens[name]
            if name == "eks":
                user = exec_plugin(directory / "eks-plugin.py", tokens[name])
            entries.append((name, server, user))
        kubeconfig = write_kubeconfig(directory / "kubeconfig.yaml", entries)
        yield Fleet(servers, tokens, kubeconfig, directory)
    finally:
        for server in servers.values():
            server.stop()


def read_snapshot(reader: object, timeout: float = 20.0) -> Snapshot:
    """Read one cluster outside the runner."""
    return reader.read(ReadContext(deadline=time.monotonic() + timeout))  # type: ignore[attr-defined]


def same_facts(cluster: ClusterFacts) -> ClusterFacts:
    """The cluster without what depends on how it was named or read (for comparisons)."""
    return replace(cluster, name="-", aliases=())
