"""A local stand-in for Langfuse: an HTTP server on a free port that decodes what the SDK sends.

* ``POST /api/public/otel/v1/traces``: OTLP/HTTP protobuf (gzip or plain) -> ``spans`` (decoded dicts);
* ``POST /api/public/scores``: JSON score batches -> ``scores``;
* anything else is recorded in ``other`` and answered ``200 {}``.

``delay`` seconds makes every trace request wait before it is answered (a slow Langfuse); ``answered_at`` keeps
the ``time.monotonic()`` of each trace reply.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


@dataclass
class FakeLangfuse:
    spans: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    delay: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> FakeLangfuse:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                fake.auth_headers.append(self.headers.get("Authorization", ""))
                if self.path.startswith("/api/public/otel/v1/traces"):
                    time.sleep(fake.delay)
                    fake._add_spans(body)
                    self._reply(ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")
                    fake.answered_at.append(time.monotonic())
                elif self.path.startswith("/api/public/scores"):
                    data = json.loads(body)
                    items = data if isinstance(data, list) else data.get("scores", data.get("batch", [data]))
                    with fake._lock:
                        fake.scores.extend(items)
                    self._reply(json.dumps({"message": "Accepted"}).encode(), "application/json", status=202)
                else:
                    with fake._lock:
                        fake.other.append(("POST", self.path))
                    self._reply(b"{}", "application/json")

            def do_GET(self) -> None:  # noqa: N802
                with fake._lock:
                    fake.other.append(("GET", self.path))
                self._reply(b"{}", "application/json")

            def _reply(self, payload: bytes, content_type: str, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _add_spans(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        decoded = []
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    decoded.append(
                        {
                            "name": span.name,
                            "scope": scope_spans.scope.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex() or None,
                            "start_ns": span.start_time_unix_nano,
                            "end_ns": span.end_time_unix_nano,
                            "attributes": {kv.key: any_value(kv.value) for kv in span.attributes},
                        }
                    )
        with self._lock:
            self.spans.extend(decoded)
