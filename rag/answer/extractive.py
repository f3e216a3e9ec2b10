"""The extractive ``Generator``: the most relevant sentences of the evidence, each cited. No LLM. Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from rag.answer.terms import terms
from rag.models import SearchHit, Turn
from rag.providers.generation import Generation

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*_`\[])|\n{2,}|\n(?=\s*(?:[-*+]|\d+\.)\s)")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items; a short line without end punctuation (a heading, a title) stands alone and,
    like any fragment under four words, is not a sentence."""
    lines = text.split("\n")
    blocks: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        heading_like = bool(stripped) and len(stripped) < 60 and stripped[-1] not in ".!?:;,"
        if heading_like and index + 1 < len(lines):
            blocks.extend(["", stripped, ""])
        else:
            blocks.append(line)
    sentences = []
    for part in _SENTENCE.split("\n".join(blocks)):
        cleaned = " ".join(part.split()).strip()
        if len(cleaned.split()) >= 4 and not cleaned.startswith("#"):
            sentences.append(cleaned)
    return sentences


def body_of(hit: SearchHit) -> str:
    """The chunk's text without the heading path the chunker put in front of it."""
    text = hit.chunk.text
    heading = " > ".join(hit.chunk.heading_path)
    if heading and text.startswith(heading + "\n\n"):
        return text[len(heading) + 2 :]
    return text


class ExtractiveGenerator:
    """Answers with up to ``max_sentences`` sentences from the evidence that best match the question."""

    id = "extractive"

    def __init__(self, *, max_sentences: int = 3, max_chars: int = 900, keep_ratio: float = 0.6) -> None:
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.keep_ratio = keep_ratio

    def generate(self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = ()) -> Generation:
        query = terms(question)
        context = [t for turn in history if turn.role == "user" for t in terms(turn.text)]
        if not evidence or not (query or context):
            return Generation(text="", cited_doc_ids=(), refused=True, model=self.id)
        candidates: list[tuple[float, int, int, str]] = []
        document_frequency: dict[str, int] = {}
        sentences_by_hit = [split_sentences(body_of(hit)) for hit in evidence]
        for sentences in sentences_by_hit:
            for sentence in sentences:
                for term in set(terms(sentence)):
                    document_frequency[term] = document_frequency.get(term, 0) + 1
        total = sum(len(s) for s in sentences_by_hit) or 1
        weights = {t: math.log(1 + total / document_frequency.get(t, 0.5)) for t in set(query) | set(context)}
        for rank, (hit, sentences) in enumerate(zip(evidence, sentences_by_hit, strict=True)):
            heading = set(terms(" ".join(hit.chunk.heading_path[1:])))
            heading_match = 0.5 * sum(weights[t] for t in set(query) if t in heading)
            for position, sentence in enumerate(sentences):
                words = set(terms(sentence))
                overlap = sum(weights[t] for t in set(query) if t in words) + heading_match
                overlap += 0.3 * sum(weights[t] for t in set(context) if t in words)
                if overlap <= 0:
                    continue
                score = overlap / math.sqrt(len(words) + 4) + 0.8 * hit.score - 0.02 * position
                candidates.append((score, rank, position, sentence))
        if not candidates:
            return Generation(text="", cited_doc_ids=(), refused=True, model=self.id)
        ranked = sorted(candidates, key=lambda c: (-c[0], c[1], c[2]))
        best = ranked[0][0]
        chosen = [c for c in ranked[: self.max_sentences] if c[0] >= self.keep_ratio * best]
        chosen.sort(key=lambda c: (c[1], c[2]))  # read in evidence order
        cited: list[str] = []
        parts: list[str] = []
        length = 0
        for index, (_, rank, _, sentence) in enumerate(chosen):
            doc_id = evidence[rank].doc.doc_id
            if doc_id not in cited:
                cited.append(doc_id)
            if length + len(sentence) > self.max_chars and parts:
                break
            following = chosen[index + 1][1] if index + 1 < len(chosen) else None
            same_doc_next = following is not None and evidence[following].doc.doc_id == doc_id
            parts.append(sentence if same_doc_next else f"{sentence} [{cited.index(doc_id) + 1}]")
            length += len(sentence)
        return Generation(text=" ".join(parts), cited_doc_ids=tuple(cited), refused=False, model=self.id)
