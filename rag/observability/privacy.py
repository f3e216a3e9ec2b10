"""What of a question and its answer may be kept (ledger, Langfuse), and scrubbing of secrets. Pure.

* ``full``: the text, with anything that looks like a credential replaced by ``[secret]``;
* ``hash``: ``sha256:<hex>`` of the text (equal questions stay countable, the words are gone);
* ``redact``: nothing but ``[redacted]``.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from rag.errors import ConfigError

REDACTED = "[redacted]"
SECRET = "[secret]"

_SECRET_PATTERNS = [
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"),  # Slack bot/user tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"),  # Slack app-level tokens
    re.compile(r"\b[ps]k-lf-[A-Za-z0-9-]{8,}"),  # Langfuse keys
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style secret keys
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(r"(?i)\b(api[_-]?key|secret|password|passwd|token)\s*[:=]\s*\S+"),
]
_URL_CREDENTIALS = re.compile(r"(?i)://[^/\s:@]+:[^/\s@]+@")


class Privacy(StrEnum):
    FULL = "full"
    HASH = "hash"
    REDACT = "redact"

    @classmethod
    def parse(cls, value: str) -> Privacy:
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"ledger.privacy must be one of full, hash, redact (got {value!r})") from None


def scrub_secrets(text: str) -> str:
    """Replace anything that looks like a token, key or password with ``[secret]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(SECRET, text)
    return _URL_CREDENTIALS.sub(f"://{SECRET}@", text)


def protect(text: str | None, privacy: Privacy) -> str | None:
    """The form of ``text`` that may be stored under ``privacy``."""
    if text is None:
        return None
    if privacy is Privacy.REDACT:
        return REDACTED
    if privacy is Privacy.HASH:
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return scrub_secrets(text)
