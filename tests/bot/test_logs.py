"""Structured logs: JSON lines with the cluster and advisory on each, and no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import cli, logs
from bot.cli import build_parser
from bot.settings import load_settings
from jobs.logctx import about

SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
APP_TOKEN = "xapp-1-A0123456789-1234567890123-abcdef0123456789"
GITHUB_TOKEN = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
SA_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("leaderelection", "apscheduler")}
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, value in quiet.items():
        logging.getLogger(name).setLevel(value)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_cluster_and_the_advisory(stream: io.StringIO) -> None:
    logs.configure("json", "info", stream=stream)
    log = logging.getLogger("jobs.scan")
    log.info("scan started")
    with about(cluster="prod-eu"):
        log.warning("read in %.1f s", 1.25)
        with about(advisory="KP-IPVS-CONN-REUSE"):
            log.info("posted", extra={"channel": "C0123"})
    log.info("direct", extra={"cluster": "prod-us", "advisory": "CALICO-VXLAN-CSUM"})
    lines = _lines(stream)
    assert [(line["cluster"], line["advisory"]) for line in lines] == [
        (None, None),
        ("prod-eu", None),
        ("prod-eu", "KP-IPVS-CONN-REUSE"),
        ("prod-us", "CALICO-VXLAN-CSUM"),
    ]
    assert lines[1]["message"] == "read in 1.2 s"
    assert lines[1]["level"] == "warning" and lines[1]["logger"] == "jobs.scan"
    assert str(lines[1]["time"]).endswith("Z")
    assert lines[2]["channel"] == "C0123"


def test_no_secret_reaches_a_line_in_messages_or_tracebacks(stream: io.StringIO) -> None:
    logs.configure("json", "info", stream=stream, secrets=[SIGNING_SECRET])
    log = logging.getLogger("bot")
    log.info("slack token %s, app token %s", SLACK_TOKEN, APP_TOKEN)
    log.info("github %s and a kubeconfig token %s", GITHUB_TOKEN, SA_TOKEN)
    log.info("database postgresql://netadvisor:pa55w0rd@db:5432/netadvisor")
    log.info("header Authorization: Bearer abcdef123456 and signing secret %s", SIGNING_SECRET)
    log.info("call", extra={"request": {"headers": [f"Authorization: Bearer {APP_TOKEN}"]}})
    try:
        raise RuntimeError(f"request failed with token {SLACK_TOKEN}")
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    for secret in (SLACK_TOKEN, APP_TOKEN, GITHUB_TOKEN, SA_TOKEN, "pa55w0rd", SIGNING_SECRET):
        assert secret not in text
    assert "abcdef123456" not in text
    lines = _lines(stream)
    assert lines[2]["message"] == "database postgresql://netadvisor:***@db:5432/netadvisor"
    assert lines[4]["request"] == {"headers": ["Authorization: Bearer ***"]}
    assert "RuntimeError: request failed with token ***" in str(lines[-1]["error"])


def test_text_lines_for_people(stream: io.StringIO) -> None:
    logs.configure("text", "debug", stream=stream)
    with about(cluster="prod-eu", advisory="KP-IPVS-CONN-REUSE"):
        logging.getLogger("jobs.scan").debug("token %s", SLACK_TOKEN)
    line = stream.getvalue().strip()
    assert line.endswith(
        "debug   jobs.scan: [cluster=prod-eu advisory=KP-IPVS-CONN-REUSE] token ***"
    )


def test_configuring_again_replaces_the_handler_and_levels_apply(stream: io.StringIO) -> None:
    logs.configure("text", "info", stream=io.StringIO())
    logs.configure("json", "warning", stream=stream)
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    assert [line["message"] for line in _lines(stream)] == ["shown"]
    assert logging.getLogger("leaderelection").level == logging.WARNING


@pytest.mark.parametrize(("fmt", "level"), [("yaml", "info"), ("json", "verbose")])
def test_bad_formats_and_levels_are_errors(fmt: str, level: str) -> None:
    with pytest.raises(ValueError, match=r"log (format|level)"):
        logs.configure(fmt, level, stream=io.StringIO())


@pytest.mark.parametrize(
    "harmless",
    [
        "Lease netadvisor/netadvisor-scheduler renewed",
        "read 5000 nodes in 1.7 s",
        "https://github.com/projectcalico/calico/issues/3145",
    ],
)
def test_ordinary_text_is_left_alone(harmless: str) -> None:
    assert logs.redact(harmless) == harmless


def _cli_logging(argv: list[str], err: io.StringIO) -> list[str]:
    args = build_parser().parse_args(argv)
    root = logging.getLogger()
    before = list(root.handlers)
    with cli._logging(args, load_settings(None), err):
        logging.getLogger("jobs.test").info("info line")
        logging.getLogger("jobs.test").warning("warning line")
    assert root.handlers == before  # the command line leaves logging as it found it
    return err.getvalue().splitlines()


def test_the_command_line_takes_the_format_and_level_from_its_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETADVISOR_LOG_FORMAT", "text")
    lines = _cli_logging(["--log-format", "json", "--log-level", "info", "catalog", "list"],
                         io.StringIO())  # fmt: skip
    assert [json.loads(line)["message"] for line in lines] == ["info line", "warning line"]


def test_the_command_line_falls_back_to_the_settings_and_its_own_level(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETADVISOR_LOG_FORMAT", "json")
    lines = _cli_logging(["catalog", "list"], io.StringIO())
    assert [json.loads(line)["message"] for line in lines] == ["warning line"]  # one-shot
    served = _cli_logging(["serve"], io.StringIO())
    assert [json.loads(line)["level"] for line in served] == ["info", "warning"]
