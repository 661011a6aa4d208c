"""What every command line is expected to do: a version, help when called bare, suggestions for
mistyped names, times people read, and no network where none is asked for."""

from __future__ import annotations

import re
import socket

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
