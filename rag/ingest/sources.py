"""Folder sources: read documents with truthful ``updated_at`` dates.

A document's date is, best first: its front matter (``last_reviewed`` / ``updated`` / ``date``),
the commit date of the last git commit touching it, or None (the indexer then uses the first time
its ``source_hash`` was seen). File modification times are never used: a copy or a fresh clone
resets them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from rag.config import SourceConfig
from rag.errors import SourceError
from rag.ingest.folder_walk import is_utf8, read_regular_file, requested, shown_path, walk
from rag.ingest.gitdates import GitDates, find_git_dates
from rag.ingest.markup import keyword_text
from rag.ingest.page_expiry import page_owner, review_rule, tech_docs_config, tech_docs_default_owner
from rag.ingest.page_urls import page_url
from rag.ingest.readers import ParsedFile, ReadError, format_of, meta_text, parse_file, prettify_stem
from rag.ingest.trusted_dates import TrustedDate, front_matter_date, future
from rag.models import DateOrigin, Document, SkippedFile

log = logging.getLogger(__name__)

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_TITLE_CHARS = 300  # a title (and owner) is stored with every chunk: a 1 MB heading is not copied to each
_WILDCARDS = frozenset("*?[")


@dataclass(frozen=True)
class SourceScan:
    """The documents of one source, and the files that could not be read (never fatal)."""

    documents: list[Document]
    skipped: list[SkippedFile]


def normalise_text(text: str) -> str:
    """Unicode NFC, ``\\r\\n`` -> ``\\n``, no trailing spaces, at most one blank line in a row, stripped."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def source_hash(text: str) -> str:
    """sha256 hex of the normalised text: stable across mtimes, line endings and front matter edits."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def scan_source(config: SourceConfig, *, paths: Sequence[str] | None = None, now: datetime | None = None) -> SourceScan:
    """Read a folder source (recursively), or only ``paths`` (relative to it), sorted by path.

    Raises :class:`SourceError` when the folder itself is missing. Any problem with one file (unreadable, not a
    regular file, a symbolic link, bad front matter, a reader crash) lists it in ``skipped`` with a reason and
    the rest of the scan goes on. ``now`` is the clock dates are checked against (a date in the future is not used).
    """
    root = Path(config.path).expanduser()
    if not root.is_dir():
        problem = "is not a folder" if root.exists() else "does not exist"
        raise SourceError(
            f"Source {config.name!r}: {root} {problem}. Fix `path` of this [[sources]] entry in bestbefore.toml."
        )
    now = now or datetime.now(UTC)
    skipped: list[SkippedFile] = []
    if paths is None:
        candidates = walk(root, config.name, skipped)
    else:
        candidates = requested(root, paths, config.name, skipped)

    selected: list[str] = []
    for rel in sorted(set(candidates)):
        reason = _selection(rel, config.include, config.exclude)
        if reason is None:
            continue
        if not is_utf8(rel):
            skipped.append(SkippedFile(config.name, shown_path(rel), "file name is not valid UTF-8 (rename it)"))
        elif reason:
            skipped.append(SkippedFile(config.name, rel, reason))
        else:
            selected.append(rel)

    parsed: dict[str, tuple[ParsedFile, TrustedDate]] = {}
    for rel in selected:
        try:
            item = _read(root, rel)
            parsed[rel] = (item, front_matter_date(item.meta, now))
        except ReadError as exc:
            skipped.append(SkippedFile(config.name, rel, str(exc)))
        except Exception as exc:  # a reader bug or a pathological file must not stop the source
            log.debug("reading %s:%s failed", config.name, rel, exc_info=True)
            skipped.append(SkippedFile(config.name, rel, crash_reason("could not be read", exc)))

    undated = [rel for rel, (_, dated) in parsed.items() if dated.moment is None]
    git = find_git_dates(root, None if paths is None else undated) if undated else None

    default_owner = config.owner or tech_docs_default_owner(tech_docs_config(root))
    documents: list[Document] = []
    for rel, (item, dated) in parsed.items():
        try:
            text = storable(normalise_text(item.body))
            if not text:
                skipped.append(SkippedFile(config.name, rel, _empty_reason(item)))
                continue
            documents.append(_document(config, rel, item, text, dated, git, now, default_owner))
        except Exception as exc:
            log.debug("preparing %s:%s failed", config.name, rel, exc_info=True)
            skipped.append(SkippedFile(config.name, rel, crash_reason("could not be prepared", exc)))
    for doc in documents:
        if doc.date_warning:
            log.info("%s: date not trusted: %s", doc.doc_id, doc.date_warning)
    documents.sort(key=lambda doc: doc.path)
    skipped.sort(key=lambda skip: skip.path)
    return SourceScan(documents=documents, skipped=skipped)


def storable(text: str) -> str:
    """Lone surrogates (a PDF's broken text layer, a ``"\\ud800"`` YAML escape) become U+FFFD: every store, the
    ledger and the JSON output need valid UTF-8, and one such character used to fail the whole refresh's write."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def crash_reason(what: str, exc: BaseException) -> str:
    """A one-line reason for an unexpected exception (the traceback goes to the debug log)."""
    detail = " ".join(str(exc).split())[:200]
    return f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else "")


def _document(
    config: SourceConfig,
    rel: str,
    item: ParsedFile,
    text: str,
    dated: TrustedDate,
    git: GitDates | None,
    now: datetime,
    default_owner: str | None = None,
) -> Document:
    rule = review_rule(item.meta)
    updated_at = dated.moment
    origin: DateOrigin | None = DateOrigin.FRONT_MATTER if updated_at else None
    warnings = list(dated.warnings)
    if updated_at is None and git is not None:
        updated_at = git.date_of(rel)
        origin = DateOrigin.GIT if updated_at else None
        if updated_at is not None and future(updated_at, now):
            warnings.append(f"last git commit {updated_at:%Y-%m-%d} is in the future; not used")
            updated_at, origin = None, None
    return Document(
        doc_id=f"{config.name}:{rel}",
        source=config.name,
        path=rel,
        title=clip(storable(item.title or prettify_stem(rel)), MAX_TITLE_CHARS),
        text=text,
        source_hash=source_hash(text),
        updated_at=updated_at,
        date_origin=origin,
        url=page_url(config.url, config.url_base, rel, item.meta),
        owner=clip(storable(owner), MAX_TITLE_CHARS) if (owner := page_owner(item.meta, default_owner)) else None,
        format=item.format,
        date_warning="; ".join(warnings) or None,
        review_in=rule.review_in,
        review_by=rule.review_by,
        keywords=keyword_text(item.meta),
    )


def _empty_reason(item: ParsedFile) -> str:
    redirect = meta_text(item.meta, "redirect_to")
    if redirect:
        return f"empty (only front matter: a redirect stub to {redirect})"
    if item.meta:
        return "empty (no text after the front matter)"
    return "empty"


def join_url(base: str, path: str) -> str:
    """``https://x/docs/`` + ``a b/c.md`` -> ``https://x/docs/a%20b/c.md``."""
    return base.rstrip("/") + "/" + quote(path.lstrip("/"), safe="/")


def _read(root: Path, rel: str) -> ParsedFile:
    return parse_file(rel, read_regular_file(root, rel))


def _selection(rel: str, include: Sequence[str], exclude: Sequence[str]) -> str | None:
    """None = ignore silently, "" = read it, otherwise the reason to report it as skipped."""
    if any(glob_match(pattern, rel) for pattern in exclude):
        return None
    matched = [pattern for pattern in include if glob_match(pattern, rel)]
    if not matched:
        return None
    suffix = PurePosixPath(rel).suffix.lower()
    if format_of(rel) is not None:
        return ""
    if any(_names_suffix(pattern, suffix) for pattern in matched):
        return f"unsupported file type {suffix or '(no extension)'}"
    return None


def _names_suffix(pattern: str, suffix: str) -> bool:
    """Whether a glob names this extension literally (``**/*.docx`` does, ``**/*`` does not)."""
    last = pattern.rsplit("/", 1)[-1]
    if not suffix or "." not in last:
        return False
    tail = last[last.rindex(".") :]
    return not (_WILDCARDS & set(tail)) and tail.lower() == suffix


def glob_match(pattern: str, path: str) -> bool:
    """Match a posix relative path against a glob: ``*`` and ``?`` stay within a folder, ``**`` spans folders."""
    return _glob_regex(pattern).fullmatch(path) is not None


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().lstrip("/")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    segments = pattern.split("/")
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(out))


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := segment.find("]", index + 2)) != -1:
            body = segment[index + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)
