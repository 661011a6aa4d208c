"""Where the state database is, for every command, and what the configuration puts in it.

:func:`state_database` is the one place that decides; ``scan``, ``digest``, ``serve``,
``upstream``, ``ask``, ``plan``, ``mute``, ``unmute`` and ``mutes`` all ask it, so that a mute
made on the command line is the one the next scan honours, and ``plan --cluster`` reads the
facts that scan stored. First that applies:

1. ``--state URL`` (an override for one run);
2. a run on the bundled demo fleet: ``demo.db`` in the state directory, so that example clusters
   never mix with yours. Commands that read no fleet themselves (``ask``, ``plan``, the mute
   commands, ``digest``, ``serve``) count as demo runs when the configured fleet is the demo
   fleet (:func:`uses_demo_fleet`), which is what ``scan`` without fleet flags reads;
3. the ``database`` setting (``NETADVISOR_DATABASE_URL``, or ``database:`` in the file);
4. ``state.db`` in the state directory, ``$XDG_STATE_HOME/netadvisor`` (``~/.local/state/...``).

:func:`apply_config_mutes` writes the configuration's ``mutes:`` into the store; ``scan``,
``digest`` and ``serve`` call it when they start.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Final

from advisories.catalog import Catalog
from bot.settings import Settings, SettingsError
from jobs.store import ConfigMuteSync, Store

__all__ = [
    "DEMO_FILE",
    "STATE_FILE",
    "StateDatabase",
    "apply_config_mutes",
    "state_database",
    "uses_demo_fleet",
]

STATE_FILE: Final = "state.db"
DEMO_FILE: Final = "demo.db"


@dataclass(frozen=True, slots=True)
class StateDatabase:
    """The state database a command uses, and why."""

    url: str = field(repr=False)
    """SQLAlchemy URL; it may carry a password (never print it: see :attr:`Store.display_url`)."""
    origin: str
    """Why this one: ``--state``, ``demo fleet``, ``database setting`` or ``default``."""
    demo: bool = False
    """The bundled demo fleet's own file."""

    @property
    def path(self) -> Path | None:
        """The file of a SQLite database, else None."""
        prefix = "sqlite:///"
        return Path(self.url[len(prefix) :]) if self.url.startswith(prefix) else None

    def exists(self) -> bool:
        """False only for a SQLite file not created yet (a server database may be empty)."""
        path = self.path
        return path is None or path.exists()

    def open(self) -> Store:
        """Open (create or upgrade) it; raises :class:`jobs.store.StoreError`."""
        return Store.open(self.url)


def uses_demo_fleet(settings: Settings) -> bool:
    """The configured fleet is the bundled demo fleet: no ``clusters:``, not in a pod, and no
    kubeconfig (what ``scan`` reads when it is given no fleet flags)."""
    env = settings.environment
    return not settings.clusters and not env.in_cluster and env.default_kubeconfig() is None


def state_database(
    settings: Settings, flag: str | None = None, *, demo: bool | None = None
) -> StateDatabase:
    """The state database (see the module's docstring for the order).

    ``flag`` is ``--state``; ``demo`` says whether the run reads the demo fleet (``scan``
    knows, with its fleet flags), None to decide from the settings. Raises
    :class:`SettingsError` when a SQLite file is needed and there is no state directory.
    """
    if flag:
        return StateDatabase(flag, "--state")
    if demo is None:
        demo = uses_demo_fleet(settings)
    if not demo and settings.database is not None:
        return StateDatabase(settings.database.reveal(), "database setting")
    home = settings.environment.state_home
    if home is None:
        raise SettingsError(
            "state database",
            "",
            "no state directory: set XDG_STATE_HOME or HOME, or NETADVISOR_DATABASE_URL",
        )
    path = home / "netadvisor" / (DEMO_FILE if demo else STATE_FILE)
    return StateDatabase(f"sqlite:///{path}", "demo fleet" if demo else "default", demo=demo)


def apply_config_mutes(
    store: Store, settings: Settings, catalog: Catalog, now: datetime
) -> ConfigMuteSync:
    """Make the store's configuration mutes what ``mutes:`` says (added, kept, lifted).

    Advisory ids are checked against ``catalog`` here (the settings do not know it); an
    unknown one raises :class:`SettingsError` naming the file and the entry.
    """
    where = settings.origins.get("mutes", "mutes")
    entries = []
    for mute in settings.mutes:
        if mute.advisory_id is not None:
            found = catalog.get(mute.advisory_id)
            if found is None:
                raise SettingsError(
                    where,
                    f"{mute.field}.advisory",
                    f"unknown advisory {mute.advisory_id!r} (see netadvisor catalog list)",
                )
            mute = replace(mute, advisory_id=found.id)
        entries.append(mute)
    result: ConfigMuteSync = store.run(lambda tx: tx.sync_config_mutes(entries, now))
    return result
