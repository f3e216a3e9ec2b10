"""HTTP over a raw socket, for what httpx will not do: declare a huge ``Content-Length`` and send nothing, or stream
a large body while reading the response at the same time. Shared by tests/test_http_guard.py and
benchmarks/hostile_http.py. Bodies are generated on the fly: a 1 GB upload never allocates 1 GB.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

BLOCK = b"x" * (64 * 1024)


@dataclass
class RawResult:
    status: int | None  # None: no response before the connection ended
    body: bytes
    seconds_to_status: float | None
    bytes_sent: int


def chunked(total: int) -> Iterator[bytes]:
    """``total`` bytes of body in chunked transfer encoding, 64 KiB per chunk, then the last chunk."""
    left = total
    while left > 0:
        part = BLOCK[: min(left, len(BLOCK))]
        left -= len(part)
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def plain(total: int) -> Iterator[bytes]:
    left = total
    while left > 0:
        part = BLOCK[: min(left, len(BLOCK))]
        left -= len(part)
        yield part


def send_raw(
    url: str,
    path: str,
    *,
    headers: dict[str, str],
    body: Iterable[bytes] = (),
    timeout: float = 30.0,
) -> RawResult:
    """POST ``path`` with ``headers`` as given, stream ``body`` from a thread, read the response meanwhile."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout)
    head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sent = 0
    stop = threading.Event()
    started = time.perf_counter()

    def stream() -> None:
        nonlocal sent
        try:
            sock.sendall(head.encode())
            for piece in body:
                if stop.is_set():
                    return
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            return  # the server closed the connection: expected after a 413

    writer = threading.Thread(target=stream, daemon=True)
    writer.start()
    received = b""
    seconds: float | None = None
    try:
        while b"\r\n\r\n" not in received or not _complete(received):
            data = sock.recv(65536)
            if not data:
                break
            if seconds is None:
                seconds = time.perf_counter() - started
            received += data
    except OSError:
        pass
    finally:
        stop.set()
        sock.close()
        writer.join(timeout=10)
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else None
    return RawResult(status, received.partition(b"\r\n\r\n")[2], seconds, sent)


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False
