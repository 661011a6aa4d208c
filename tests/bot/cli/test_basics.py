"""What every command line is expected to do: a version, help when called bare, suggestions for
mistyped names, times people read, and no network where none is asked for."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from advisories.catalog import load_catalog
from tests.runner import run

IPVS = "KP-IPVS-CONN-REUSE"


def test_version_names_the_package_and_the_catalog() -> None:
    for flag in ("--version", "-V"):
        code, out, _ = run(flag)
        assert code == 0
        assert re.fullmatch(r"netadvisor \S+ \(catalog \S+\)\n", out)
        assert load_catalog().version in out


def test_a_bare_netadvisor_prints_the_commands_and_succeeds() -> None:
    code, out, err = run()
    assert code == 0 and err == ""
    assert out.startswith("usage: netadvisor") and "scan" in out and "ask" in out


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (("catalog", "show", "KP-IPVS-CONN-REUS"), IPVS),
        (("catalog", "show", "ipvs"), IPVS),
        (("upstream", "show", "kp-ipvs-conn-reuse-x"), IPVS),
        (("mute", "KP-IPVS-CONNREUSE", "all", "3", "kernel", "upgrade"), IPVS),
    ],
)
def test_a_mistyped_or_partial_advisory_id_gets_a_suggestion(
    argv: tuple[str, ...], suggestion: str
) -> None:
    code, _, err = run(*argv)
    assert code == 2
    assert f"did you mean {suggestion}?" in err


def test_a_mistyped_cluster_name_gets_a_suggestion() -> None:
    assert run("scan")[0] == 0
    code, _, err = run("plan", "--cluster", "demo-prod-cent", "--set", "kernel=5.15")
    assert code == 2 and "did you mean demo-prod-centos?" in err


def test_mutes_show_when_they_end_as_people_read_it_and_who_made_them() -> None:
    assert run("scan")[0] == 0
    assert run("mute", IPVS, "demo-prod-centos", "14", "kernel", "upgrade", "--by", "alice")[0] == 0
    code, out, _ = run("mutes")
    assert code == 0
    assert re.search(r"until (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d \w{3}( \d{4})? \d\d:\d\d UTC", out)
    assert "by alice" in out
    assert not re.search(r"\d\d:\d\d:\d\d\.\d+", out)  # never microseconds


def test_upstream_show_reads_the_stored_state_without_touching_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv(
            "NETADVISOR_GITHUB_API_URL", f"http://127.0.0.1:{listener.getsockname()[1]}"
        )
        code, out, _ = run("upstream", "show", IPVS)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected: nothing was asked of GitHub
    assert code == 0 and "never synced" in out


def test_scan_and_check_say_the_summary_first_and_keep_to_a_minimum_severity() -> None:
    code, out, _ = run("scan", "--severity", "critical")
    assert code == 0
    summary = out.split("\n\n")[1].splitlines()[0]  # after the demo banner
    assert re.fullmatch(r"4 of 4 clusters read: \d+ affected, \d+ unknown \(severity critical "
                        r"or worse\); catalog \S+", summary)  # fmt: skip
    assert "[critical]" in out and "[high]" not in out and "[medium]" not in out
    code, out, _ = run("check", "--os", "CentOS 7.9", "--proxy-mode", "ipvs")
    assert out.startswith("Summary: 1 affected")
    code, out, _ = run("check", "--os", "CentOS 7.9", "--proxy-mode", "ipvs", "--severity",
                       "critical", "--fail-on", "affected")  # fmt: skip
    assert code == 0 and "KP-IPVS-CONN-REUSE" not in out  # high, below the minimum
    code, _, _ = run("check", "--os", "CentOS 7.9", "--proxy-mode", "ipvs", "--fail-on", "affected")
    assert code == 1


def test_scan_check_and_inventory_print_the_format_asked_for() -> None:
    code, out, _ = run("scan", "--output", "markdown")
    assert code == 0 and "|---" in out  # a Markdown table
    assert "demo-prod-centos" in out and "KP-IPVS-CONN-REUSE" in out
    code, out, _ = run("scan", "-o", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and "demo-prod-centos" in out
    code, out, _ = run("scan", "--json")
    assert code == 0 and json.loads(out)["clusters"]
    code, out, _ = run("check", "--kernel", "5.4", "--mode", "ipvs", "-o", "markdown")
    assert code == 0 and out.startswith("**Affected") and "KP-IPVS-CONN-REUSE" in out
    code, out, _ = run("check", "--kernel", "5.4", "--mode", "ipvs", "-o", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and "KP-IPVS-CONN-REUSE" in out
    assert "<script" not in out and "default-src 'none'" in out  # nothing loaded, nothing run
    code, out, _ = run("inventory", "--output", "json")
    assert code == 0 and len(json.loads(out)["clusters"]) == 4
    code, out, _ = run("inventory", "--output", "markdown")
    assert code == 0 and out.count("\n| demo-") == 4 and "|---" in out
    code, out, _ = run("inventory", "-o", "html")
    assert code == 0 and out.count("<tr class=") == 4 and "demo-prod-centos" in out
    code, _, err = run("check", "--output", "yaml")
    assert code == 2 and "invalid choice: 'yaml'" in err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_code_is_printed_for_each_shell(shell: str) -> None:
    code, out, _ = run("completion", shell)
    assert code == 0 and "netadvisor" in out and len(out.splitlines()) > 5


def _complete(line: str, tmp_path: Path) -> list[str]:
    """What the shell hook would offer for ``line`` (argcomplete's protocol, in a subprocess:
    it exits the process when it has answered)."""
    answer = tmp_path / "completions"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    subprocess.run([sys.executable, "-m", "bot"], env=env, check=True, timeout=60)
    return answer.read_text().split("\v")


def test_the_shell_completes_commands_and_the_values_of_flags(tmp_path: Path) -> None:
    assert [c.strip() for c in _complete("netadvisor sc", tmp_path)] == ["scan"]
    modes = {c.strip() for c in _complete("netadvisor check --proxy-mode ", tmp_path)}
    assert {"iptables", "ipvs", "nftables"} <= modes
    assert [c.strip() for c in _complete("netadvisor check --feature rk", tmp_path)] == ["rke2"]


def test_the_osv_export_is_the_same_from_one_export_to_the_next() -> None:
    first = json.loads(run("catalog", "export", "--format", "osv")[1])
    time.sleep(1.1)
    second = json.loads(run("catalog", "export", "--format", "osv")[1])
    assert first == second
    days = {a.id: a.modified for a in load_catalog().advisories}
    assert all(days.values())  # every built-in advisory records its own last change
    assert {r["id"]: r["modified"] for r in first} == {
        f"NETADVISOR-{i}": f"{d:%Y-%m-%d}T00:00:00Z" for i, d in days.items()
    }


def test_ask_and_digest_keep_to_a_minimum_severity() -> None:
    code, out, _ = run("ask", "is kernel 5.4 safe for IPVS?", "--severity", "critical")
    assert code == 0
    first = out.splitlines()[0]
    assert "critical" in first and "KP-IPVS-CONN-REUSE (high)" in first  # named, not leading
    assert run("scan")[0] == 0
    code, everything, _ = run("digest", "--dry-run")
    # One line per advisory, led by its severity's emoji.
    high, crit = ":large_orange_circle: *", ":red_circle: *"
    assert code == 0 and high in everything and crit in everything
    code, critical, _ = run("digest", "--dry-run", "--severity", "critical")
    assert code == 0 and crit in critical and high not in critical


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_on_a_terminal_only_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ("check", "--os", "CentOS 7.9", "--proxy-mode", "ipvs")
    _, plain, _ = run(*argv)
    assert "\x1b[" not in plain
    terminal = _Terminal()
    assert run(*argv, out=terminal)[0] == 0
    coloured = terminal.getvalue()
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain  # colour never changes the words
    monkeypatch.setenv("NO_COLOR", "1")
    terminal = _Terminal()
    run(*argv, out=terminal)
    assert "\x1b[" not in terminal.getvalue()


def test_the_catalog_is_a_table_on_a_terminal() -> None:
    terminal = _Terminal()
    assert run("catalog", "list", out=terminal)[0] == 0
    assert "┃" in terminal.getvalue() and "KP-IPVS-CONN-REUSE" in terminal.getvalue()
    assert "┃" not in run("catalog", "list")[1]
