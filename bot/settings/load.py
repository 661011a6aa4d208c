"""Loading: the configuration file plus the process environment -> :class:`Settings`.

This is the only module that reads the process environment. Everything else receives a
:class:`Settings` value (or parts of it) built here.

Where a setting comes from, first that applies:

1. a command-line flag (applied by the caller with :meth:`Settings.with_overrides`);
2. the environment variable ``NETADVISOR_<KEY>`` (``NETADVISOR_CLUSTER_TIMEOUT``);
3. the configuration file: ``--config PATH``, else ``$NETADVISOR_CONFIG``, else
   ``$XDG_CONFIG_HOME/netadvisor/config.yaml`` (``~/.config/netadvisor/config.yaml``), which may
   be absent;
4. the default in :data:`~bot.settings.table.SETTINGS`.

Values marked ``secret`` are wrapped in :class:`Secret`, whose ``repr`` and ``str`` never show
the value. Problems raise :class:`SettingsError`, which names the file (or variable) and the
field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from bot.settings.fields import FieldError, yaml_problem
from bot.settings.model import (
    GROUPS,
    SERVICE_ACCOUNT_DIR,
    ClusterSettings,
    Environment,
    Secret,
    Settings,
)
from bot.settings.table import BY_KEY, ENV_PREFIX, SETTINGS

__all__ = [
    "SERVICE_ACCOUNT_NAMESPACE",
    "SERVICE_ACCOUNT_TOKEN",
    "SettingsError",
    "load_settings",
]

SERVICE_ACCOUNT_TOKEN: Final = SERVICE_ACCOUNT_DIR / "token"
"""Where Kubernetes mounts a pod's service account token (in-cluster detection)."""
SERVICE_ACCOUNT_NAMESPACE: Final = SERVICE_ACCOUNT_TOKEN.with_name("namespace")
"""The pod's namespace, mounted next to the token."""


class SettingsError(Exception):
    """A setting is wrong; ``where`` is the file or variable, ``field`` the setting's path."""

    def __init__(self, where: str, field: str, message: str) -> None:
        self.where = where
        self.field = field
        self.message = message
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def config_path(explicit: str | None = None) -> Path | None:
    """Where the configuration file is (or would be): ``--config``, ``$NETADVISOR_CONFIG``, else
    ``$XDG_CONFIG_HOME/netadvisor/config.yaml``; None without a home directory."""
    return _config_path(explicit, os.environ)[0]


def _config_path(explicit: str | None, environ: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The file to read and whether it must exist (given explicitly)."""
    if explicit:
        return Path(explicit).expanduser(), True
    from_env = environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        return Path(from_env).expanduser(), True
    xdg = environ.get("XDG_CONFIG_HOME")
    home = environ.get("HOME")
    if xdg:
        base = Path(xdg)
    elif home:
        base = Path(home) / ".config"
    else:
        return None, False
    return base / "netadvisor" / "config.yaml", False


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(str(path), "", f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(
            str(path), "", f"not UTF-8 text (byte {exc.start + 1} is not UTF-8); save it as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(str(path), "", f"not valid YAML: {yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(str(path), "", "must be a mapping of settings (clusters:, ...)")
    return {str(k): v for k, v in data.items()}


def _environment(environ: Mapping[str, str]) -> Environment:
    home = environ.get("HOME")
    token_present = SERVICE_ACCOUNT_TOKEN.is_file()
    return Environment(
        kubeconfig=environ.get("KUBECONFIG") or None,
        home_kubeconfig=Path(home) / ".kube" / "config" if home else None,
        in_cluster=bool(environ.get("KUBERNETES_SERVICE_HOST")) and token_present,
        pod_name=environ.get("HOSTNAME") or None,
        pod_namespace=_pod_namespace() if token_present else None,
        service_account=SERVICE_ACCOUNT_TOKEN.parent,
        no_color=bool(environ.get("NO_COLOR")),
        state_home=(
            Path(environ["XDG_STATE_HOME"])
            if environ.get("XDG_STATE_HOME")
            else Path(home) / ".local" / "state"
            if home
            else None
        ),
    )


def _pod_namespace() -> str | None:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def load_settings(config: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the configuration file and ``NETADVISOR_*`` variables; raise SettingsError.

    ``config`` is the ``--config`` flag; ``environ`` defaults to the process environment.
    """
    env = os.environ if environ is None else environ
    path, required = _config_path(config, env)
    data: dict[str, Any] = {}
    used: Path | None = None
    if path is not None and (required or path.is_file()):
        if required and not path.is_file():
            where = "--config" if config else ENV_PREFIX + "CONFIG"
            raise SettingsError(where, "", f"{str(path)!r} is not a file")
        data = _read_file(path)
        used = path
    for key in data:
        if key.replace("_", "-") not in BY_KEY:
            raise SettingsError(
                str(path),
                key,
                f"unknown setting (valid: {', '.join(spec.key for spec in SETTINGS)})",
            )
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    base = used.parent if used is not None else None
    for spec in SETTINGS:
        raw: Any = None
        where = ""
        field_name = spec.key
        file_base: Path | None = None
        if spec.variable in env:
            raw, where, field_name = env[spec.variable], spec.variable, ""
            file_base = Path.cwd()
        elif spec.secret and env.get(spec.variable + "_FILE"):
            # Secrets may come from a file (a mounted Kubernetes Secret): <VARIABLE>_FILE.
            where, field_name = spec.variable + "_FILE", ""
            raw = _read_secret(Path(env[where]), where)
            file_base = Path.cwd()
        else:
            for key in (spec.key, spec.key.replace("-", "_")):
                if key in data:
                    raw, where, file_base = data[key], str(path), base
                    break
        if not where:
            continue
        try:
            value = spec.parse(raw, spec.key, file_base)
        except FieldError as exc:
            raise SettingsError(where, exc.field_path, str(exc)) from None
        except ValueError as exc:
            raise SettingsError(where, field_name, str(exc)) from None
        values[spec.attribute] = Secret(str(value)) if spec.secret else value
        origins[spec.attribute] = where
    _check_mute_clusters(values, origins)
    return Settings(
        config_file=used, environment=_environment(env), origins=origins, **_grouped(values)
    )


def _grouped(values: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute path -> value, as :class:`Settings`' keyword arguments: each group built from
    its attributes (the others keep their defaults), top-level attributes as they are."""
    by_group: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for path, value in values.items():
        group, _, name = path.rpartition(".")
        if group:
            by_group.setdefault(group, {})[name] = value
        else:
            top[name] = value
    return top | {group: GROUPS[group](**given) for group, given in by_group.items()}


def _check_mute_clusters(values: Mapping[str, Any], origins: Mapping[str, str]) -> None:
    """With a ``clusters:`` section, a mute must name one of its clusters (a typo would mute
    nothing)."""
    clusters: tuple[ClusterSettings, ...] = values.get("fleet.clusters", ())
    if not clusters:
        return
    names = {c.name for c in clusters}
    for mute in values.get("mutes", ()):
        if mute.cluster is not None and mute.cluster not in names:
            raise SettingsError(
                origins["mutes"],
                f"{mute.field}.cluster",
                f"no cluster {mute.cluster!r} in clusters (known: {', '.join(sorted(names))}, "
                "or all)",
            )


def _read_secret(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(where, "", f"cannot read {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(where, "", f"{str(path)!r} is not UTF-8 text") from None
