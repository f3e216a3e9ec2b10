"""What the bot's listeners share: the services, the per-channel settings, the event claims, the answer workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from bot.dedupe import EventClaims
from rag.answer.pipeline import RagPipeline
from rag.answer.staleness import StalenessPolicy
from rag.config import AppConfig, ChannelConfig, StalenessConfig
from rag.ledger.feedback import FeedbackStore


class BotServices(Protocol):
    """The part of ``bestbefore.services.Services`` the bot uses."""

    @property
    def pipeline(self) -> RagPipeline: ...

    @property
    def feedback(self) -> FeedbackStore: ...


T = TypeVar("T")


class Backlog:
    """Work handed to the bot's thread pools and not finished yet; ``wait_idle`` returns when there is none."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def started(self) -> None:
        with self._cond:
            self._count += 1

    def finished(self) -> None:
        with self._cond:
            self._count -= 1
            if self._count == 0:
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)


class TrackedPool(ThreadPoolExecutor):
    """A thread pool that counts its unfinished work in a :class:`Backlog` (shared by the bot's pools, so work one
    pool hands to another is never "done" in between)."""

    def __init__(self, backlog: Backlog, *, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.backlog = backlog

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self.backlog.started()
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self.backlog.finished()
            raise
        future.add_done_callback(lambda _: self.backlog.finished())
        return future


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
    backlog: Backlog = field(default_factory=Backlog)
    workers: ThreadPoolExecutor | None = None  # the answer workers (built on the backlog when not given)
    _policies: dict[str, StalenessPolicy | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.workers is None:
            self.workers = TrackedPool(self.backlog, max_workers=4, thread_name_prefix="bestbefore-answer")

    @property
    def answer_workers(self) -> ThreadPoolExecutor:
        assert self.workers is not None
        return self.workers

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every event handed to the bot so far is fully handled (listeners and answers). Raises
        ``TimeoutError`` after ``timeout`` seconds."""
        if not self.backlog.wait_idle(timeout):
            raise TimeoutError(f"the bot still had work after {timeout} s")

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
        self.answer_workers.shutdown(wait=wait)
