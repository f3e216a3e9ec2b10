"""A local fake of the Cohere v2 API over real HTTP, for driving the real ``cohere`` SDK in tests.

Implements ``/v1/models``, ``/v2/embed``, ``/v2/rerank`` and ``/v2/chat`` with the documented response
shapes (``meta.billed_units``, ``usage.billed_units``, citations with document sources). The behaviour is computed,
not canned: embeddings hash words into buckets (similar texts are close), rerank and chat score term overlap, and
chat cites only the documents whose text shares terms with the question (or refuses). Failures can be scripted
per path (``fail``) to test retries, and every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i in is it of on or the to what when who why with".split()
)
REFUSAL = "I couldn't find this in the docs."


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def hashed_embedding(text: str, dimension: int) -> list[float]:
    vector = [0.0] * dimension
    for word in words(text):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "little") % dimension] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def overlap(query: str, text: str) -> float:
    wanted = set(words(query))
    return len(wanted & set(words(text))) / len(wanted) if wanted else 0.0


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    authorization: str


@dataclass
class FakeCohere:
    api_key: str = "test-cohere-key"
    default_dimension: int = 1536
    requests: list[Recorded] = field(default_factory=list)
    failures: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    always_fail: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    token_delay: float = 0.0  # seconds between streamed tokens (a realistic pace is ~0.02-0.05)
    first_token_delay: float = 0.0  # seconds before the first streamed token (the model's time to first token)

    def fail(self, path: str, *statuses: int) -> None:
        """The next calls to ``path`` answer with these statuses, in order."""
        with self.lock:
            self.failures[path].extend(statuses)

    def calls(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.requests if r.path == path]

    # -- endpoints -----------------------------------------------------------------------------------------------
    def handle(self, path: str, body: dict[str, Any], authorization: str) -> tuple[int, dict[str, Any]]:
        path = path.split("?")[0]
        with self.lock:
            self.requests.append(Recorded(path, body, authorization))
            if authorization != f"Bearer {self.api_key}":
                return 401, {"id": str(uuid.uuid4()), "message": "invalid api token"}
            if self.failures[path]:
                status = self.failures[path].popleft()
                return status, {"id": str(uuid.uuid4()), "message": f"scripted failure {status}"}
            if path in self.always_fail:
                status = self.always_fail[path]
                return status, {"id": str(uuid.uuid4()), "message": f"scripted failure {status}"}
        if path == "/v1/models":
            return 200, {"models": [{"name": "embed-v4.0", "endpoints": ["embed"]}], "next_page_token": None}
        if path == "/v2/embed":
            return self.embed(body)
        if path == "/v2/rerank":
            return self.rerank(body)
        if path == "/v2/chat":
            return self.chat(body)
        return 404, {"message": f"no route {path}"}

    def embed(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        texts = body.get("texts") or []
        if len(texts) > 96:
            return 400, {"message": "too many texts: at most 96"}
        if body.get("input_type") not in ("search_document", "search_query", "classification", "clustering"):
            return 400, {"message": "invalid input_type"}
        dimension = int(body.get("output_dimension") or self.default_dimension)
        tokens = sum(len(_WORD.findall(t.lower())) for t in texts)
        return 200, {
            "id": str(uuid.uuid4()),
            "response_type": "embeddings_by_type",
            "embeddings": {"float": [hashed_embedding(t, dimension) for t in texts]},
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        }

    def rerank(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        documents = body.get("documents") or []
        query = body.get("query", "")
        scored = sorted(((overlap(query, d), i) for i, d in enumerate(documents)), key=lambda s: (-s[0], s[1]))
        top_n = body.get("top_n") or len(documents)
        return 200, {
            "id": str(uuid.uuid4()),
            "results": [{"index": i, "relevance_score": round(s, 6)} for s, i in scored[:top_n]],
            "meta": {
                "api_version": {"version": "2"},
                "billed_units": {"search_units": math.ceil(len(documents) / 100)},
            },
        }

    def chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body.get("messages") or []
        question = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        documents = body.get("documents") or []
        relevant = [d for d in documents if overlap(question, json.dumps(d.get("data", {}))) >= 0.5]
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        prompt_tokens += sum(len(json.dumps(d).split()) for d in documents)
        citations = []
        if relevant:
            parts = []
            for doc in relevant[:2]:
                snippet = str(doc["data"].get("snippet", ""))
                sentence = re.split(r"(?<=[.!?])\s", snippet.strip())[0]
                start = len(" ".join(parts)) + (1 if parts else 0)
                parts.append(sentence)
                source = {"type": "document", "id": doc["id"], "document": {"id": doc["id"], **doc["data"]}}
                citations.append(
                    {"start": start, "end": start + len(sentence), "text": sentence, "sources": [source],
                     "type": "TEXT_CONTENT"}
                )  # fmt: skip
            text = " ".join(parts)
        else:
            text = REFUSAL
        output_tokens = len(text.split())
        return 200, {
            "id": str(uuid.uuid4()),
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": text}], "citations": citations},
            "usage": {
                "billed_units": {"input_tokens": prompt_tokens, "output_tokens": output_tokens},
                "tokens": {"input_tokens": prompt_tokens + 50, "output_tokens": output_tokens},
            },
        }


def stream_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``/v2/chat`` response as the server-sent events of ``stream: true``, one content delta per word, in the
    documented order: message-start, content-start, content-delta…, citation-start/end…, content-end, message-end."""
    text = response["message"]["content"][0]["text"]
    words = re.findall(r"\S+\s*", text)
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": response["id"],
         "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    ]  # fmt: skip
    events += [
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": word}}}} for word in words
    ]
    for n, citation in enumerate(response["message"]["citations"]):
        events.append({"type": "citation-start", "index": n, "delta": {"message": {"citations": citation}}})
        events.append({"type": "citation-end", "index": n})
    events.append({"type": "content-end", "index": 0})
    events.append({"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": response["usage"]}})
    return events


class FakeCohereServer:
    """Runs a :class:`FakeCohere` on 127.0.0.1 at a free port; ``url`` is the base URL for ``CO_API_URL``."""

    def __init__(self, fake: FakeCohere | None = None) -> None:
        self.fake = fake or FakeCohere()
        fake_ref = self.fake

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                self.do_POST()

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    status, payload = 400, {"message": "invalid json"}
                else:
                    status, payload = fake_ref.handle(self.path, body, self.headers.get("authorization", ""))
                if status == 200 and body.get("stream") and self.path.startswith("/v2/chat"):
                    self._stream(stream_events(payload))
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after", "0")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, events: list[dict[str, Any]]) -> None:
                """Server-sent events, written (and flushed) one by one at the fake's pace; then the connection ends."""
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                self.close_connection = True
                for event in events:
                    if event["type"] == "content-delta":
                        first = event is next(e for e in events if e["type"] == "content-delta")
                        time.sleep(fake_ref.first_token_delay if first else fake_ref.token_delay)
                    self.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeCohereServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
