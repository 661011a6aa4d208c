"""Rendering deploy/'s kustomizations with the real ``kubectl kustomize``, for the tests."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

__all__ = [
    "DEPLOY",
    "KUSTOMIZATIONS",
    "REPO",
    "containers",
    "env",
    "find",
    "pod_specs",
    "render",
]

REPO: Final = Path(__file__).resolve().parents[2]
DEPLOY: Final = REPO / "deploy"
KUSTOMIZATIONS: Final = tuple(
    sorted(str(p.parent.relative_to(DEPLOY)) for p in DEPLOY.rglob("kustomization.yaml"))
)
"""Every kustomization under deploy/ (``base``, ``overlays/single-sqlite``, ...)."""

JSON = dict[str, Any]


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        message = "kubectl is not installed: the manifests cannot be rendered"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return kubectl


@functools.cache
def _render(directory: str) -> tuple[JSON, ...]:
    done = subprocess.run(
        [_kubectl(), "kustomize", str(DEPLOY / directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize deploy/{directory}:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render(directory: str) -> list[JSON]:
    """The objects ``kubectl kustomize deploy/<directory>`` prints (a fresh copy each call)."""
    return yaml.safe_load(yaml.safe_dump(list(_render(directory))))  # type: ignore[no-any-return]


def find(docs: list[JSON], kind: str, name: str | None = None) -> list[JSON]:
    """The objects of one kind (and name)."""
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def pod_specs(docs: list[JSON]) -> Iterator[tuple[JSON, JSON]]:
    """``(workload, pod spec)`` for every Deployment and CronJob."""
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield doc, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers(spec: JSON) -> list[JSON]:
    """Init containers and containers of a pod spec."""
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def env(container: JSON) -> dict[str, JSON]:
    """A container's environment by variable name."""
    return {e["name"]: e for e in container.get("env") or []}
