"""``POST /hooks/refresh``: a signed request to re-index a source (or some of its paths), run in the background.

The caller signs ``f"{timestamp}.{body}"`` with HMAC-SHA256 under ``BESTBEFORE_WEBHOOK_SECRET`` and sends::

    X-Bestbefore-Timestamp: 1764072000          (unix seconds)
    X-Bestbefore-Signature: sha256=<hex digest>
    {"source": "handbook", "paths": ["policies/leave.md"]}   ("paths" optional: the whole source)

Missing, invalid or old (more than 5 minutes either way) signatures get 401. A valid request gets 202 at once; the
refresh runs on one worker thread. Bursts coalesce: requests for a source already waiting merge into its pending
run (paths are united; a whole-source request absorbs path lists), so a push storm costs one or two refreshes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import PurePosixPath

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Bestbefore-Timestamp"
SIGNATURE_HEADER = "X-Bestbefore-Signature"
MAX_AGE_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024
MAX_PATHS = 1000
MAX_PATH_CHARS = 1024

RefreshFn = Callable[[str, tuple[str, ...] | None], object]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Bestbefore-Signature`` value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def check_signature(secret: str, timestamp: str | None, sent: str | None, body: bytes, now: float) -> str | None:
    """None if the request is authentic and fresh, else why not (no secret material in the reason)."""
    if not timestamp or not sent:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
    try:
        moment = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not unix seconds"
    if abs(now - moment) > MAX_AGE_SECONDS:
        return "timestamp too old (or in the future): re-sign the request"
    if not hmac.compare_digest(signature(secret, timestamp, body), sent.strip()):
        return "invalid signature"
    return None


class RefreshQueue:
    """Pending refreshes per source, run one at a time on a worker thread; bursts merge into one pending run."""

    def __init__(self, refresh: RefreshFn) -> None:
        self._refresh = refresh
        self._pending: dict[str, set[str] | None] = {}  # source -> paths (None = the whole source)
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self._worker = threading.Thread(target=self._work, name="bestbefore webhook refresh", daemon=True)
        self._worker.start()

    def submit(self, source: str, paths: Sequence[str] | None = None) -> bool:
        """Queue a refresh; False if it merged into one already waiting for this source."""
        with self._cond:
            merged = source in self._pending
            if paths is None or (merged and self._pending[source] is None):
                self._pending[source] = None
            else:
                self._pending.setdefault(source, set())
                current = self._pending[source]
                if current is not None:
                    current.update(paths)
            self._cond.notify_all()
            return not merged

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed and not self._pending:
                    return
                source = next(iter(self._pending))
                paths = self._pending.pop(source)
                self._busy = True
            try:
                self._refresh(source, tuple(sorted(paths)) if paths is not None else None)
            except Exception:  # recorded in the ledger by the refresh itself; the worker keeps going
                log.exception("webhook refresh of %s failed", source)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is pending or running (tests, shutdown). False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout=timeout)

    def close(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout)


def _parse(body: bytes, sources: Collection[str]) -> tuple[str, tuple[str, ...] | None] | str:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return 'body must be JSON like {"source": "handbook", "paths": ["a.md"]}'
    if not isinstance(data, dict) or not isinstance(data.get("source"), str):
        return 'body must name a source: {"source": "handbook"}'
    source = data["source"]
    if source not in sources:
        return f"no source named {source!r} (known: {', '.join(sorted(sources)) or 'none'})"
    paths = data.get("paths")
    if paths is None:
        return source, None
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths) or len(paths) > MAX_PATHS:
        return f'"paths" must be a list of at most {MAX_PATHS} relative paths'
    for path in paths:
        problem = path_problem(path)
        if problem is not None:
            return problem
    return source, tuple(paths)


def path_problem(path: str) -> str | None:
    """Why a webhook path is refused, or None. Symbolic links are checked when the source is scanned: a path
    through a link (or to one) is reported as skipped there, never read."""
    if len(path) > MAX_PATH_CHARS:
        return f"path longer than {MAX_PATH_CHARS} characters"
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        return f"path {path[:80]!r} contains control characters"
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or path.startswith("~"):
        return f"path {path!r} must be relative to the source, without '..'"
    return None


def refresh_webhook_route(
    secret: SecretStr | None,
    queue: RefreshQueue,
    sources: Collection[str],
    *,
    clock: Callable[[], float] = time.time,
) -> Route:
    """The Starlette route for ``POST /hooks/refresh`` (503 until ``BESTBEFORE_WEBHOOK_SECRET`` is set)."""

    async def refresh_hook(request: Request) -> Response:
        if secret is None or not secret.get_secret_value():
            return JSONResponse({"error": "webhook disabled: set BESTBEFORE_WEBHOOK_SECRET"}, status_code=503)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        problem = check_signature(
            secret.get_secret_value(),
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            clock(),
        )
        if problem is not None:
            log.warning("rejected /hooks/refresh from %s: %s", request.client.host if request.client else "?", problem)
            return JSONResponse({"error": problem}, status_code=401)
        parsed = _parse(body, sources)
        if isinstance(parsed, str):
            return JSONResponse({"error": parsed}, status_code=422)
        source, paths = parsed
        queued = queue.submit(source, paths)
        return JSONResponse(
            {"accepted": True, "source": source, "paths": list(paths) if paths else None, "coalesced": not queued},
            status_code=202,
        )

    return Route("/hooks/refresh", refresh_hook, methods=["POST"], name="refresh_hook")
