"""The job scheduler (APScheduler 3.x) used by ``bestbefore serve`` and ``bestbefore jobs``.

* Schedules are cron lines in ``[schedules]`` of bestbefore.toml, in its timezone.
* Each scheduled firing is a *slot* (job name + the cron time it belongs to). A slot runs once across replicas
  and restarts: it is claimed in Redis (``SET NX PX`` with renewal) when ``REDIS_URL`` is set, in-process otherwise;
  the digest also checks the ledger, which records posts per ISO week.
* On start, a digest whose Monday slot passed while the process was down (within ``misfire_grace``) and that the
  ledger has not seen is posted at once.
* A failing job logs, records the failure in the ledger (the next digest lists it) and never kills the process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs import runs
from jobs.locks import SlotClaims
from jobs.ports import Clock
from jobs.runs import JobDeps
from jobs.weeks import cron_trigger, last_fire_time, reported_week
from rag.durations import parse_duration
from rag.errors import BestBeforeError

log = logging.getLogger(__name__)

JOB_NAMES = ("refresh", "watchdog", "digest")  # the [schedules] keys (checked at start-up)


class JobScheduler:
    def __init__(self, deps: JobDeps, *, claims: SlotClaims, clock: Clock) -> None:
        schedules = deps.settings.app.schedules
        self.deps = deps
        self.claims = claims
        self.clock = clock
        self.tz = deps.timezone
        self.grace = parse_duration(schedules.misfire_grace)
        self._running = 0
        self._idle = threading.Condition()
        self.triggers: dict[str, CronTrigger] = {
            name: cron_trigger(getattr(schedules, name), self.tz) for name in JOB_NAMES
        }
        self.bodies: dict[str, Callable[[datetime, datetime], Any]] = {
            "refresh": lambda slot, now: runs.refresh_all(deps, now),
            "watchdog": lambda slot, now: runs.watchdog(deps, now),
            "digest": lambda slot, now: runs.post_digest(deps, reported_week(slot, self.tz), now),
        }
        self.scheduler = BackgroundScheduler(
            timezone=self.tz,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(self.grace.total_seconds()),
            },
        )
        for name, trigger in self.triggers.items():
            if name == "digest" and deps.slack is None:
                log.warning("no SLACK_BOT_TOKEN: the weekly digest is not scheduled")
                continue
            self.scheduler.add_job(self.fire, trigger, args=[name], id=name, name=f"bestbefore {name}")

    def fire(self, name: str) -> bool:
        """What APScheduler calls: run the slot ``name`` is due for now (if nobody ran it yet)."""
        now = self.clock()
        slot = last_fire_time(self.triggers[name], now, self.grace) or now
        return self.run(name, slot, now)

    def run(self, name: str, slot: datetime, now: datetime) -> bool:
        """Run one slot of a job, once. True if this call ran it. Failures are logged and recorded, never raised."""
        key = f"{name}@{slot.isoformat()}"
        with self._idle:
            self._running += 1
        try:
            return self._run_claimed(name, key, slot, now)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _run_claimed(self, name: str, key: str, slot: datetime, now: datetime) -> bool:
        try:
            with self.claims.claim(key) as mine:
                if not mine:
                    log.info("job slot %s already taken", key)
                    return False
                self.bodies[name](slot, now)
        except Exception as exc:  # the claim is released, so a restart may retry the slot
            if isinstance(exc, BestBeforeError):  # says what to do; no traceback needed
                log.error("job %s failed: %s", key, exc)
            else:
                log.exception("job %s failed", key)
            try:
                self.deps.ledger.record_job_failure(name, f"{type(exc).__name__}: {exc}", at=now)
            except Exception:
                log.exception("could not record the failure of %s", key)
        return True

    def catch_up(self) -> bool:
        """Post a digest missed while the process was down (its slot passed within ``misfire_grace``)."""
        now = self.clock()
        slot = last_fire_time(self.triggers["digest"], now, self.grace)
        if slot is None:
            return False
        week = reported_week(slot, self.tz)
        try:
            if self.deps.ledger.digest_posted(week):
                return False
        except Exception:
            log.exception("could not check the ledger for the %s digest", week)
            return False
        log.info("the digest for %s (due %s) was missed; posting it now", week, slot.isoformat())
        return self.run("digest", slot, now)

    def start(self) -> None:
        """Start the schedules in a background thread; a missed digest is caught up in that thread too."""
        self.scheduler.start()
        if self.deps.slack is not None:
            self.scheduler.add_job(self.catch_up, id="digest-catch-up", name="bestbefore digest catch-up")
        for job in self.scheduler.get_jobs():
            log.info("scheduled %s: next run %s", job.name, getattr(job, "next_run_time", None))

    def next_runs(self) -> dict[str, datetime | None]:
        """When each scheduled job fires next (jobs left unscheduled, like a digest without Slack, are absent)."""
        now = self.clock()
        scheduled = {job.id for job in self.scheduler.get_jobs()}
        return {name: t.get_next_fire_time(None, now) for name, t in self.triggers.items() if name in scheduled}

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until no job body is running. Raises ``TimeoutError`` after ``timeout`` seconds."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._running == 0, timeout=timeout):
                raise TimeoutError(f"a scheduled job was still running after {timeout} s")

    def shutdown(self, *, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        self.claims.close()


def build_scheduler(deps: JobDeps, *, claims: SlotClaims, clock: Clock) -> JobScheduler:
    return JobScheduler(deps, claims=claims, clock=clock)
