"""One Cohere ``ClientV2`` shared by the embedder, the reranker and the generator, with our own retry policy.

The SDK would retry 429/5xx by itself (``max_retries`` defaults to 2, with its own waits); we switch that off
(``max_retries=0``) so that exactly one place owns retries and the total ``deadline`` holds: 429, 408, 5xx and
network errors (refused, DNS, timeouts) are retried with exponential backoff (honouring ``Retry-After``) until the
deadline, then :class:`~rag.errors.ProviderUnavailableError`. Inside an answer, every call also stops at the
answer's shared budget (:mod:`rag.providers.deadline`), so embed + rerank + chat together fit in one deadline.
Statuses a retry cannot fix (400, 402, 404, 422, ...) fail at once; a rejected key (401, 403, 498) raises
:class:`~rag.errors.ProviderAuthError` naming ``COHERE_API_KEY``. Error messages never contain the key.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import cohere
import httpx
from cohere.core.api_error import ApiError
from cohere.core.request_options import RequestOptions

from rag.errors import ProviderAuthError, ProviderError, ProviderUnavailableError
from rag.providers.deadline import budget_left

log = logging.getLogger(__name__)

T = TypeVar("T")
AUTH_HINT = "Cohere rejected the API key — check COHERE_API_KEY"
REJECTED_KEY_STATUS = frozenset({401, 403, 498})  # 498: Cohere's "invalid token"
RETRYABLE_STATUS = frozenset({408, 409, 429, 499, 500, 502, 503, 504})  # anything else cannot succeed on retry
KEY_CHECK_TIMEOUT = 5.0  # seconds: the start-up key check never holds start-up longer than this


@dataclass(frozen=True)
class RetryPolicy:
    """``timeout``: one request; ``deadline``: all attempts of one operation together (seconds)."""

    timeout: float = 30.0
    deadline: float = 60.0
    backoff: float = 0.5  # first wait; doubles each attempt, with +-20 % jitter
    max_backoff: float = 8.0


class CohereAPI:
    """A Cohere client plus the retry policy. ``base_url`` (``CO_API_URL``) points it at another endpoint."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key.strip():
            raise ProviderAuthError("COHERE_API_KEY is empty — set it to your Cohere API key")
        self.policy = policy or RetryPolicy()
        self.base_url = base_url.rstrip("/") if base_url else None
        self._sleep = sleep
        self.client = cohere.ClientV2(
            api_key=api_key,
            base_url=self.base_url,  # passed explicitly: the SDK's own default reads CO_API_URL at import time
            timeout=self.policy.timeout,
            max_retries=0,
            client_name="bestbefore",
            log_warning_experimental_features=False,
        )

    def call(self, operation: str, request: Callable[[RequestOptions], T]) -> T:
        """Run ``request`` (given per-attempt request options) under the retry policy and the answer's budget."""
        started = time.monotonic()
        attempt = 0
        reason = "no time left in the answer's deadline"
        reserve = min(1.0, self._time_left(started) / 4)  # kept for the attempt that follows a wait
        while True:
            remaining = self._time_left(started)
            if remaining <= 0:
                raise self._unavailable(operation, reason, attempt, started)
            options: RequestOptions = {"timeout": max(0.1, min(self.policy.timeout, remaining)), "max_retries": 0}
            try:
                return request(options)
            except ApiError as exc:
                status = exc.status_code or 0
                if status in REJECTED_KEY_STATUS:
                    raise ProviderAuthError(AUTH_HINT) from None
                if status not in RETRYABLE_STATUS:
                    raise ProviderError(f"Cohere {operation} failed: HTTP {status}: {_message(exc.body)}") from None
                reason = f"HTTP {status}"
                wait = _retry_after(exc.headers)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}"
                wait = None
            attempt += 1
            if wait is None:
                wait = min(self.policy.max_backoff, self.policy.backoff * 2 ** (attempt - 1))
                wait *= 1 + (random.random() - 0.5) * 0.4
            room = self._time_left(started) - reserve
            if room <= 0:
                raise self._unavailable(operation, reason, attempt, started)
            wait = min(wait, room)
            log.info("cohere %s: %s, retrying in %.2fs (attempt %d)", operation, reason, wait, attempt + 1)
            self._sleep(wait)

    def _time_left(self, started: float) -> float:
        """Seconds left for this call: its own deadline, cut to the answer's budget when there is one."""
        left = self.policy.deadline - (time.monotonic() - started)
        budget = budget_left()
        return left if budget is None else min(left, budget)

    def _unavailable(self, operation: str, reason: str, attempts: int, started: float) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"Cohere {operation} unavailable: {reason} after {attempts} attempt(s) in "
            f"{time.monotonic() - started:.1f}s (deadline {self.policy.deadline:g}s)"
        )

    def check_key(self) -> bool:
        """Stop at start-up when Cohere rejects the key (:class:`ProviderAuthError`); never wait for an outage.

        One free call (``GET /v1/models``) with a short timeout and no retries. When Cohere cannot be reached
        (refused, DNS, no reply, 5xx) it logs one warning and returns False: start-up goes on, and answers fall back
        to the sources until Cohere is back. Returns True when the key was accepted.
        """
        timeout = min(self.policy.timeout, self.policy.deadline, KEY_CHECK_TIMEOUT)
        options: RequestOptions = {"timeout": timeout, "max_retries": 0}
        try:
            self.client.models.list(page_size=1, request_options=options)
        except ApiError as exc:
            status = exc.status_code or 0
            if status in REJECTED_KEY_STATUS:
                raise ProviderAuthError(AUTH_HINT) from None
            log.warning("Cohere key check skipped: HTTP %d from %s; going on without it", status, self._where)
            return False
        except httpx.TransportError as exc:
            log.warning(
                "Cohere is unreachable at %s (%s); going on — answers list the sources until it is back",
                self._where,
                type(exc).__name__,
            )
            return False
        return True

    @property
    def _where(self) -> str:
        return self.base_url or "https://api.cohere.com"

    def close(self) -> None:
        self.client._client_wrapper.httpx_client.httpx_client.close()


def _retry_after(headers: dict[str, str] | None) -> float | None:
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return str(body)[:300]


def billed(meta: Any, *names: str) -> dict[str, float]:
    """The billed units present in a response's ``meta.billed_units`` / ``usage.billed_units``."""
    units = getattr(meta, "billed_units", None) if meta is not None else None
    found: dict[str, float] = {}
    for name in names:
        value = getattr(units, name, None) if units is not None else None
        if value is not None:
            found[name] = float(value)
    return found
