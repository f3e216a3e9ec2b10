"""``GET /metrics`` (Prometheus text) and ``GET /dashboard``: four panels (latency, cost, quality, freshness).

The page is self-contained (inline SVG drawn by a few lines of JavaScript, no CDN) and reads
``GET /dashboard/data?window=7d`` (the ledger's :class:`rag.ledger.stats.LedgerStats` as JSON). The dashboard and
its data need ``BESTBEFORE_DASHBOARD_TOKEN`` (``Authorization: Bearer`` or the login form's cookie, never the URL:
see :mod:`bestbefore.dashboard_auth`) when one is configured; without a token only loopback clients may see them.
``/metrics`` is open, like any Prometheus endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import start_http_server
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bestbefore.dashboard_auth import login_routes, refusal
from bestbefore.dashboard_page import PAGE
from bestbefore.services import Services
from jobs.freshness import freshness_panel
from jobs.watchdog import CITATION_WINDOW
from rag.config import DASHBOARD_MAX_WINDOW
from rag.durations import parse_positive_duration
from rag.errors import LedgerUnavailableError
from rag.models import DocMeta
from rag.observability.metrics import CONTENT_TYPE
from rag.reviews import DocReview

LEDGER_UNAVAILABLE = "ledger unavailable — the figures are back when the database is"


def dashboard_data(services: Services, window: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The figures behind the four panels for the last ``window`` (e.g. ``7d``); ValueError for a bad window."""
    span = parse_positive_duration(window)  # a ValueError (never an OverflowError) for nonsense like "99999999999d"
    if span > DASHBOARD_MAX_WINDOW:
        raise ValueError(f"window must be between 1s and {DASHBOARD_MAX_WINDOW.days}d, got {window!r}")
    until = now or datetime.now(UTC)
    stats = services.ledger.stats(until - span, until)
    docs = {doc_id: d.meta for doc_id, d in services.store.stored_docs().items()}
    reviews = services.doc_reviews.reviews({doc_id: meta.source_hash for doc_id, meta in docs.items()})
    citations = services.ledger.citations_by_doc(until - CITATION_WINDOW, until)
    freshness = freshness_panel(stats, list(docs.values()), services.policy, citations, until, reviews)
    return {
        "window": window,
        **stats.to_json(),
        "freshness": freshness,
        "doc_reviews": doc_review_figures(services, docs, reviews, until - span, until),
    }


def doc_review_figures(
    services: Services, docs: Mapping[str, DocMeta], current: Mapping[str, DocReview], since: datetime, until: datetime
) -> dict[str, Any]:
    """Verifications and flags in the window, and the docs with open flags now (title, count)."""
    log = services.doc_reviews
    flagged = sorted(
        ((docs[d].title, len(r.open_flags)) for d, r in current.items() if r.open_flags and d in docs),
        key=lambda t: -t[1],
    )
    return {
        "verified": sum(1 for v in log.verifications() if since <= v.at < until),
        "flagged": sum(1 for f in log.flags() if since <= f.at < until),
        "open_flags": [{"title": title, "flags": count} for title, count in flagged],
    }


def dashboard_routes(services: Services) -> list[Route]:
    """``/metrics``, ``/dashboard`` and ``/dashboard/data`` for the web app."""

    async def metrics(request: Request) -> Response:
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    async def dashboard(request: Request) -> Response:
        refused = refusal(request, services.settings.bestbefore_dashboard_token, page=True)
        if refused is not None:
            return refused
        return HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})

    async def data(request: Request) -> Response:
        refused = refusal(request, services.settings.bestbefore_dashboard_token, page=False)
        if refused is not None:
            return refused
        window = request.query_params.get("window", services.settings.app.monitoring.dashboard_window)
        try:
            payload = await run_in_threadpool(dashboard_data, services, window)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except LedgerUnavailableError:  # the page says so; answers go on and the ledger catches up later
            return JSONResponse({"error": LEDGER_UNAVAILABLE}, status_code=503, headers={"Retry-After": "30"})
        return JSONResponse(payload, headers={"Cache-Control": "no-store"})

    return [
        Route("/metrics", metrics, methods=["GET"], name="metrics"),
        Route("/dashboard", dashboard, methods=["GET"], name="dashboard"),
        Route("/dashboard/data", data, methods=["GET"], name="dashboard_data"),
        *login_routes(services.settings.bestbefore_dashboard_token),
    ]


def start_metrics_port(services: Services) -> Any | None:
    """Serve ``/metrics`` on ``[monitoring] metrics_port`` (Socket Mode has no other HTTP listener for Prometheus).

    Returns the server (call ``.shutdown()``), or None when the port is 0.
    """
    monitoring = services.settings.app.monitoring
    if not monitoring.metrics_port:
        return None
    server, _thread = start_http_server(
        monitoring.metrics_port, addr=monitoring.metrics_host, registry=services.metrics.registry
    )
    return server
