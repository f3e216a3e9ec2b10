"""The extractive ``Generator``: the evidence sentences that answer the question, each cited. No LLM. Pure.

An answer a person accepts: whole sentences only (a chunk cut mid-sentence loses its broken ends), no markup
(the cleaner removed it before chunking), at most ``max_sentences`` sentences / ``max_chars`` characters, read in
page order when they come from one page, each citation right after the sentences it supports.

Sentences are picked by the weight (idf) of the question's terms they contain, plus the terms of the headings
they sit under (a sentence right under a matching heading counts more), minus a penalty for navigation lines
("See also …", "Back to …", link lists, lines that only introduce a list).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.terms import terms
from rag.models import SearchHit, Turn
from rag.providers.generation import Generation

_BOUNDARY = re.compile(r"(?<=[.!?])[)\"'”’]*\s+(?=[A-Z0-9\"'“‘(\[])")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|Mr|Mrs|Ms|Dr|St|No|Inc|Ltd|Jr|Sr|approx|cf|Fig|Sec)|\b[A-Z])\.$")
_LIST_MARKER = re.compile(r"^(?:[-*+•]|\d+[.)])\s+")
_ENDS_SENTENCE = re.compile(r"[.!?][)\"'”’]*$")
_NAVIGATION = re.compile(
    r"^(?:(?:you can |please )?(?:see|read (?:more|about|the)|learn more|find out more)\b|see also\b|back (?:to|from)\b|next\b|previous\b|"
    r"return to\b|go to\b|more information\b|for more (?:information|details)\b|related\b|table of contents\b|"
    r"head (?:on )?over\b|check out\b|visit\b)|click here|\btable of contents\b",
    re.I,
)
MIN_WORDS = 4


def _split_line(line: str) -> list[str]:
    """One line (a paragraph) into sentences, not splitting after abbreviations ("e.g.", "U.S.")."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        head = line[start : match.start()].rstrip(")\"'”’")
        if _ABBREVIATION.search(head):
            continue
        sentences.append(line[start : match.start()] + line[match.start() : match.end()].rstrip())
        start = match.end()
    sentences.append(line[start:])
    return [" ".join(s.split()) for s in sentences if s.strip()]


@dataclass(frozen=True)
class Sentence:
    text: str
    position: int  # order within its chunk
    list_item: bool


def chunk_sentences(text: str) -> list[Sentence]:
    """A chunk body's whole sentences and list items. A chunk that starts or ends inside a sentence (a long
    paragraph split into overlapping windows) loses those broken ends; headings and lines too short to say
    anything are not sentences."""
    lines = [line.strip() for line in text.split("\n")]
    in_code = False
    for index, line in enumerate(lines):  # code blocks (between ``` lines) are shown, never quoted as sentences
        fence = line.startswith("```")
        if fence or in_code:
            lines[index] = ""
        in_code = in_code != fence
    filled = [index for index, line in enumerate(lines) if line and not line.startswith("#")]
    out: list[Sentence] = []
    for index in filled:
        marker = _LIST_MARKER.match(lines[index])
        parts = _split_line(lines[index][marker.end() :] if marker else lines[index])
        for number, part in enumerate(parts):
            punctuated = bool(_ENDS_SENTENCE.search(part))
            if index == filled[0] and number == 0 and not marker and part[:1].islower():
                continue  # the chunk starts inside a sentence (a long paragraph split into windows)
            if index == filled[-1] and number == len(parts) - 1 and not marker and not punctuated:
                continue  # ... or ends inside one
            if len(part.split()) < MIN_WORDS or (len(parts) == 1 and not marker and not punctuated and len(part) < 60):
                continue  # a fragment, or a short unpunctuated line: a heading, a caption, a subtitle
            out.append(Sentence(part, len(out), list_item=bool(marker)))
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences and list items of a text (see :func:`chunk_sentences`)."""
    return [s.text for s in chunk_sentences(text)]


def body_of(hit: SearchHit) -> str:
    """The chunk's text without the heading path the chunker put in front of it."""
    text = hit.chunk.text
    heading = " > ".join(hit.chunk.heading_path)
    if heading and text.startswith(heading + "\n\n"):
        return text[len(heading) + 2 :]
    return text


@dataclass(frozen=True)
class _Candidate:
    score: float
    rank: int  # the hit's rank in the evidence
    sentence: Sentence


def _navigation_penalty(sentence: Sentence) -> float:
    text = sentence.text
    if _NAVIGATION.search(text):
        return 0.3
    if text.endswith(":"):
        return 0.5  # introduces a list; the list is the answer
    if sentence.list_item and not _ENDS_SENTENCE.search(text) and len(text.split()) <= 8:
        return 0.6  # a short link-list entry
    return 1.0


class ExtractiveGenerator:
    """Answers with up to ``max_sentences`` whole sentences from the evidence that best match the question."""

    id = "extractive"

    def __init__(self, *, max_sentences: int = 4, max_chars: int = 600, keep_ratio: float = 0.55) -> None:
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.keep_ratio = keep_ratio

    def generate(self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = ()) -> Generation:
        query = set(terms(question))
        context = {t for turn in history if turn.role == "user" for t in terms(turn.text)} - query
        if not evidence or not (query or context):
            return Generation(text="", cited_doc_ids=(), refused=True, model=self.id)
        sentences_by_hit = [chunk_sentences(body_of(hit)) for hit in evidence]
        weights = self._weights(sentences_by_hit, query | context)
        candidates: list[_Candidate] = []
        for rank, (hit, sentences) in enumerate(zip(evidence, sentences_by_hit, strict=True)):
            title = set(terms(hit.doc.title))
            heading = set(terms(" ".join(hit.chunk.heading_path))) | title
            heading_match = sum(weights[t] for t in query if t in heading)
            for sentence in sentences:
                words = set(terms(sentence.text))
                overlap = sum(weights[t] for t in query if t in words)
                overlap += 0.3 * sum(weights[t] for t in context if t in words)
                if overlap <= 0:
                    continue
                under_heading = heading_match * (0.5 + 0.5 / (1 + sentence.position))  # first lines under it count most
                score = (overlap + under_heading) / math.sqrt(len(words) + 4) + 0.8 * hit.score
                candidates.append(_Candidate(score * _navigation_penalty(sentence), rank, sentence))
        if not candidates:
            return Generation(text="", cited_doc_ids=(), refused=True, model=self.id)
        return self._compose(self._choose(candidates, evidence), evidence)

    @staticmethod
    def _weights(sentences_by_hit: list[list[Sentence]], wanted: set[str]) -> dict[str, float]:
        frequency: dict[str, int] = {}
        for sentences in sentences_by_hit:
            for sentence in sentences:
                for term in set(terms(sentence.text)):
                    frequency[term] = frequency.get(term, 0) + 1
        total = sum(len(s) for s in sentences_by_hit) or 1
        return {t: math.log(1 + total / frequency.get(t, 0.5)) for t in wanted}

    def _choose(self, candidates: list[_Candidate], evidence: Sequence[SearchHit]) -> list[_Candidate]:
        """The best sentence, then the next best that score close to it; sentences of the best sentence's page
        are preferred (one page read in order is easier to trust than a collage)."""
        ranked = sorted(candidates, key=lambda c: (-c.score, c.rank, c.sentence.position))
        best = ranked[0]
        page = evidence[best.rank].doc.doc_id
        chosen: list[_Candidate] = []
        seen: set[str] = set()
        length = 0
        for candidate in ranked:
            if len(chosen) == self.max_sentences:
                break
            same_page = evidence[candidate.rank].doc.doc_id == page
            bar = self.keep_ratio if same_page else max(self.keep_ratio, 0.8)
            text = candidate.sentence.text
            if candidate.score < bar * best.score or text in seen:
                continue
            if chosen and length + len(text) > self.max_chars:
                continue
            chosen.append(candidate)
            seen.add(text)
            length += len(text)
        return chosen

    def _compose(self, chosen: list[_Candidate], evidence: Sequence[SearchHit]) -> Generation:
        """Pages in the order of their best sentence; within a page, the page's own order; a citation after each
        run of sentences that follow each other in the page."""
        first_seen: dict[str, int] = {}
        for index, candidate in enumerate(chosen):
            first_seen.setdefault(evidence[candidate.rank].doc.doc_id, index)

        def order(candidate: _Candidate) -> tuple[int, int, int]:
            hit = evidence[candidate.rank]
            return (first_seen[hit.doc.doc_id], hit.chunk.ordinal, candidate.sentence.position)

        ordered = sorted(chosen, key=order)
        cited: list[str] = []
        parts: list[str] = []
        for index, candidate in enumerate(ordered):
            hit = evidence[candidate.rank]
            if hit.doc.doc_id not in cited:
                cited.append(hit.doc.doc_id)
            following = ordered[index + 1] if index + 1 < len(ordered) else None
            adjacent = (
                following is not None
                and evidence[following.rank].chunk.chunk_id == hit.chunk.chunk_id
                and following.sentence.position == candidate.sentence.position + 1
                and not candidate.sentence.list_item
            )
            text = candidate.sentence.text
            parts.append(text if adjacent else f"{text} [{cited.index(hit.doc.doc_id) + 1}]")
        return Generation(text=" ".join(parts), cited_doc_ids=tuple(cited), refused=False, model=self.id)
