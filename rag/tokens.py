"""Counting tokens the way the active embedder does: shared by the chunker (``rag.ingest``) and the embedders
(``rag.providers``), so neither imports the other."""

from __future__ import annotations

from typing import Protocol

_TOKENS_PER_WORD = 1.3  # the estimate for models without a local tokenizer


def estimate_tokens(text: str) -> int:
    """About how many tokens a subword tokenizer makes of ``text``: words x 1.3, rounded up."""
    return int(len(text.split()) * _TOKENS_PER_WORD + 0.999)


class TokenCounter(Protocol):
    """What the chunker needs from the embedder (every ``rag.providers.embedding.Embedder`` is one).

    ``max_input_tokens``: how many tokens of text the model reads, its special tokens excluded (``None``: no
    known limit). ``count_tokens``: the tokens of a text as the model counts them, special tokens excluded.
    """

    @property
    def max_input_tokens(self) -> int | None: ...

    def count_tokens(self, text: str) -> int: ...


class WordEstimate:
    """A ``TokenCounter`` without a tokenizer: words x 1.3 and no window."""

    max_input_tokens: int | None = None

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)


WORD_ESTIMATE = WordEstimate()
