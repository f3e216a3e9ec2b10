"""The ASGI guard in front of every route: bounded request bodies, short error bodies, no secrets in access logs.

- **Size before reading.** A ``Content-Length`` over the path's limit gets 413 at once, before a byte of the body
  is read; a chunked body is counted while it streams and cut (413) as soon as it passes the limit. The body is
  then handed to the route in one piece, so routes never read an unbounded stream: memory per request is bounded
  by the limit, however many 1 GB uploads arrive at once.
- **Slow bodies.** A body that takes longer than ``read_timeout`` seconds to arrive gets 408.
- **Short errors.** Every error the guard writes is one short line of text. An exception in a route becomes
  ``500 internal error (reference …)``; the log gets one line with the reference (the traceback at debug level).
- **Access log.** :class:`SecretQueryFilter` blanks query parameters that look like credentials
  (``token``, ``key``, ``secret``…) in uvicorn's access log lines.

After a 413 the connection is closed: up to ``LINGER_BYTES`` of the rest of the body are read and dropped first
(never kept), so the client reads the 413 rather than a connection reset.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("bestbefore.http")

DEFAULT_BODY_LIMIT = 64 * 1024
READ_TIMEOUT_SECONDS = 30.0
LINGER_BYTES = 1024 * 1024
LINGER_SECONDS = 1.0


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


async def plain_response(send: Send, status: int, text: str, *, close: bool = False, more: bool = False) -> None:
    """A short ``text/plain`` response (``more``: leave it open for a final empty chunk)."""
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, or :class:`BodyTooLarge` as soon as it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def drop_rest(receive: Receive) -> None:
    """Read and discard what is left of a refused body, up to ``LINGER_BYTES`` / ``LINGER_SECONDS``."""
    dropped = 0
    deadline = time.monotonic() + LINGER_SECONDS
    try:
        while dropped < LINGER_BYTES and time.monotonic() < deadline:
            message = await asyncio.wait_for(receive(), timeout=max(0.01, deadline - time.monotonic()))
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            dropped += len(message.get("body", b""))
    except TimeoutError:
        return


class RequestGuard:
    """ASGI middleware: body limits per path (``limits``, else ``default_limit``), read timeout, short errors."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Mapping[str, int] | None = None,
        default_limit: int = DEFAULT_BODY_LIMIT,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.limits = dict(limits or {})
        self.default_limit = default_limit
        self.read_timeout = read_timeout

    def limit_for(self, path: str) -> int:
        return self.limits.get(path, self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(scope["path"])
        declared = headers.get("content-length")
        if declared is not None and not declared.strip().isdigit():
            await plain_response(send, 400, "bad request: Content-Length is not a number", close=True)
            return
        if declared is not None and int(declared) > limit:
            await self._too_large(scope, receive, send, limit, headers)
            return
        if declared is None and "chunked" not in headers.get("transfer-encoding", "").lower():
            await self._run(scope, receive, send)  # no body
            return
        try:
            body = await asyncio.wait_for(read_body(receive, limit), timeout=self.read_timeout)
        except BodyTooLarge:
            await self._too_large(scope, receive, send, limit, headers)
            return
        except TimeoutError:
            await plain_response(send, 408, "request timeout: the body took too long to arrive", close=True)
            return
        except ClientGone:
            return
        await self._run(scope, replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int, headers: Headers) -> None:
        log.warning("refused a request body over %d bytes on %s %s", limit, scope["method"], scope["path"])
        lingering = "100-continue" not in headers.get("expect", "").lower()
        await plain_response(send, 413, f"request too large (limit {limit} bytes)", close=True, more=lingering)
        if lingering:
            await drop_rest(receive)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            reference = uuid.uuid4().hex[:12]
            log.error("%s %s failed: %s (reference %s)", scope["method"], scope["path"], type(exc).__name__, reference)
            log.debug("traceback of reference %s", reference, exc_info=True)
            if not started:
                await plain_response(send, 500, f"internal error (reference {reference})")


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the already-read body once, then waits for the client to go."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


SECRET_PARAM = re.compile(r"(?i)([?&][^=&#]*(?:token|key|secret|password|signature|auth)[^=&#]*=)[^&#\s\"]*")


def redact_query(text: str) -> str:
    """``/dashboard?token=abc&window=7d`` -> ``/dashboard?token=[redacted]&window=7d``."""
    return SECRET_PARAM.sub(r"\1[redacted]", text)


class SecretQueryFilter(logging.Filter):
    """Blanks credential-like query parameters in access log records (uvicorn passes the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with the access log redacted (filters survive ``dictConfig``)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG}
    config["filters"] = {"secret_query": {"()": SecretQueryFilter}}
    handlers = {name: dict(handler) for name, handler in LOGGING_CONFIG["handlers"].items()}
    handlers["access"]["filters"] = ["secret_query"]
    config["handlers"] = handlers
    return config
