"""Slack mrkdwn basics shared by every Block Kit builder in bot/: the block type and escaping. Pure."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack escapes ``&``, ``<`` and ``>``: text from documents or people can never ping or smuggle in a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
