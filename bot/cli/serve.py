"""``netadvisor serve``: the Slack app plus the scheduled scan, digest and upstream sync, until
SIGTERM or SIGINT (:class:`bot.service.Service`)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from bot.cli.flags import PROG, add_settings_flags, config_mutes
from bot.service import Service, StartError
from bot.wiring import Wiring, uses_demo_fleet
from jobs.store import StoreError

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add ``serve``."""
    serve = commands.add_parser(
        "serve",
        help="Slack app plus scheduled scan, digest and upstream sync, until stopped",
        description="Scan every scan-interval seconds (first at start), send the digest daily "
        "at digest-time, sync upstream trackers daily, and answer Slack on /slack/events "
        "(or Socket Mode with SLACK_APP_TOKEN); /healthz, /readyz and /metrics on the same port. "
        "The configuration's mutes: are applied at start. SIGTERM stops it cleanly.",
    )
    serve.set_defaults(run=run)
    add_settings_flags(serve)


def run(args: argparse.Namespace, w: Wiring, out: TextIO, err: TextIO) -> int:
    """``netadvisor serve`` (logging is set up by :func:`bot.cli.main`)."""
    w.catalog  # noqa: B018 (loaded once, before anything starts: a bad one stops serve)
    demo = uses_demo_fleet(w.settings)
    database = w.database(fleet_demo=demo)
    try:
        store = w.store(database)
    except StoreError as exc:
        print(f"{PROG}: state database: {exc}", file=err)
        return 1
    if not config_mutes(w, store, err):
        return 2
    service = Service(w, store, demo=demo, stream=err)
    if service.messages.warning:
        print(service.messages.warning, file=err)
    print(f"{PROG}: state: {store.display_url}; messages to {service.messages.target}", file=err)
    try:
        service.start()
    except StartError as exc:
        print(f"{PROG}: cannot start: {exc}", file=err)
        return 2 if exc.usage else 1
    service.run_until_signal(err)
    return 0
