"""Format readers for folder sources: bytes in, body text + metadata out.

Everything here is pure (no file system, no processes) so it can be unit-tested directly.
A file that cannot be read raises :class:`ReadError` with a human reason; the source turns
that into a :class:`rag.models.SkippedFile`.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any

import yaml

from rag.ingest.front_matter import FrontMatterRefused, load_front_matter
from rag.ingest.htmltext import html_to_text
from rag.ingest.markup import clean_inline, clean_markdown, summary_text

FORMATS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".rst": "rst",
    ".pdf": "pdf",
    ".mdx": "markdown",  # Docusaurus / MDX
}
# Template-wrapped Markdown, named by its compound suffix (Middleman / GOV.UK tech-docs: ``page.html.md.erb``).
TEMPLATE_FORMATS: dict[str, str] = {".md.erb": "markdown", ".markdown.erb": "markdown", ".md.liquid": "markdown"}

# front matter date fields, best first (last_reviewed_on: GOV.UK tech-docs page expiry)
DATE_KEYS: tuple[str, ...] = ("last_reviewed_on", "last_reviewed", "updated", "date")
_DATE_FORMATS: tuple[str, ...] = ("%Y/%m/%d", "%d %B %Y", "%B %d, %Y", "%d %b %Y", "%b %d, %Y")


class ReadError(Exception):
    """A single file cannot be read; ``str(err)`` is the reason shown to the operator."""


@dataclass(frozen=True)
class ParsedFile:
    """What a reader got out of one file. ``body`` excludes front matter and is not yet normalised."""

    format: str
    body: str
    title: str | None = None  # from the content (heading / <title> / PDF metadata), not front matter
    meta: Mapping[str, Any] = field(default_factory=dict)  # front matter (Markdown only)


def parse_file(path: str, data: bytes) -> ParsedFile:
    """Read one file's bytes according to its extension. Raises :class:`ReadError`."""
    suffix = PurePosixPath(path).suffix.lower()
    fmt = format_of(path)
    if fmt is None:
        raise ReadError(f"unsupported file type {suffix or '(no extension)'}")
    if fmt == "pdf":
        body, title = pdf_to_text(data)
        return ParsedFile(format=fmt, body=body, title=title)
    text = decode_text(data)
    if fmt == "markdown":
        meta, body = split_front_matter(text)
        clean = clean_markdown(body, meta)
        summary = summary_text(meta)  # description, summary: searchable like the page text
        if summary:
            clean = f"{summary}\n\n{clean}"
        title = meta_text(meta, "title")
        return ParsedFile(
            format=fmt, body=clean, title=clean_inline(title) if title else markdown_title(clean), meta=meta
        )
    if fmt == "html":
        title, body = html_to_text(text)
        return ParsedFile(format=fmt, body=body, title=title)
    if fmt == "rst":
        return ParsedFile(format=fmt, body=text, title=rst_title(text))
    return ParsedFile(format=fmt, body=text)


def format_of(path: str) -> str | None:
    """The reader for a file name: compound template suffixes (``.html.md.erb``) first, then the last suffix."""
    name = PurePosixPath(path).name.lower()
    for suffix, fmt in TEMPLATE_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return FORMATS.get(PurePosixPath(name).suffix)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM). Binary and other encodings raise :class:`ReadError`."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReadError("not valid UTF-8 (looks like UTF-16; save it as UTF-8)")
    if b"\x00" in data:
        raise ReadError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from exc


# --- front matter and dates -------------------------------------------------------------------


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML front matter (between ``---`` lines at the very top) from the body.

    No front matter gives ``({}, text)``. Unclosed or malformed YAML raises :class:`ReadError`.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            yaml_text = "".join(lines[1:index])
            body = "".join(lines[index + 1 :])
            break
    else:
        raise ReadError("malformed front matter: '---' on line 1 is never closed by another '---' line")
    try:
        data = load_front_matter(yaml_text)
    except FrontMatterRefused as exc:
        raise ReadError(str(exc)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ReadError(f"malformed YAML front matter{where}: {problem}") from exc
    except ValueError as exc:  # an explicit ``!!timestamp 2024-02-30``, an int past Python's digit limit, ...
        raise ReadError(f"malformed YAML front matter: {str(exc).split(': ')[0][:200]}") from exc
    if data is None:
        return {}, body
    if not isinstance(data, dict):
        raise ReadError(f"malformed front matter: expected 'key: value' lines, got a YAML {type(data).__name__}")
    return {str(key): value for key, value in data.items()}, body


def parse_date_value(value: object) -> datetime | None:
    """A YAML date / datetime / string such as ``2023-04-01`` as an aware UTC datetime, else None.

    Naive values are taken as UTC; a bare date means midnight UTC.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = _parse_date_string(value.strip())
        if parsed is None:
            return None
        moment = parsed
    else:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 has no UTC equivalent
        return None


def _parse_date_string(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def meta_text(meta: Mapping[str, Any], key: str) -> str | None:
    """A front matter field as display text (lists are joined with ", "); None when absent or empty."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        text = ", ".join(str(item).strip() for item in value if item is not None and str(item).strip())
    else:
        text = str(value).strip()
    return text or None


# --- titles -----------------------------------------------------------------------------------

_ATX_H1_START = re.compile(r" {0,3}#[ \t]+")
_SETEXT_H1 = re.compile(r"^ {0,3}=+[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.!$%&(),/;?@\[\\\]{|}])\1{2,}\s*$")


def markdown_title(body: str) -> str | None:
    """The first level-1 heading (``# Title`` or a ``===`` underlined line), outside code fences."""
    lines = body.splitlines()
    fence: str | None = None
    for index, line in enumerate(lines):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1) == fence:
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        atx = atx_h1_title(line)
        if atx:
            return atx
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and _SETEXT_H1.match(nxt) and not line.startswith("    "):
            return line.strip()
    return None


def atx_h1_title(line: str) -> str | None:
    """``# Title #`` -> ``Title`` in linear time (a regex with a lazy group and a trailing ``[ \\t]*$`` is
    quadratic on a long heading line full of spaces)."""
    start = _ATX_H1_START.match(line)
    if start is None:
        return None
    rest = line[start.end() :].rstrip(" \t")
    closed = rest.rstrip("#")
    if closed != rest and (closed == "" or closed[-1] in " \t"):
        rest = closed.rstrip(" \t")
    return rest.strip() or None


def rst_title(text: str) -> str | None:
    """The first reST section title: a text line underlined (optionally also overlined) by punctuation."""
    lines = text.splitlines()
    for index in range(len(lines) - 1):
        title = lines[index].strip()
        under = lines[index + 1].rstrip()
        if title and not _RST_ADORNMENT.match(title) and _RST_ADORNMENT.match(under) and len(under) >= len(title):
            return title
    return None


def prettify_stem(path: str) -> str:
    """``guides/on-call_rota.md`` -> ``On call rota``; ``team/index.md`` -> ``Team``."""
    pure = PurePosixPath(path)
    stem = pure.stem
    if stem.lower() in ("index", "readme", "_index") and pure.parent.name:
        stem = pure.parent.name
    words = " ".join(re.sub(r"[-_]+", " ", stem).split())
    if not words:
        return pure.name or path
    return words[0].upper() + words[1:]


# --- PDF --------------------------------------------------------------------------------------


def pdf_to_text(data: bytes) -> tuple[str, str | None]:
    """PDF -> (text with pages separated by blank lines, metadata title). Raises :class:`ReadError`."""
    from pypdf import PdfReader

    # pypdf logs its repair attempts ("EOF marker not found") as warnings; a damaged file is reported as a
    # skipped file with the reason instead, so those lines would only be noise on the user's terminal.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReadError("encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except ReadError:
        raise
    except Exception as exc:  # pypdf raises many exception types for damaged files
        raise ReadError(f"broken PDF: {exc or type(exc).__name__}") from exc
    clean_title = " ".join(str(title).split()) if title else None
    return "\n\n".join(page.strip() for page in pages if page.strip()), clean_title or None
