"""The ``Generator`` protocol (evidence -> answer text with citations) and the ``Reranker`` protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rag.models import ProviderCall, SearchHit, Turn


@dataclass(frozen=True)
class Generation:
    """A generator's output. ``cited_doc_ids`` are the docs the text actually rests on (in citation order)."""

    text: str
    cited_doc_ids: tuple[str, ...]
    refused: bool
    model: str
    calls: tuple[ProviderCall, ...] = field(default_factory=tuple)


class Generator(Protocol):
    id: str

    def generate(self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = ()) -> Generation:
        """Answer ``question`` from ``evidence`` only, or refuse when the evidence does not answer it."""
        ...


TextSink = Callable[[str], None]  # receives the answer text as it is generated, piece by piece


class StreamingGenerator(Generator, Protocol):
    """A generator that can also hand out its text while generating (Cohere chat streaming)."""

    def generate_streaming(
        self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = (), on_text: TextSink
    ) -> Generation:
        """Like ``generate``; ``on_text`` gets each piece of the answer text as it arrives."""
        ...


def can_stream(generator: Generator) -> bool:
    return callable(getattr(generator, "generate_streaming", None))


@dataclass(frozen=True)
class Reranked:
    hits: list[SearchHit]
    calls: tuple[ProviderCall, ...] = ()


class Reranker(Protocol):
    id: str

    def rerank(self, query: str, hits: Sequence[SearchHit], *, top_n: int) -> Reranked:
        """Reorder ``hits`` by relevance to ``query``; keep at most ``top_n``."""
        ...
