"""The App Home tab (``views.publish``): the viewer's own docs that are stale or reported outdated, with the
"✅ Still accurate" / "🚩 Report outdated" buttons, and the bot's figures for the last seven days.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.mrkdwn import Block, escape
from bot.review_blocks import doc_link, review_actions
from bot.runtime import BotRuntime
from rag.durations import human_span
from rag.ledger.stats import LedgerStats
from rag.models import DocMeta
from rag.owners import owner_email, owner_slack_id
from rag.reviews import DocReview, reviewed_meta

WEEK = timedelta(days=7)
MAX_HOME_DOCS = 20  # Slack allows 100 blocks in a Home view; three per doc


@dataclass(frozen=True)
class HomeDoc:
    meta: DocMeta
    age: timedelta  # since the last update or verification
    threshold: timedelta
    review: DocReview

    @property
    def stale(self) -> bool:
        return self.age > self.threshold


def owned_by(user: str, meta: DocMeta, email: str | None) -> bool:
    if owner_slack_id(meta.owner) == user:
        return True
    address = owner_email(meta.owner)
    return bool(address and email and address.lower() == email.lower())


def user_email(client: WebClient, user: str, *, logger: logging.Logger) -> str | None:
    try:
        profile = client.users_info(user=user)["user"].get("profile") or {}
    except SlackApiError as exc:
        logger.warning("could not read %s's profile: %s", user, exc.response.get("error"))
        return None
    email = profile.get("email")
    return str(email) if email else None


def docs_needing_a_look(runtime: BotRuntime, user: str, client: WebClient, *, logger: logging.Logger) -> list[HomeDoc]:
    """The user's docs past their threshold (from the last update or verification) or with open flags."""
    docs = [d.meta for d in runtime.services.store.stored_docs().values()]
    email = user_email(client, user, logger=logger) if any(owner_email(d.owner) for d in docs) else None
    mine = [d for d in docs if owned_by(user, d, email)]
    reviews = runtime.services.doc_reviews.reviews({d.doc_id: d.source_hash for d in mine})
    policy = runtime.services.pipeline.policy
    now = datetime.now(UTC)
    found = []
    for meta in mine:
        review = reviews.get(meta.doc_id, DocReview())
        clock = reviewed_meta(meta, review)
        doc = HomeDoc(meta, now - clock.updated_at, policy.threshold_for(meta.source, meta.path), review)
        if doc.stale or review.open_flags:
            found.append(doc)
    return sorted(found, key=lambda d: (-len(d.review.open_flags), -(d.age - d.threshold).total_seconds()))


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def home_view(docs: Sequence[HomeDoc], week: LedgerStats) -> dict[str, Any]:
    """The Home tab as Block Kit."""
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Your docs that need a look"}}]
    if not docs:
        blocks.append(_section("Nothing you own is past its review date or reported outdated. :tada:"))
    for position, doc in enumerate(docs[:MAX_HOME_DOCS]):
        status = []
        if doc.stale:
            status.append(f"⚠ {human_span(doc.age)} since its last review, past its {human_span(doc.threshold)} limit")
        if doc.review.open_flags:
            reasons = "; ".join(f"“{escape(f.reason)}”" for f in doc.review.open_flags if f.reason)
            status.append(f"🚩 reported outdated {len(doc.review.open_flags)}×" + (f": {reasons}" if reasons else ""))
        blocks.append(_section(f"{doc_link(doc.meta)} (`{escape(doc.meta.path)}`)\n" + "\n".join(status)))
        blocks.append(review_actions(doc.meta.doc_id, doc.meta.title, position=position))
    if len(docs) > MAX_HOME_DOCS:
        blocks.append(_context(f"…and {len(docs) - MAX_HOME_DOCS} more: run `bestbefore stale` for the full list."))
    q = week.quality
    blocks += [
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "bestbefore this week"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Questions*\n{week.questions}"},
                {"type": "mrkdwn", "text": f"*People asking*\n{week.unique_askers}"},
                {"type": "mrkdwn", "text": f"*👍 rate*\n{_rate(q.thumbs_up_rate)}"},
                {"type": "mrkdwn", "text": f"*Answers with a stale source*\n{_rate(q.stale_rate)}"},
                {"type": "mrkdwn", "text": f"*Questions the docs could not answer*\n{_rate(q.refusal_rate)}"},
            ],
        },
    ]
    return {"type": "home", "blocks": blocks}


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def publish_home(client: WebClient, runtime: BotRuntime, user: str, *, logger: logging.Logger) -> None:
    now = datetime.now(UTC)
    view = home_view(docs_needing_a_look(runtime, user, client, logger=logger),
                     runtime.services.ledger.stats(now - WEEK, now))  # fmt: skip
    client.views_publish(user_id=user, view=view)


def register(app: App, runtime: BotRuntime) -> None:
    @app.event("app_home_opened", matchers=[lambda event: (event or {}).get("tab") == "home"])
    def show_home(event: dict[str, Any], client: WebClient, logger: logging.Logger) -> None:
        publish_home(client, runtime, str(event["user"]), logger=logger)
