"""A doc's owner as front matter names it (``owner_slack: U0123`` or ``owner: jane@example.com``). Pure.

Callers holding a Slack client turn an e-mail into a user id with ``users.lookupByEmail``.
"""

from __future__ import annotations

import re

_SLACK_USER = re.compile(r"^<?@?([UW][A-Z0-9]{2,})>?$")


def owner_slack_id(owner: str | None) -> str | None:
    """The Slack user id when ``owner`` is one (``U0123``, ``@U0123``, ``<@U0123>``), else None."""
    match = _SLACK_USER.match((owner or "").strip())
    return match.group(1) if match else None


def owner_email(owner: str | None) -> str | None:
    """The e-mail address when ``owner`` is one, else None."""
    owner = (owner or "").strip()
    return owner if "@" in owner[1:] and " " not in owner and not owner_slack_id(owner) else None  # not "@handle"
