"""``bestbefore jobs`` (the scheduler on its own) and ``bestbefore digest`` (print or post a weekly digest)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from typing import Annotated

import typer

from bestbefore.cli_context import services_of
from bestbefore.console import console, err, print_error, print_warning
from bestbefore.jobs_setup import job_deps, start_jobs
from bestbefore.startup_checks import warn_if_redis_is_down
from jobs import runs
from jobs.weeks import reported_week, week_bounds, week_of
from rag.answer.pipeline import utcnow
from rag.errors import BestBeforeError


def jobs_command(ctx: typer.Context) -> None:
    """Run the scheduled jobs (refresh, staleness watchdog, weekly digest) until Ctrl-C, without the bot."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    services = services_of(ctx)
    warn_if_redis_is_down(services.settings, print_warning)
    try:
        runtime = start_jobs(services)
    except BestBeforeError as exc:
        print_error(exc)
        raise typer.Exit(1) from exc
    for name, when in runtime.scheduler.next_runs().items():
        err.print(f"{name}: next run {when:%Y-%m-%d %H:%M %Z}" if when else f"{name}: never")
    err.print("Running the scheduled jobs; Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()


def digest_command(
    ctx: typer.Context,
    week: Annotated[str | None, typer.Option("--week", help="ISO week, e.g. 2026-W47 (default: last week)")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post it to the digest channel (once per week)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Print the weekly digest (questions, latency, cost, quality, refreshes, stale docs) or post it to Slack."""
    services = services_of(ctx)
    now = utcnow()
    try:
        deps = job_deps(services)
        chosen = week or reported_week(now, deps.timezone)
        week_bounds(chosen, deps.timezone)  # a bad week name fails here, with the expected form
        if chosen >= week_of(now, deps.timezone) and not as_json:
            err.print(f"[yellow]{chosen} is not over yet: the figures are partial.[/yellow]")
        if post:
            ts = runs.post_digest(deps, chosen, now)
            if ts is None:
                err.print(f"The digest for {chosen} was already posted; not posting it again.")
            else:
                err.print(f"Posted the digest for {chosen} to {services.settings.app.digest.channel} (ts {ts}).")
            return
        digest = runs.compose_digest(deps, chosen, now)
    except BestBeforeError as exc:
        print_error(exc)
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(digest.to_json(), indent=2, ensure_ascii=False, default=str))
    else:
        console.print(digest.text(), markup=False, highlight=False)
