"""How many threads each native pool in the process gets, decided once from the cores it may use.

Two pools do the CPU work of a question: onnxruntime (the query embedding, and every chunk at ingest) and BLAS
(numpy's matrix-vector product over the stored vectors). Left alone each sizes itself to the whole machine, so on
two cores four threads compete and both get slower (issue #16: BLAS pinned to one thread took ask at 10k chunks
from 38/64 ms to 21/32 ms p50/p95). The plan: onnxruntime's intra-op pool gets every core (a batch of chunks is
real parallel work), its inter-op pool one thread (the MiniLM graph is a chain), and BLAS one thread (a
matrix-vector product is bound by memory bandwidth, a second thread buys nothing and steals a core).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

_applied_lock = threading.Lock()
_applied_blas: int | None = None


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadPlan:
    onnx_intra_op: int
    onnx_inter_op: int = 1
    blas: int = 1
    # onnxruntime's workers spin after each run waiting for more work; on a machine with few cores that spinning
    # takes the core the next step of the same question (BLAS, SQLite) needs.
    onnx_spinning: bool = False

    @classmethod
    def for_cores(cls, cores: int | None = None) -> ThreadPlan:
        return cls(onnx_intra_op=max(1, cores if cores is not None else available_cores()))


def limit_blas_threads(threads: int) -> None:
    """Cap every BLAS library loaded in this process (OpenBLAS, MKL) at ``threads``; once per value."""
    global _applied_blas
    with _applied_lock:
        if _applied_blas == threads:
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")  # process-wide until changed (not a context here)
        _applied_blas = threads
