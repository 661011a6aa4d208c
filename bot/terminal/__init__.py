"""Everything the command line prints for people, under one roof.

``catalog`` (catalog entries and ``check``), ``fleet`` (``inventory`` and ``scan``), ``plan``,
``upstream``, ``mutes``, the :class:`~bot.terminal.notifier.TerminalNotifier` (what would be
posted to Slack, printed) and ``json`` (every ``--json`` document).
"""
