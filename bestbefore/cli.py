"""The ``bestbefore`` command line: a thin layer that builds Settings/Services and prints results."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bestbefore import render
from bestbefore.cli_context import emit_json, fail, services_of, settings_of
from bestbefore.console import (
    CONFIG_EXIT_CODE,
    ReportingGroup,
    console,
    err,
    print_error_line,
    print_warning,
    show_tracebacks,
)
from bestbefore.evaluate import eval_command
from bestbefore.jobs_cli import digest_command, jobs_command
from bestbefore.services import Services
from bestbefore.startup_checks import warn_if_redis_is_down
from rag.answer.pipeline import AskContext, answer_question, utcnow
from rag.answer.staleness import content_date, stale_sources
from rag.config import SourceConfig
from rag.errors import BestBeforeError
from rag.index.refresh import RefreshResult
from rag.ingest.folder_source import folder_source
from rag.remembered_sources import REMEMBERED_FILE, forget, remember
from rag.reviews import NO_REVIEW

app = typer.Typer(
    cls=ReportingGroup,
    no_args_is_help=True,
    add_completion=False,
    help="Answers from your docs, and says when they are stale.",
)
app.command("eval")(eval_command)
app.command("jobs")(jobs_command)
app.command("digest")(digest_command)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", envvar="BESTBEFORE_CONFIG", help="Path to bestbefore.toml")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Debug logging, and tracebacks with errors (or BESTBEFORE_LOG=debug)")
]


@app.callback()
def main(ctx: typer.Context, config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    verbose = verbose or os.environ.get("BESTBEFORE_LOG", "").strip().lower() == "debug"
    show_tracebacks(verbose)
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for package in ("bestbefore", "rag", "bot", "jobs"):
            logging.getLogger(package).setLevel(logging.DEBUG)
    ctx.obj = {"config": config}


def flag_error(flag: str, problem: object) -> typer.Exit:
    """A bad command-line value: one line naming the flag, exit code 2."""
    print_error_line(f"{flag}: {problem}")
    return typer.Exit(CONFIG_EXIT_CODE)


def run_refresh(ctx: typer.Context, source: str | None, *, full: bool, as_json: bool) -> RefreshResult:
    """Refresh the configured sources (or one) through the one refresh path, with a progress bar per source."""
    services = services_of(ctx)
    target = _sources_for(services, source)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=as_json, transient=False,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def step(name: str, done: int, count: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"Indexing {name}", total=None)
            bar.update(tasks[name], completed=done, total=count)

        report = services.indexer.refresh(target, full=full, progress=step)
    report.raise_for_failures()
    return report.total()


def _sources_for(services: Services, source: str | None) -> list[SourceConfig]:
    app_config = services.settings.app
    if source is None:
        if not app_config.sources:
            raise fail(
                BestBeforeError(
                    "No sources configured: run `bestbefore ingest PATH` on your docs folder, or add a [[sources]] "
                    "table to bestbefore.toml"
                )
            )
        return list(app_config.sources)
    try:
        return [app_config.source(source)]
    except BestBeforeError as exc:
        raise fail(exc) from exc


@app.command()
def ingest(
    ctx: typer.Context,
    folder: Annotated[
        Path | None, typer.Argument(help="A docs folder to index without a bestbefore.toml (remembered after)")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source")] = None,
    full: Annotated[bool, typer.Option("--full", help="Drop the index and rebuild it from scratch")] = False,
    as_json: JsonOption = False,
) -> None:
    """Index the configured sources, or FOLDER with no configuration at all (incrementally; --full rebuilds)."""
    if folder is not None:
        source = _folder_as_source(services_of(ctx), folder)
    _refresh_command(ctx, source, full=full, as_json=as_json)


def _folder_as_source(services: Services, folder: Path) -> str:
    """The source to index for ``ingest FOLDER``: a configured one with that path, or (with no bestbefore.toml) the
    folder itself, remembered in the data directory."""
    settings = services.settings
    wanted = folder.expanduser().resolve()
    if settings.config_path is not None:
        for configured in settings.app.sources:
            if wanted in (configured.path, configured.path.parent):
                return configured.name
        raise fail(
            BestBeforeError(
                f"{settings.config_path} lists the sources and {folder} is not one of them: add a [[sources]] table "
                f'with path = "{wanted}" to it, or run `bestbefore ingest` alone'
            )
        )
    try:
        found = folder_source(folder)
        settings.app.sources = remember(settings.home, found)
    except BestBeforeError as exc:
        raise fail(exc) from exc
    err.print(f"Indexing {found.path} as source {found.name!r} (remembered in {settings.home}; no bestbefore.toml)")
    return found.name


def _hand_over_to_config(services: Services) -> None:
    """A bestbefore.toml took over from zero configuration: drop what only remembered sources indexed."""
    settings = services.settings
    if settings.config_path is None or not (settings.bestbefore_home / REMEMBERED_FILE).exists():
        return
    configured = {s.name for s in settings.app.sources}
    for old in forget(settings.bestbefore_home):
        if old.name not in configured:
            docs = list(services.store.stored_docs(old.name))
            services.store.delete_docs(docs)
            err.print(f"{settings.config_path} takes over: removed {len(docs)} docs of remembered source {old.name!r}")


@app.command()
def refresh(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source")] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-index what changed: unchanged docs cost one hash, only changed chunks are embedded."""
    _refresh_command(ctx, source, full=False, as_json=as_json)


def _refresh_command(ctx: typer.Context, source: str | None, *, full: bool, as_json: bool) -> None:
    try:
        _hand_over_to_config(services_of(ctx))
        result = run_refresh(ctx, source, full=full, as_json=as_json)  # each source's run is in the ledger
    except BestBeforeError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(result.to_json())
    else:
        console.print(render.refresh_table(result))
        if result.skipped:
            console.print(render.skipped_table(result.skipped))
        if result.date_warnings:
            console.print(render.date_warnings_table(result.date_warnings))
        console.print(result.summary())


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question")],
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Search only these sources")] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from the indexed docs, with sources, their ages and a staleness warning."""
    services = services_of(ctx)
    try:
        if services.store.count_chunks() == 0:
            raise fail(
                BestBeforeError(
                    "The index is empty: run `bestbefore ingest` first"
                    if services.settings.app.sources
                    else "The index is empty: run `bestbefore ingest PATH` on your docs folder first"
                )
            )
        for name in source or []:
            if not _is_known_source(services, name):
                raise flag_error(
                    "--source", f"no source named {name!r} (sources: {services.settings.app.source_names()})"
                )
        answer = answer_question(
            question, services.pipeline, context=AskContext(surface="cli", sources=tuple(source) if source else None)
        )
    except BestBeforeError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(render.answer_json(answer))
    else:
        render.print_answer(console, answer)


def _is_known_source(services: Services, name: str) -> bool:
    """Configured in bestbefore.toml, or still in the index from an earlier configuration."""
    configured = any(s.name == name for s in services.settings.app.sources)
    return configured or bool(services.store.stored_docs(name))


@app.command()
def sources(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every indexed document with its date, hash, chunk count, staleness, verification and open flags."""
    services = services_of(ctx)
    try:
        stored = services.store.stored_docs()
        passages = services.store.passages()
    except BestBeforeError as exc:  # e.g. Weaviate unreachable: one line naming WEAVIATE_URL
        raise fail(exc) from exc
    reviews = services.doc_reviews.reviews({doc_id: d.meta.source_hash for doc_id, d in stored.items()})
    rows = render.source_rows(stored, services.policy, utcnow(), reviews, passages)
    if as_json:
        emit_json(rows)
    else:
        console.print(render.sources_table(rows))


@app.command()
def stale(
    ctx: typer.Context,
    basis: Annotated[
        str | None,
        typer.Option("--basis", help='"page" (its last change) or "passage" (when most of its text was written)'),
    ] = None,
    suggest: Annotated[
        bool, typer.Option("--suggest", help="Propose a threshold per path glob from how often those pages change")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Documents past their staleness threshold, oldest first ("still accurate" restarts a doc's clock; with
    --suggest, thresholds to start from)."""
    services = services_of(ctx)
    if suggest:
        found_suggestions = render.threshold_suggestions(services.settings.app.sources)
        if as_json:
            emit_json([s.to_json() for s in found_suggestions])
        else:
            console.print(render.suggestions_table(found_suggestions))
            console.print(render.suggestions_toml(found_suggestions), markup=False, highlight=False, soft_wrap=True)
        return
    chosen = basis or services.policy.basis
    if chosen not in ("page", "passage"):
        raise fail(BestBeforeError(f'--basis is "page" or "passage", not {chosen!r}'))
    policy = replace(services.policy, basis=chosen)
    try:
        docs = [d.meta for d in services.store.stored_docs().values()]
        passages = services.store.passages() if chosen == "passage" else {}
    except BestBeforeError as exc:
        raise fail(exc) from exc
    reviews = services.doc_reviews.reviews({d.doc_id: d.source_hash for d in docs})
    dates = {d: when for d, p in passages.items() if (when := content_date(p)) is not None}
    found = stale_sources(policy, docs, utcnow(), dates, reviews)
    if as_json:
        emit_json([render.stale_json(s, reviews.get(s.meta.doc_id, NO_REVIEW)) for s in found])
    else:
        console.print(render.stale_table(found, reviews))


@app.command()
def stats(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Window: 24h, 7d, 2w, 3mo")] = "7d",
    as_json: JsonOption = False,
) -> None:
    """Questions, latency, cost and quality over a window (the dashboard's figures, from the query ledger)."""
    from bestbefore.stats import stats_tables, window_stats

    services = services_of(ctx)
    try:
        figures = window_stats(services.ledger, since)
    except ValueError as exc:
        raise flag_error("--since", exc) from exc
    except BestBeforeError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(figures.to_json())
    else:
        console.print(stats_tables(figures))


@app.command()
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", "-p", help="HTTP port (/slack/events, /healthz)")] = 3000,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on")] = "0.0.0.0",
    jobs: Annotated[
        bool,
        typer.Option("--jobs/--no-jobs", help="Also run the scheduled jobs (off when `bestbefore jobs` runs them)"),
    ] = True,
) -> None:
    """Run the Slack bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP events on --port."""
    from bestbefore.dashboard import dashboard_routes
    from bestbefore.jobs_setup import start_jobs
    from bestbefore.serve import run_server  # slack-bolt and uvicorn load only for this command

    try:
        services_of(ctx).require_slack()  # a missing Slack token is reported before anything starts
        warn_if_redis_is_down(services_of(ctx).settings, print_warning)
        job_runtime = start_jobs(services_of(ctx), start=jobs)  # POST /hooks/refresh is served either way
        try:
            routes = [*dashboard_routes(services_of(ctx)), job_runtime.webhook_route]
            run_server(services_of(ctx), host=host, port=port, extra_routes=routes)
        finally:
            job_runtime.close()
    except BestBeforeError as exc:
        raise fail(exc) from exc


@app.command()
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete what bestbefore created in BESTBEFORE_HOME (the local index and ledger); nothing else there.

    A ledger in DATABASE_URL and a Weaviate collection are not touched.
    """
    settings = settings_of(ctx)
    home = settings.bestbefore_home
    files = settings.created_files()
    if not files:
        console.print(f"Nothing to remove: no bestbefore files in {home}")
        return
    names = ", ".join(path.name for path in files)
    if not yes:
        if not sys.stdin.isatty():
            raise flag_error("--yes", f"not given and no terminal to confirm on; nothing removed from {home}")
        if not typer.confirm(f"Delete {names} from {home}?"):
            console.print("Nothing removed.")
            raise typer.Exit(1)
    for path in files:
        path.unlink(missing_ok=True)
    if not any(home.iterdir()):
        home.rmdir()  # it held only what bestbefore made
    console.print(f"Removed {names} from {home}")
