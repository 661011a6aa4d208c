"""Slack: Block Kit messages, the WebClient notifier, the terminal stand-in, and the Bolt app.

``slack_sdk`` and ``slack_bolt`` are imported only in this package.
"""
