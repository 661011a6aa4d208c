"""netadvisor installed from its wheel (not editable) into a fresh virtual environment, and run
with a read-only filesystem except for the paths the container makes writable.

The wheel is built offline from a copy of the source tree; the fresh environment gets the wheel
alone, and finds netadvisor's dependencies in the test environment's site-packages through a
``.pth`` line (a ``.pth`` line adds a path, it does not run the editable install's hooks there).

:func:`readonly_command` runs a command in a private mount namespace (``unshare -m``) in which
every mount is read-only except the given writable directories, like a container with
``readOnlyRootFilesystem`` and two volumes. It needs the right to create mount namespaces
(root here); without it the tests using it are skipped.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import pytest

from tests.deploy.manifests import REPO

__all__ = ["Installed", "install", "readonly_command", "readonly_supported"]

_SOURCES: Final = ("pyproject.toml", "README.md", "advisories", "jobs", "bot")


class Installed:
    """A fresh virtual environment with netadvisor's wheel installed."""

    def __init__(self, root: Path, wheel: Path) -> None:
        self.root = root
        self.wheel = wheel

    @property
    def netadvisor(self) -> Path:
        """The console script the wheel installed."""
        return self.root / "venv" / "bin" / "netadvisor"

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return self.root / "venv" / "bin" / "python"


def install(directory: Path) -> Installed:
    """Build the wheel from a copy of the sources and install it into a new environment."""
    source = directory / "src"
    source.mkdir()
    for name in _SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = directory / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "--quiet", "-w", str(dist), str(source)])  # fmt: skip
    (wheel,) = dist.glob("netadvisor-*.whl")
    venv = directory / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "--quiet", str(wheel)])  # fmt: skip
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
    )  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (purelib / "_netadvisor_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    shutil.rmtree(source)  # nothing of the source tree is left to import by accident
    return Installed(directory, wheel)


def _run(command: Sequence[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout}\n{done.stderr}"


@functools.cache
def readonly_supported() -> bool:
    """Whether this process may make a private mount namespace and remount in it."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = tempfile.mkdtemp(prefix="netadvisor-ro-probe-")
    try:
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe} && "
             f"! touch {probe}/x 2>/dev/null"],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        return done.returncode == 0
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def readonly_command(
    command: Sequence[str],
    *,
    writable: Sequence[Path],
    cwd: Path,
    environ: Mapping[str, str],
    service_account: Path | None = None,
) -> list[str]:
    """``command`` wrapped so that it runs with every mount read-only but ``writable``.

    ``service_account``: a directory with ``token``, ``ca.crt`` and ``namespace``, shown at
    ``/var/run/secrets/kubernetes.io/serviceaccount`` as in a pod (on a private tmpfs over
    ``/run``, in the namespace only).
    """
    if not readonly_supported():
        message = "cannot create a mount namespace here (unshare -m): no read-only run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    lines = ["set -e"]
    if service_account is not None:
        target = "/run/secrets/kubernetes.io/serviceaccount"
        lines += [
            "mount -t tmpfs -o size=1m,mode=755 tmpfs /run",
            f"mkdir -p {target}",
            f"mount --bind {shlex.quote(str(service_account))} {target}",
        ]
    for path in writable:
        lines.append(f"mount --bind {shlex.quote(str(path))} {shlex.quote(str(path))}")
    keep = {str(p) for p in writable}
    lines += [
        # Every mount read-only, except the writable binds and the kernel's own filesystems.
        "awk '$4 !~ /^ro(,|$)/ {print $2}' /proc/self/mounts | sort -u | while read -r m; do",
        '  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac',
        f'  case " {" ".join(sorted(keep))} " in *" $m "*) continue ;; esac',
        '  mount -o remount,bind,ro "$m"',
        "done",
        f"cd {shlex.quote(str(cwd))}",
        "exec env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(environ.items()))
        + " " + shlex.join(command),
    ]  # fmt: skip
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", "\n".join(lines)]


def writable_dir(parent: Path, name: str) -> Path:
    """A directory under ``parent`` (created)."""
    path = parent / name
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path
