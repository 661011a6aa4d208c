"""netadvisor's settings: one YAML configuration file plus ``NETADVISOR_<KEY>`` variables.

This package is the only place that reads the process environment; everything else receives a
:class:`Settings` value (or one of its groups) built by :func:`load_settings`.

- :mod:`bot.settings.model`: :class:`Settings`, grouped by concern (``settings.fleet``,
  ``settings.store``, ``settings.slack``, ``settings.github``, ``settings.schedule``,
  ``settings.http``, ``settings.logging``, ``settings.mutes``), and the values it holds;
- :mod:`bot.settings.table`: :data:`SETTINGS`, every setting declared once (key, variable,
  default, parser, attribute), and the README's table generated from it;
- :mod:`bot.settings.fields`: how each kind of value is read and checked;
- :mod:`bot.settings.load`: the file and the environment -> :class:`Settings`; errors name the
  file (or variable) and the field.
"""

from __future__ import annotations

from bot.settings.load import (
    SERVICE_ACCOUNT_NAMESPACE,
    SERVICE_ACCOUNT_TOKEN,
    SettingsError,
    config_path,
    load_settings,
)
from bot.settings.model import (
    SERVICE_ACCOUNT_DIR,
    ClusterSettings,
    Environment,
    FleetSettings,
    GitHubSettings,
    HttpSettings,
    LoggingSettings,
    ScheduleSettings,
    Secret,
    Settings,
    SlackSettings,
    StoreSettings,
)
from bot.settings.table import ENV_PREFIX, SETTINGS, SettingSpec, settings_table

__all__ = [
    "ENV_PREFIX",
    "SERVICE_ACCOUNT_DIR",
    "SERVICE_ACCOUNT_NAMESPACE",
    "SERVICE_ACCOUNT_TOKEN",
    "SETTINGS",
    "ClusterSettings",
    "Environment",
    "FleetSettings",
    "GitHubSettings",
    "HttpSettings",
    "LoggingSettings",
    "ScheduleSettings",
    "Secret",
    "SettingSpec",
    "Settings",
    "SettingsError",
    "SlackSettings",
    "StoreSettings",
    "config_path",
    "load_settings",
    "settings_table",
]
