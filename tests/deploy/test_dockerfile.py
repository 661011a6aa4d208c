"""deploy/Dockerfile, checked statically (no Docker engine runs on these machines): a slim
Python, the locally built wheel, a non-root user, ``netadvisor serve``, nothing secret."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from typing import Final

import pytest

from tests.deploy.manifests import DEPLOY, REPO

DOCKERFILE: Final = DEPLOY / "Dockerfile"
_SECRETISH = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE|CREDENTIAL", re.I)
_SECRET_VALUES = re.compile(
    r"xox[abpr]-|xapp-|ghp_|github_pat_|-----BEGIN|postgres(ql)?://\S+:\S+@"
)


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    keyword: str
    args: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Instructions in order (comments and the syntax directive left out)."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(pending).partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """The instructions of each build stage (each starts with FROM)."""
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    """Build arguments declared before the first FROM, with their defaults."""
    defaults: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, value = instruction.args.partition("=")
            defaults[name] = value
    return defaults


def env_pairs(args: str) -> dict[str, str]:
    """``ENV A=1 B=2`` as a dict."""
    return dict(word.split("=", 1) for word in shlex.split(args))


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


def test_every_stage_starts_from_a_slim_python_image(instructions: list[Instruction]) -> None:
    defaults = arg_defaults(instructions)
    bases = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    assert len(bases) == 2  # build, then the image itself
    for base in bases:
        image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], base)
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", image), image


def test_it_installs_the_locally_built_wheel_and_no_source_tree(
    instructions: list[Instruction],
) -> None:
    build = stages(instructions)[0]
    copies = [i.args for i in build if i.keyword == "COPY"]
    assert copies == ["dist/netadvisor-*.whl /tmp/wheels/"]
    (run,) = [i.args for i in build if i.keyword == "RUN"]
    assert "pip install --no-compile /tmp/wheels/netadvisor-*.whl" in run
    assert " -e " not in run and "pip install ." not in run
    final = stages(instructions)[-1]
    assert [i.args for i in final if i.keyword == "COPY"] == [
        "--from=build /opt/netadvisor /opt/netadvisor"
    ]


def test_the_image_runs_as_a_non_root_user_and_serves_by_default(
    instructions: list[Instruction],
) -> None:
    final = stages(instructions)[-1]
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, "no USER in the final stage: it would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0  # numeric, so that runAsNonRoot can verify it
    manifests_uid = (DEPLOY / "base" / "deployment.yaml").read_text()
    assert f"runAsUser: {uid}" in manifests_uid
    after_user = final[[i.keyword for i in final].index("USER") :]
    assert all(i.keyword != "RUN" for i in after_user), "RUN after USER"
    (entrypoint,) = [json.loads(i.args) for i in final if i.keyword == "ENTRYPOINT"]
    (cmd,) = [json.loads(i.args) for i in final if i.keyword == "CMD"]
    assert entrypoint + cmd == ["netadvisor", "serve"]
    expose = [i.args for i in final if i.keyword == "EXPOSE"]
    assert expose == ["3000"]


def test_no_secret_is_put_in_a_layer(instructions: list[Instruction]) -> None:
    for instruction in instructions:
        assert not _SECRET_VALUES.search(instruction.args), instruction
        if instruction.keyword in ("ENV", "ARG", "LABEL"):
            names = (
                env_pairs(instruction.args)
                if "=" in instruction.args
                else {instruction.args.split()[0]: ""}
            )
            for name in names:
                assert not _SECRETISH.search(name), f"line {instruction.line}: {name}"
        if instruction.keyword in ("COPY", "ADD"):
            assert not re.search(r"\.env|kubeconfig|\.kube|secret|\.pem|\.key", instruction.args)
        assert instruction.keyword != "ADD", "ADD fetches URLs and unpacks archives: use COPY"
    final_env: dict[str, str] = {}
    for instruction in stages(instructions)[-1]:
        if instruction.keyword == "ENV":
            final_env.update(env_pairs(instruction.args))
    assert final_env["NETADVISOR_LOG_FORMAT"] == "json"
    assert final_env["PYTHONDONTWRITEBYTECODE"] == "1"  # the root filesystem is read-only


def test_the_build_context_admits_only_the_wheel() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"
    assert [p for p in patterns[1:] if p.startswith("!")] == ["!dist/netadvisor-*.whl"]


def test_the_documented_build_commands_tag_the_current_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    text = DOCKERFILE.read_text()
    assert "python -m pip wheel --no-deps -w dist ." in text
    assert f"docker build -f deploy/Dockerfile -t netadvisor:{version} ." in text


def test_the_parser_joins_continued_lines() -> None:
    parsed = parse("FROM x AS y\nRUN a \\\n  # note\n  && b\nUSER 1\n")
    assert [(i.keyword, i.args) for i in parsed] == [
        ("FROM", "x AS y"),
        ("RUN", "a && b"),
        ("USER", "1"),
    ]
