"""What the bot's listeners share: the services, the per-channel settings, the event claims, the answer workers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.agent_state import AgentState
from bot.dedupe import EventClaims
from rag.answer.pipeline import RagPipeline
from rag.answer.staleness import StalenessPolicy
from rag.config import AppConfig, ChannelConfig, StalenessConfig
from rag.index.store import VectorStore
from rag.ledger.doc_reviews import DocReviewLog
from rag.ledger.feedback import FeedbackStore
from rag.ledger.stats import LedgerStats
from rag.limits.questions import QuestionLimits


class BotServices(Protocol):
    """The part of ``bestbefore.services.Services`` the bot uses."""

    @property
    def pipeline(self) -> RagPipeline: ...

    @property
    def feedback(self) -> FeedbackStore: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def doc_reviews(self) -> DocReviewLog: ...

    @property
    def ledger(self) -> BotLedger: ...


class BotLedger(Protocol):
    """What the bot reads from the query ledger: the week's figures (App Home), the most-asked questions and the
    once-per-person greeting (agent messaging)."""

    def stats(self, since: datetime, until: datetime | None = None) -> LedgerStats: ...

    def most_asked(self, since: datetime, *, limit: int = 4, min_askers: int = 2) -> list[str]: ...

    def claim_greeting(self, user: str, at: datetime) -> bool: ...


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace (from ``auth.test``, via Bolt's context)."""

    user_id: str | None
    bot_id: str | None
    team_id: str | None = None


def channel_policy(channel: StalenessConfig, base: StalenessConfig) -> StalenessPolicy:
    """A channel's thresholds; when the channel sets no ``default`` of its own, the global default stays."""
    if "default" not in channel.model_fields_set:
        channel = channel.model_copy(update={"default": base.default})
    return StalenessPolicy.from_config(channel)


@dataclass
class BotRuntime:
    services: BotServices
    config: AppConfig
    claims: EventClaims
    workers: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="bestbefore-answer")
    )
    limits: QuestionLimits | None = None  # [limits]: per-user and per-channel rate limits
    agent: AgentState = field(default_factory=AgentState)  # agent messaging: workspaces that have it, viewed channels
    _policies: dict[str, StalenessPolicy | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def channel(self, channel_id: str) -> ChannelConfig:
        return self.config.channels.get(channel_id) or ChannelConfig()

    def policy_for(self, channel_id: str) -> StalenessPolicy | None:
        """The channel's staleness policy (laid over the global one by the pipeline), or None."""
        with self._lock:
            if channel_id not in self._policies:
                staleness = self.channel(channel_id).staleness
                self._policies[channel_id] = (
                    channel_policy(staleness, self.config.staleness) if staleness is not None else None
                )
            return self._policies[channel_id]

    def sources_for(self, channel_id: str) -> tuple[str, ...] | None:
        sources = self.channel(channel_id).sources
        return tuple(sources) if sources is not None else None

    def close(self, *, wait: bool = True) -> None:
        self.workers.shutdown(wait=wait)
        if self.limits is not None:
            self.limits.close()
