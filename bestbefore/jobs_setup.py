"""Wiring the scheduled jobs and the refresh webhook from ``Services`` (used by ``serve``, ``jobs``, ``digest``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.routing import Route

from bestbefore.services import Services
from jobs.locks import LocalSlotClaims, RedisSlotClaims, SlotClaims
from jobs.nudges import NudgeLog
from jobs.ports import Clock, SlackWeb
from jobs.runs import JobDeps
from jobs.scheduler import JobScheduler, build_scheduler
from jobs.webhook import RefreshQueue, refresh_webhook_route
from rag.answer.pipeline import utcnow
from rag.config import Settings

log = logging.getLogger("bestbefore.jobs")


def slack_client(settings: Settings) -> SlackWeb | None:
    """The Slack Web API client, or None without ``SLACK_BOT_TOKEN`` (jobs that post then fail, and say why)."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        return None
    from bot.app import web_client

    return web_client(settings)


def job_deps(services: Services, *, slack: SlackWeb | None = None) -> JobDeps:
    settings = services.settings
    return JobDeps(
        index=services,
        ledger=services.ledger,
        slack=slack if slack is not None else slack_client(settings),
        nudges=NudgeLog(settings.ledger_url) if settings.app.digest.nudge_owners else None,
    )


def slot_claims(settings: Settings) -> SlotClaims:
    """Redis claims shared by every replica when ``REDIS_URL`` is set, else claims within this process."""
    if settings.redis_url:
        return RedisSlotClaims.from_url(settings.redis_url)
    return LocalSlotClaims()


@dataclass
class JobsRuntime:
    """The running scheduler, the webhook's refresh queue and its route (for the web app's ``extra_routes``)."""

    deps: JobDeps
    scheduler: JobScheduler
    queue: RefreshQueue
    webhook_route: Route

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until no scheduled job runs and no webhook refresh is pending or running."""
        self.scheduler.drain(timeout)
        if not self.queue.wait_idle(timeout):
            raise TimeoutError(f"a webhook refresh was still pending after {timeout} s")

    def close(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.queue.close(timeout=5)
        if self.deps.nudges is not None:
            self.deps.nudges.close()


def start_jobs(services: Services, *, clock: Clock = utcnow, start: bool = True) -> JobsRuntime:
    """Build the scheduler (and start it), the background refresh queue and ``POST /hooks/refresh``."""
    settings = services.settings
    deps = job_deps(services)
    scheduler = build_scheduler(deps, claims=slot_claims(settings), clock=clock)

    def refresh(source: str, paths: tuple[str, ...] | None) -> None:
        report = services.indexer.refresh([settings.app.source(source)], paths=paths, now=clock())
        report.raise_for_failures()  # recorded already; the queue logs it
        log.info("webhook refresh of %s: %s", source, report.total().summary())

    queue = RefreshQueue(refresh)
    route = refresh_webhook_route(settings.bestbefore_webhook_secret, queue, [s.name for s in settings.app.sources])
    if start:
        scheduler.start()
    return JobsRuntime(deps=deps, scheduler=scheduler, queue=queue, webhook_route=route)
