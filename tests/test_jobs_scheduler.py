"""The scheduler: cron schedules, exactly-once slots across replicas (real Redis), missed digests, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from slack_sdk import WebClient

from jobs.locks import LocalSlotClaims, RedisSlotClaims
from jobs.runs import JobDeps
from jobs.scheduler import JobScheduler, build_scheduler
from jobs.weeks import cron_trigger, last_fire_time, reported_week, week_bounds
from rag.config import ScheduleConfig
from rag.errors import ConfigError
from tests.fakes.jobs_support import ledger_of, make_deps
from tests.fakes.slack_fake import BOT_TOKEN, FakeSlack

MONDAY_0900 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TZ = UTC


@pytest.fixture
def deps(tmp_path: Path, home: Path, slack: FakeSlack) -> Iterator[JobDeps]:
    deps = make_deps(tmp_path, slack=WebClient(token=BOT_TOKEN, base_url=slack.url))
    yield deps
    ledger_of(deps).close()


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def test_crontab_weekdays_mean_what_crontab_means() -> None:
    # APScheduler 3 counts Monday as 0; "1" in a crontab line is Monday, and must stay Monday here
    monday = cron_trigger("0 9 * * 1", TZ)
    assert monday.get_next_fire_time(None, datetime(2026, 11, 24, tzinfo=UTC)) == datetime(2026, 11, 30, 9, tzinfo=UTC)
    sunday = cron_trigger("30 6 * * 0", TZ)
    assert sunday.get_next_fire_time(None, datetime(2026, 11, 24, tzinfo=UTC)).weekday() == 6
    weekdays = cron_trigger("*/15 9-17 * * 1-5", TZ)
    assert weekdays.get_next_fire_time(None, datetime(2026, 11, 28, tzinfo=UTC)) == datetime(
        2026, 11, 30, 9, tzinfo=UTC
    )
    with pytest.raises(ConfigError, match="5 fields"):
        cron_trigger("0 9 * *", TZ)
    with pytest.raises(ConfigError, match="Schedule"):
        cron_trigger("0 9 * * 1", "Mars/Olympus")


def test_default_schedules_and_timezone(deps: JobDeps) -> None:
    tuesday = datetime(2026, 11, 24, 12, tzinfo=UTC)
    scheduler = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(tuesday))
    nxt = scheduler.next_runs()
    assert nxt["refresh"] == datetime(2026, 11, 25, 3, tzinfo=UTC)
    assert nxt["watchdog"] == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert nxt["digest"] == MONDAY_0900 + timedelta(days=7)
    scheduler.scheduler.start(paused=True)  # job defaults are applied when the scheduler starts
    jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
    scheduler.shutdown()
    assert set(jobs) == {"refresh", "watchdog", "digest"}
    assert jobs["digest"].misfire_grace_time == 3 * 86400 and jobs["digest"].coalesce is True
    # a digest firing in week 48 reports week 47 (Mon 16 - Sun 22 Nov)
    assert reported_week(MONDAY_0900, TZ) == "2026-W47"
    assert week_bounds("2026-W47", TZ)[0] == datetime(2026, 11, 16, tzinfo=UTC)


def test_timezone_of_the_schedule_is_used(tmp_path: Path, home: Path, slack: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.url)
    deps = make_deps(tmp_path, slack=client, schedules=ScheduleConfig(timezone="America/New_York"))
    scheduler = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(datetime(2026, 11, 24, tzinfo=UTC)))
    # Monday 09:00 in New York (EST, UTC-5) is 14:00 UTC
    assert scheduler.next_runs()["digest"] == datetime(2026, 11, 30, 14, tzinfo=UTC)
    ledger_of(deps).close()


def refresh_runs(deps: JobDeps) -> list[dict]:  # type: ignore[type-arg]
    return deps.ledger.refresh_runs_between(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def test_two_replicas_sharing_redis_run_each_slot_once(deps: JobDeps, redis_url: str) -> None:
    """Two schedulers fire the same refresh slot at the same moment; one runs it, the other (and a late one) skip."""
    now = datetime(2026, 11, 24, 3, 0, 2, tzinfo=UTC)
    replicas = [build_scheduler(deps, claims=RedisSlotClaims.from_url(redis_url), clock=fixed(now)) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[bool] = []

    def fire(scheduler: JobScheduler) -> None:
        start.wait()
        results.append(scheduler.fire("refresh"))

    threads = [threading.Thread(target=fire, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, True]
    assert len(refresh_runs(deps)) == 1
    # a replica whose timer fires a minute late for the same 03:00 slot skips it too
    late = build_scheduler(deps, claims=RedisSlotClaims.from_url(redis_url), clock=fixed(now + timedelta(minutes=1)))
    assert late.fire("refresh") is False
    # the next day's slot is a new slot
    tomorrow = build_scheduler(deps, claims=RedisSlotClaims.from_url(redis_url), clock=fixed(now + timedelta(days=1)))
    assert tomorrow.fire("refresh") is True
    assert len(refresh_runs(deps)) == 2
    keys = sorted(redis.Redis.from_url(redis_url, decode_responses=True).keys("bestbefore:job:*"))
    assert keys == [
        "bestbefore:job:refresh@2026-11-24T03:00:00+00:00",
        "bestbefore:job:refresh@2026-11-25T03:00:00+00:00",
    ]
    for scheduler in [*replicas, late, tomorrow]:
        scheduler.shutdown()


def test_redis_claim_is_renewed_while_a_long_job_runs(redis_url: str) -> None:
    claims = RedisSlotClaims.from_url(redis_url, ttl=timedelta(milliseconds=300))
    other = RedisSlotClaims.from_url(redis_url, ttl=timedelta(milliseconds=300))
    client = redis.Redis.from_url(redis_url)
    with claims.claim("slow@1") as mine:
        assert mine
        time.sleep(0.8)  # well past the 300 ms ttl: only renewal keeps the claim alive
        assert client.pttl("bestbefore:job:slow@1") > 0
        with other.claim("slow@1") as theirs:
            assert theirs is False
    assert client.pttl("bestbefore:job:slow@1") > 7 * 86400 * 1000  # kept as a "done" marker
    with pytest.raises(RuntimeError), claims.claim("broken@1") as mine:
        assert mine
        raise RuntimeError("job failed")
    assert client.exists("bestbefore:job:broken@1") == 0  # released: a restart may retry the slot
    claims.close()
    other.close()


def test_restart_after_a_missed_monday_posts_the_digest_once(deps: JobDeps, slack: FakeSlack) -> None:
    wednesday = datetime(2026, 11, 25, 10, tzinfo=UTC)  # the bot was down on Monday 09:00
    first = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(wednesday))
    first.start()  # the real APScheduler thread runs the catch-up
    try:
        slack.wait_for(lambda fake: len(fake.calls_to("files.completeUploadExternal")) == 1, timeout=30)
    finally:
        first.shutdown()
    assert deps.ledger.digest_posted("2026-W47")
    [post] = slack.calls_to("chat.postMessage")
    assert "2026-W47" in post.params["text"]
    # restarting again (new process: fresh in-process claims) finds it in the ledger and posts nothing
    again = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(wednesday + timedelta(hours=2)))
    assert again.catch_up() is False
    assert again.fire("digest") is True  # the slot runs, but the ledger says the week is done: no second post
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_no_catch_up_beyond_the_misfire_grace_or_before_the_slot(deps: JobDeps, slack: FakeSlack) -> None:
    too_late = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(MONDAY_0900 + timedelta(days=3, minutes=1)))
    assert too_late.catch_up() is False
    before = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(MONDAY_0900 - timedelta(minutes=1)))
    assert before.catch_up() is False  # last Monday's digest is 7 days old: outside the 3-day grace
    assert slack.calls_to("chat.postMessage") == []
    trigger = cron_trigger("0 9 * * mon", TZ)
    assert last_fire_time(trigger, MONDAY_0900, timedelta(days=3)) == MONDAY_0900


def test_a_failing_job_is_recorded_and_never_raises(tmp_path: Path, home: Path) -> None:
    deps = make_deps(tmp_path)  # no Slack client: posting the digest fails
    scheduler = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(MONDAY_0900))
    assert set(scheduler.next_runs()) == {"refresh", "watchdog"}  # so it is not even scheduled
    assert scheduler.fire("digest") is True
    failures = deps.ledger.job_failures_between(MONDAY_0900, MONDAY_0900 + timedelta(seconds=1))
    assert [(f["job"], f["error"]) for f in failures] == [
        ("digest", "ConfigError: Posting the digest needs SLACK_BOT_TOKEN")
    ]
    # the failed slot's claim was released: a retry (e.g. after fixing the token and restarting) may run it
    assert scheduler.fire("digest") is True
    assert len(deps.ledger.job_failures_between(MONDAY_0900, MONDAY_0900 + timedelta(seconds=1))) == 2
    ledger_of(deps).close()


def test_refresh_job_refreshes_every_source_and_a_broken_source_is_recorded(deps: JobDeps, tmp_path: Path) -> None:
    now = datetime(2026, 11, 24, 3, tzinfo=UTC)
    scheduler = build_scheduler(deps, claims=LocalSlotClaims(), clock=fixed(now))
    assert scheduler.run("refresh", now, now)
    [run] = refresh_runs(deps)
    assert run["ok"] and run["result"]["docs_new"] == 4
    for path in (tmp_path / "docs").iterdir():
        path.unlink()
    (tmp_path / "docs").rmdir()  # the source folder vanished
    assert scheduler.run("refresh", now + timedelta(days=1), now + timedelta(days=1))
    last = refresh_runs(deps)[-1]
    assert last["ok"] is False and "SourceError" in last["error"]
    assert [f["job"] for f in deps.ledger.job_failures_between(now, now + timedelta(days=2))] == ["refresh"]
