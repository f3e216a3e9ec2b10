"""``bestbefore serve`` as a real subprocess on a free port (its output kept for assertions on the logs).
Shared by tests and benchmarks/hostile_http.py, benchmarks/rate_limit_burst.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.fakes.network import free_port

BESTBEFORE = str(Path(sys.executable).parent / "bestbefore")


@dataclass
class ServedProcess:
    process: subprocess.Popen[bytes]
    base: str
    output: str = ""  # filled in when the process has stopped
    log: Path = field(default_factory=Path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_so_far(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve_process(workdir: Path, env: Mapping[str, str], *, start_timeout: float = 60.0) -> Iterator[ServedProcess]:
    """Start ``bestbefore serve --no-jobs`` in ``workdir`` with ``env`` added; stop it with SIGINT afterwards."""
    port = free_port()
    command = [BESTBEFORE, "serve", "--port", str(port), "--host", "127.0.0.1", "--no-jobs"]
    with tempfile.NamedTemporaryFile(prefix="bestbefore-serve-", suffix=".log", delete=False) as sink:
        log = Path(sink.name)
        process = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT
        )
    served = ServedProcess(process, f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + start_timeout
        with httpx.Client(timeout=5) as http:
            while True:
                try:
                    if http.get(served.base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"bestbefore serve did not start:\n{served.log_so_far()}")
                time.sleep(0.1)
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        served.output = served.log_so_far()
        log.unlink(missing_ok=True)
