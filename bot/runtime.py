"""What the bot's listeners share: the services, the per-channel settings, the event claims, the answer workers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from bot.dedupe import EventClaims
from rag.answer.pipeline import RagPipeline
from rag.answer.staleness import StalenessPolicy
from rag.config import AppConfig, ChannelConfig, StalenessConfig
from rag.ledger.feedback import FeedbackStore
from rag.limits.questions import QuestionLimits


class BotServices(Protocol):
    """The part of ``bestbefore.services.Services`` the bot uses."""

    @property
    def pipeline(self) -> RagPipeline: ...

    @property
    def feedback(self) -> FeedbackStore: ...


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace (from ``auth.test``, via Bolt's context)."""

    user_id: str | None
    bot_id: str | None


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
