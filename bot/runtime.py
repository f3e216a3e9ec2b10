"""What the bot's listeners share: the services, the per-channel settings, the event claims, the bot's one pool."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from bot.dedupe import EventClaims
from rag.answer.pipeline import RagPipeline
from rag.answer.staleness import StalenessPolicy
from rag.config import AppConfig, ChannelConfig, StalenessConfig
from rag.ledger.feedback import FeedbackStore
from rag.limits.questions import QuestionLimits

log = logging.getLogger(__name__)


class BotServices(Protocol):
    """The part of ``bestbefore.services.Services`` the bot uses."""

    @property
    def pipeline(self) -> RagPipeline: ...

    @property
    def feedback(self) -> FeedbackStore: ...


class BotWorkers:
    """The bot's one thread pool: each event is handed here once, by the thread that acked it.

    Urgent work (posting a placeholder) runs before queued answers, so a burst of questions never
    delays anyone's placeholder; answers then take the workers in arrival order. ``wait_idle`` returns when nothing
    handed over is left (``BotRuntime.drain``).
    """

    URGENT, LATER, STOP = 0, 1, 2

    def __init__(self, threads: int = 4, *, name: str = "bestbefore-bot") -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], object] | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._unfinished = 0
        self._idle = threading.Condition()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(max(1, threads))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., object], /, *args: Any, urgent: bool = False, **kwargs: Any) -> None:
        with self._idle:
            self._unfinished += 1
        self._queue.put((self.URGENT if urgent else self.LATER, next(self._order), partial(fn, *args, **kwargs)))

    def _work(self) -> None:
        while True:
            _, _, task = self._queue.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # each task reports its own failures; this only keeps the worker alive
                log.exception("a bot task failed")
            finally:
                with self._idle:
                    self._unfinished -= 1
                    if self._unfinished == 0:
                        self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop after the work already handed over; ``wait`` joins the workers."""
        for _ in self._threads:
            self._queue.put((self.STOP, next(self._order), None))
        if wait:
            for thread in self._threads:
                thread.join()


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
    workers: BotWorkers = field(default_factory=BotWorkers)
    limits: QuestionLimits | None = None  # [limits]: per-user and per-channel rate limits
    _policies: dict[str, StalenessPolicy | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every event handed to the bot so far is fully handled (listeners and answers). Raises
        ``TimeoutError`` after ``timeout`` seconds."""
        if not self.workers.wait_idle(timeout):
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
        self.workers.shutdown(wait=wait)
        if self.limits is not None:
            self.limits.close()
