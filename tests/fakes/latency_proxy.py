"""A TCP proxy that adds latency: every chunk the server sends back is held ``latency`` seconds first, so each
request/response round trip through it costs ``latency`` more (a database in another zone, for the benchmarks).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class LatencyProxy:
    """Listens on a free port on 127.0.0.1 and forwards every connection to ``(host, port)``."""

    def __init__(self, host: str, port: int, *, latency: float) -> None:
        self.target = (host, port)
        self.latency = latency
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="latency-proxy", daemon=True)

    def start(self) -> LatencyProxy:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, self.latency), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            while chunk := source.recv(65536):
                if delay:
                    time.sleep(delay)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
