"""Page-expiry conventions docs teams already write in front matter, read into review rules and owners. Pure,
except :func:`tech_docs_default_owner`, which reads one small YAML file.

GOV.UK's tech-docs gem ("page expiry", used by the GDS Way): ``last_reviewed_on: 2024-07-23`` is the review date,
``review_in: 6 months`` the page's own review period (its review-by date is ``last_reviewed_on`` + ``review_in``
in calendar terms, as the gem computes it with Chronic), ``owner_slack: "#team"`` / ``"@person"`` whom to tell,
and ``default_owner_slack`` in ``config/tech-docs.yml`` the owner of pages that name none.
Common variants: ``review_by`` / ``expires`` / ``next_review`` (an absolute due date), ``owner``, ``reviewers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from rag.durations import add_period
from rag.ingest.readers import meta_text, parse_date_value

REVIEW_DATE_KEYS: tuple[str, ...] = ("last_reviewed_on",)  # tech-docs; readers.DATE_KEYS has the older names
DUE_DATE_KEYS: tuple[str, ...] = ("review_by", "expires", "next_review")
OWNER_KEYS: tuple[str, ...] = ("owner_slack", "owner", "reviewers")
TECH_DOCS_CONFIG = Path("config") / "tech-docs.yml"
_MAX_CONFIG_BYTES = 256 * 1024


@dataclass(frozen=True)
class ReviewRule:
    """A page's own review rule: a period after its review date, or an absolute due date (or neither)."""

    review_in: str | None = None  # as written and understood: "6 months", "90d"
    review_by: datetime | None = None  # absolute due date (aware UTC)

    def due(self, reviewed: datetime) -> datetime | None:
        """When the page needs its next review, given the date it was last reviewed (or updated)."""
        if self.review_by is not None:
            return self.review_by
        if self.review_in is not None:
            return add_period(reviewed, self.review_in)
        return None


def _valid_period(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    try:
        add_period(datetime(2000, 1, 31), text)
    except (ValueError, OverflowError):
        return None  # a template placeholder such as "{period}": no rule, never a crash
    return text


def review_rule(meta: Mapping[str, Any]) -> ReviewRule:
    """The page's review rule from its front matter (keys compared case-insensitively)."""
    lowered = {str(key).lower(): value for key, value in meta.items()}
    for key in DUE_DATE_KEYS:
        due = parse_date_value(lowered.get(key))
        if due is not None:
            return ReviewRule(review_by=due)
    return ReviewRule(review_in=_valid_period(lowered.get("review_in")))


def reviewed_on(meta: Mapping[str, Any]) -> datetime | None:
    """The page's review date (``last_reviewed_on``); None when absent or not a date (``yyyy-mm-dd``)."""
    lowered = {str(key).lower(): value for key, value in meta.items()}
    for key in REVIEW_DATE_KEYS:
        moment = parse_date_value(lowered.get(key))
        if moment is not None:
            return moment
    return None


def page_owner(meta: Mapping[str, Any], default: str | None = None) -> str | None:
    """Whom to tell when the page expires: ``owner_slack``, ``owner``, ``reviewers``, else the source default."""
    lowered = {str(key).lower(): value for key, value in meta.items()}
    for key in OWNER_KEYS:
        owner = meta_text(lowered, key)
        if owner:
            return owner
    return default


def tech_docs_config(folder: Path) -> dict[str, Any]:
    """A tech-docs site's ``config/tech-docs.yml`` in ``folder`` or up to two parents (the source may be the site's
    ``source/`` folder); ``{}`` when there is none or it cannot be read."""
    for candidate in (folder, *list(folder.parents)[:2]):
        config = candidate / TECH_DOCS_CONFIG
        try:
            if not config.is_file() or config.is_symlink() or config.stat().st_size > _MAX_CONFIG_BYTES:
                continue
            data = yaml.safe_load(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return {}
        return {str(key): value for key, value in data.items()} if isinstance(data, dict) else {}
    return {}


def tech_docs_default_owner(config: Mapping[str, Any]) -> str | None:
    """``default_owner_slack``: the owner of the site's pages that name none."""
    owner = config.get("default_owner_slack")
    return str(owner).strip() or None if owner else None


def tech_docs_host(config: Mapping[str, Any]) -> str | None:
    """``host``: the site's canonical URL (for zero-configuration page URLs)."""
    host = config.get("host")
    return host.rstrip("/") if isinstance(host, str) and host.startswith("http") else None
