"""Question sets on real documentation sites: does the product answer the way a person would accept? (#12)

A question set is a JSONL file of ``{"question": ..., "expected": [page paths]}``. Each question goes through the
real answering pipeline; per question we record whether an expected page is among the first five distinct pages
retrieved, and check the answer text itself: every sentence whole (never cut mid-way), no markup left, and the
URL of every cited page one that the site itself links to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer.pipeline import RagPipeline, answer_question, extractive_pipeline, utcnow
from rag.config import IndexConfig, SourceConfig
from rag.index.indexing import chunking_settings, refresh_source
from rag.index.store import VectorStore
from rag.ingest.sources import scan_source
from rag.models import Answer
from rag.providers.embedding import Embedder

TOP_K = 5
# Template syntax, HTML tags and entities, Markdown link/emphasis/heading syntax, kramdown attribute lists.
MARKUP = re.compile(
    r"{%|%}|{{|}}|<%|%>|\]\(|</?[a-zA-Z][a-zA-Z0-9]*[\s/>]|&[a-z]+;|&#\d+;|{:|\[\^\d|\*\*|__\w|^#{1,6}\s|`",
    re.M,
)
_CITATION = re.compile(r"\s*\[\d+\]")
_ENDS_WHOLE = re.compile(r"[.!?:;][)\"'”’]*$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


@dataclass(frozen=True)
class SiteQuestion:
    question: str
    expected: tuple[str, ...]  # page paths inside the source, any one is right


@dataclass
class QuestionResult:
    question: str
    expected: tuple[str, ...]
    ranked: list[str]  # the first TOP_K distinct page paths retrieved
    answer: str
    refused: bool
    cut: list[str] = field(default_factory=list)  # answer sentences that are not whole
    markup: list[str] = field(default_factory=list)
    cited_urls: list[str] = field(default_factory=list)

    @property
    def hit(self) -> bool:
        return any(path in self.expected for path in self.ranked)


@dataclass
class SiteReport:
    name: str
    results: list[QuestionResult]

    @property
    def hit_rate(self) -> float:
        return sum(r.hit for r in self.results) / len(self.results) if self.results else 0.0

    @property
    def cut_sentences(self) -> int:
        return sum(len(r.cut) for r in self.results)

    @property
    def answers_with_markup(self) -> int:
        return sum(bool(r.markup) for r in self.results)

    @property
    def refused(self) -> int:
        return sum(r.refused for r in self.results)

    def url_counts(self, linked: set[str]) -> tuple[int, int]:
        """(cited URLs, of which the site itself links to)."""
        urls = [url for r in self.results for url in r.cited_urls]
        return len(urls), sum(url in linked for url in urls)

    def misses(self) -> list[QuestionResult]:
        return [r for r in self.results if not r.hit]


def load_questions(path: Path) -> list[SiteQuestion]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            questions.append(SiteQuestion(str(item["question"]), tuple(str(p) for p in item["expected"])))
    return questions


def answer_sentences(text: str) -> list[str]:
    """The sentences of an answer, citation markers removed (an answer is sentences joined by spaces)."""
    pieces = re.split(r"(?<=[.!?:;][)\"'”’])\s+|(?<=[.!?:;])\s+|\s*\[\d+\]\s*", text)
    return [piece.strip() for piece in pieces if piece and piece.strip()]


def cut_sentences(answer: Answer, pages: Mapping[str, str]) -> list[str]:
    """Answer sentences that do not end where a sentence ends: neither punctuated as one nor at the end of a line
    (a list item, a table row) of a cited page's full text (``pages``: doc id -> text)."""
    line_ends = [
        _LIST_MARKER.sub("", " ".join(line.split()))
        for source in answer.sources
        if source.cited
        for line in pages.get(source.doc_id, "").split("\n")
    ]
    return [
        sentence
        for sentence in answer_sentences(answer.text)
        if not _ENDS_WHOLE.search(sentence) and not any(line.endswith(sentence) for line in line_ends)
    ]


def evaluate_site(
    name: str, questions: Sequence[SiteQuestion], pipeline: RagPipeline, pages: Mapping[str, str]
) -> SiteReport:
    """Ask every question; ``pages`` (doc id -> cleaned text) is what answers are checked against."""
    results = []
    for item in questions:
        answer = answer_question(item.question, pipeline)
        ranked: list[str] = []
        for hit in answer.hits:
            if hit.doc.path not in ranked:
                ranked.append(hit.doc.path)
            if len(ranked) == TOP_K:
                break
        text = "" if answer.refused else answer.text
        results.append(
            QuestionResult(
                question=item.question,
                expected=item.expected,
                ranked=ranked,
                answer=text,
                refused=answer.refused,
                cut=cut_sentences(answer, pages) if text else [],
                markup=MARKUP.findall(_CITATION.sub("", text)),
                cited_urls=[s.url for s in answer.sources if s.cited and s.url],
            )
        )
    return SiteReport(name, results)


def site_pipeline(
    source: SourceConfig, store: VectorStore, embedder: Embedder, index: IndexConfig
) -> tuple[RagPipeline, dict[str, str]]:
    """Index one documentation site into ``store``; the embedded-default answering pipeline over it, and the
    site's pages as indexed (doc id -> text)."""
    refresh_source(source, store=store, embedder=embedder, chunking=chunking_settings(index), now=utcnow())
    pages = {doc.doc_id: doc.text for doc in scan_source(source).documents}
    return extractive_pipeline(store, embedder, index), pages
