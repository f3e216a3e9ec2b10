"""Wiring the scheduled jobs and the refresh webhook from ``Services`` (used by ``serve``, ``jobs``, ``digest``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.routing import Route

from bestbefore.services import Services
from jobs.ports import Clock
from jobs.runs import JobDeps
from jobs.scheduler import JobScheduler, build_scheduler
from jobs.webhook import RefreshQueue, refresh_webhook_route
from rag.answer.pipeline import utcnow

log = logging.getLogger("bestbefore.jobs")


def job_deps(services: Services) -> JobDeps:
    """What the jobs use, all from ``services`` (built once there): index, ledger, the bot's Slack publisher (on the
    one ``WebClient``), the nudge log."""
    return JobDeps(
        index=services,
        ledger=services.ledger,
        slack=services.publisher,
        nudges=services.nudges,
        change_notices=services.change_notices,
    )


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


def start_jobs(services: Services, *, clock: Clock = utcnow, start: bool = True) -> JobsRuntime:
    """Build the scheduler (and start it), the background refresh queue and ``POST /hooks/refresh``."""
    settings = services.settings
    deps = job_deps(services)
    scheduler = build_scheduler(deps, claims=services.job_claims, clock=clock)

    def refresh(source: str, paths: tuple[str, ...] | None) -> None:
        report = services.indexer.refresh([settings.app.source(source)], paths=paths, now=clock())
        report.raise_for_failures()  # recorded already; the queue logs it
        log.info("webhook refresh of %s: %s", source, report.total().summary())

    queue = RefreshQueue(refresh)
    route = refresh_webhook_route(settings.bestbefore_webhook_secret, queue, [s.name for s in settings.app.sources])
    if start:
        scheduler.start()
    return JobsRuntime(deps=deps, scheduler=scheduler, queue=queue, webhook_route=route)
