"""Heading-aware, size-bounded, deterministic chunking. Pure.

Markdown (``#`` headings) and reStructuredText (underlined headings) are split into sections first; each chunk
carries its heading path. Sections are packed into chunks of about ``max_tokens`` (words x 1.3 as the token
estimate) with ``overlap_tokens`` of overlap between consecutive pieces of one long section.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from rag.models import Chunk, Document

_MD_HEADING = re.compile(r"^(#{1,6})\s+(?=.)")  # the title is cut by markdown_heading (linear time)
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>:.])\1{2,}\s*$")
_TOKENS_PER_WORD = 1.3
MAX_HEADING_CHARS = 200  # every chunk of a section repeats its heading path: a 1 MB heading must not be repeated


@dataclass(frozen=True)
class ChunkingSettings:
    max_tokens: int = 200
    overlap_tokens: int = 30

    @property
    def fingerprint(self) -> str:
        return f"v1:{self.max_tokens}:{self.overlap_tokens}"


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


def _estimate_tokens(words: int) -> int:
    return int(words * _TOKENS_PER_WORD + 0.999)


def _pack(section: Section, settings: ChunkingSettings) -> list[str]:
    """Paragraph-packing into pieces under the budget; a too-long paragraph is split by words with overlap."""
    budget = max(8, int(settings.max_tokens / _TOKENS_PER_WORD))
    overlap = min(budget // 2, int(settings.overlap_tokens / _TOKENS_PER_WORD))
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in re.split(r"\n\s*\n", section.text):
        words = paragraph.split()
        if not words:
            continue
        if count + len(words) <= budget:
            current.append(paragraph.strip())
            count += len(words)
            continue
        if current:
            pieces.append("\n\n".join(current))
            current, count = [], 0
        if len(words) <= budget:
            current, count = [paragraph.strip()], len(words)
            continue
        step = budget - overlap
        for start in range(0, len(words), step):
            window = words[start : start + budget]
            if start and len(window) <= overlap:
                break
            pieces.append(" ".join(window))
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def chunk_hash(text: str, settings: ChunkingSettings) -> str:
    return hashlib.sha256(f"{settings.fingerprint}\x00{text}".encode()).hexdigest()


def chunk_id(doc_id: str, hash_: str, occurrence: int) -> str:
    """Deterministic: the same text in the same doc keeps its id wherever it moves."""
    return hashlib.sha256(f"{doc_id}\x00{hash_}\x00{occurrence}".encode()).hexdigest()[:32]


def chunk_document(doc: Document, settings: ChunkingSettings) -> list[Chunk]:
    """The document's chunks, in order. The embedded text starts with the title and heading path."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section in split_sections(doc.text, doc.format):
        for piece in _pack(section, settings):
            heading = " > ".join(section.heading_path)
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
