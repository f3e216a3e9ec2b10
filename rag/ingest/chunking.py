"""Heading-aware, size-bounded, deterministic chunking. Pure.

Markdown (``#`` headings) and reStructuredText (underlined headings) are split into sections first; each chunk
carries its heading path. Sections are packed into pieces of at most ``max_tokens`` with ``overlap_tokens`` of
overlap between consecutive pieces of one long section. Tokens are counted by a ``TokenCounter``: the active
embedder's own tokenizer, so that a chunk never runs past the model's window (heading path included), or the
words x 1.3 estimate when none is given.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from rag.models import Chunk, Document
from rag.tokens import WORD_ESTIMATE, TokenCounter

_MD_HEADING = re.compile(r"^(#{1,6})\s+(?=.)")  # the title is cut by markdown_heading (linear time)
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>:.])\1{2,}\s*$")
_MIN_PIECE_TOKENS = 16  # a piece keeps at least this much room, even beside a very long heading path
MAX_HEADING_CHARS = 200  # every chunk of a section repeats its heading path: a 1 MB heading must not be repeated


@dataclass(frozen=True)
class ChunkingSettings:
    max_tokens: int = 200
    overlap_tokens: int = 30

    @property
    def fingerprint(self) -> str:
        # v2: pieces are sized in the embedder's own tokens and capped by its window (v1: words x 1.3)
        return f"v2:{self.max_tokens}:{self.overlap_tokens}"


@dataclass(frozen=True)
class Section:
    heading_path: tuple[str, ...]
    text: str


def markdown_heading(line: str) -> tuple[int, str] | None:
    """``## Title ##`` -> ``(2, "Title")``. String operations, not a regex: ``\\s+(.+?)\\s*#*\\s*$`` took cubic
    time on a heading line with a long run of spaces (4 s for 1,000 spaces, hours for a hostile file)."""
    match = _MD_HEADING.match(line)
    if match is None:
        return None
    rest = line[match.end() :].strip()
    title = rest.rstrip("#").strip() or rest[:1]
    return len(match.group(1)), title


def split_sections(text: str, fmt: str) -> list[Section]:
    """Split a document into sections by its headings (markdown, html->markdown, rst); others: one section."""
    lines = text.split("\n")
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []
    rst_levels: list[str] = []

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            sections.append(Section(tuple(title for _, title in path), content))
        body.clear()

    def enter(level: int, title: str) -> None:
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title if len(title) <= MAX_HEADING_CHARS else title[: MAX_HEADING_CHARS - 1] + "…"))

    index = 0
    in_fence = False
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if fmt in ("markdown", "html") and not in_fence and (heading := markdown_heading(line)):
            enter(*heading)
        elif (
            fmt == "rst"
            and index + 1 < len(lines)
            and line.strip()
            and (under := _RST_UNDERLINE.match(lines[index + 1]))
            and len(lines[index + 1].strip()) >= len(line.strip())
        ):
            char = under.group(1)
            if char not in rst_levels:
                rst_levels.append(char)
            enter(rst_levels.index(char) + 1, line.strip())
            index += 1
        else:
            body.append(line)
        index += 1
    flush()
    return sections


def _fit_word(word: str, budget: int, tokens: TokenCounter) -> list[str]:
    """One whitespace-free run (a long URL, a hash) cut into slices of at most ``budget`` tokens."""
    slices: list[str] = []
    rest = word
    while rest:
        count = tokens.count_tokens(rest)
        if count <= budget:
            slices.append(rest)
            break
        size = max(1, len(rest) * budget // count)
        while size > 1 and tokens.count_tokens(rest[:size]) > budget:
            size = max(1, size * 3 // 4)
        slices.append(rest[:size])
        rest = rest[size:]
    return slices


def _windows(words: list[str], budget: int, overlap: int, tokens: TokenCounter) -> list[str]:
    """Consecutive runs of words of at most ``budget`` tokens, each sharing up to ``overlap`` tokens with the last."""
    counts: dict[str, int] = {}
    units: list[str] = []
    for word in words:
        if word not in counts:
            counts[word] = tokens.count_tokens(word)
        if counts[word] > budget:
            for part in _fit_word(word, budget, tokens):
                counts[part] = tokens.count_tokens(part)
                units.append(part)
        else:
            units.append(word)
    # Word counts are scaled to add up to the whole paragraph's count: exact for a subword tokenizer (it splits on
    # whitespace first, so the scale is 1), and it keeps an estimate's per-word rounding from inflating every word.
    total = sum(counts[unit] for unit in units)
    scale = min(1.0, tokens.count_tokens(" ".join(units)) / total) if total else 1.0
    ends = [0.0]  # ends[i]: tokens of units[:i]
    for unit in units:
        ends.append(ends[-1] + counts[unit] * scale)
    pieces: list[str] = []
    start = 0
    while start < len(units):
        stop = start + 1
        while stop < len(units) and ends[stop + 1] - ends[start] <= budget:
            stop += 1
        pieces.append(" ".join(units[start:stop]))
        if stop == len(units):
            break
        next_start = stop
        while next_start - 1 > start and ends[stop] - ends[next_start - 1] <= overlap:
            next_start -= 1
        start = next_start
    return pieces


def _pack(text: str, budget: int, overlap: int, tokens: TokenCounter) -> list[str]:
    """Paragraph-packing into pieces of at most ``budget`` tokens; a too-long paragraph is split by words."""
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        size = tokens.count_tokens(paragraph)
        if count + size <= budget:
            current.append(paragraph)
            count += size
            continue
        if current:
            pieces.append("\n\n".join(current))
            current, count = [], 0
        if size <= budget:
            current, count = [paragraph], size
            continue
        pieces.extend(_windows(paragraph.split(), budget, overlap, tokens))
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def piece_budget(prefix: str, settings: ChunkingSettings, tokens: TokenCounter) -> int:
    """Tokens a piece may have: ``max_tokens``, less whatever the prefix leaves of the model's window."""
    budget = settings.max_tokens
    window = tokens.max_input_tokens
    if window is not None:
        budget = min(budget, window - (tokens.count_tokens(prefix) if prefix else 0))
    return max(_MIN_PIECE_TOKENS, budget)


def chunk_hash(text: str, settings: ChunkingSettings) -> str:
    return hashlib.sha256(f"{settings.fingerprint}\x00{text}".encode()).hexdigest()


def chunk_id(doc_id: str, hash_: str, occurrence: int) -> str:
    """Deterministic: the same text in the same doc keeps its id wherever it moves."""
    return hashlib.sha256(f"{doc_id}\x00{hash_}\x00{occurrence}".encode()).hexdigest()[:32]


def chunk_document(doc: Document, settings: ChunkingSettings, tokens: TokenCounter = WORD_ESTIMATE) -> list[Chunk]:
    """The document's chunks, in order. The embedded text starts with the heading path.

    ``tokens``: the active embedder (it counts with its own tokenizer and knows its window), so that no chunk is
    longer than the model reads; the default estimates words x 1.3 and knows no window.
    """
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section in split_sections(doc.text, doc.format):
        heading = " > ".join(section.heading_path)
        budget = piece_budget(heading, settings, tokens)
        overlap = min(budget // 2, settings.overlap_tokens)
        for piece in _pack(section.text, budget, overlap, tokens):
            text = piece if not heading else f"{heading}\n\n{piece}"
            hash_ = chunk_hash(text, settings)
            occurrence = seen.get(hash_, 0)
            seen[hash_] = occurrence + 1
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.doc_id, hash_, occurrence),
                    doc_id=doc.doc_id,
                    ordinal=len(chunks),
                    text=text,
                    chunk_hash=hash_,
                    heading_path=section.heading_path,
                )
            )
    return chunks
