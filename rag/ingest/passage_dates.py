"""The age of a passage, not just its page: for files in git, each chunk is dated by the newest commit among its
own lines (``git blame --incremental``, committer time), run only on the files a refresh writes, one pass per
source on a small pool.

A chunk is located in its file by its words (letters and digits, so markup the cleaner drops does not matter): the
file lines from its first to its last aligned word are its lines.
A chunk that cannot be located (HTML, PDF), or whose lines are not committed, gets no git date here; the refresh then
dates it by the first time the index saw its hash.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path

from rag.errors import SourceError
from rag.ingest.gitdates import run_git, shallow_commits
from rag.models import Chunk

log = logging.getLogger(__name__)

BLAME_WORKERS = 2
_UNCOMMITTED = "0" * 40

LineDates = list[datetime | None]  # per line of a file (index 0 = line 1); None = uncommitted or a shallow boundary


def parse_incremental_blame(output: bytes, line_count: int, shallow: frozenset[str] = frozenset()) -> LineDates:
    """Parse ``git blame --incremental``: each line's committer time (None for uncommitted lines and the boundary
    commits of a shallow clone, which claim every older line; a root commit is a true date)."""
    dates: LineDates = [None] * line_count
    times: dict[str, datetime | None] = {}
    current: tuple[str, int, int] | None = None
    for raw in output.decode("utf-8", "replace").split("\n"):
        if current is None:
            parts = raw.split(" ")
            if len(parts) == 4 and len(parts[0]) == 40:
                current = (parts[0], int(parts[2]), int(parts[3]))
            continue
        sha, start, count = current
        if raw.startswith("committer-time "):
            times[sha] = None if sha == _UNCOMMITTED else datetime.fromtimestamp(int(raw.split(" ")[1]), UTC)
        elif raw == "boundary" and sha in shallow:
            times[sha] = None
        elif raw.startswith("filename "):
            when = times.get(sha)
            for line in range(start - 1, min(start - 1 + count, line_count)):
                dates[line] = when
            current = None
    return dates


def blame_file(folder: Path, path: str, shallow: frozenset[str] = frozenset()) -> LineDates | None:
    """Committer time of each line of ``folder/path``; None when git cannot blame it (untracked, not in git)."""
    try:
        data = (folder / path).read_bytes()
    except OSError:
        return None
    run = run_git(folder, "--literal-pathspecs", "blame", "--incremental", "--", path)
    if run.returncode != 0:
        return None
    text_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)  # git's count of lines
    return parse_incremental_blame(run.stdout, text_lines, shallow)


def shallow_boundaries(folder: Path) -> frozenset[str] | None:
    """None outside a git work tree; else the shallow clone's boundary commits (empty for a full clone)."""
    try:
        probe = run_git(folder, "rev-parse", "--is-inside-work-tree", "--git-path", "shallow")
    except (SourceError, FileNotFoundError):
        return None
    lines = os.fsdecode(probe.stdout).splitlines()
    if probe.returncode != 0 or len(lines) < 2 or lines[0] != "true":
        return None
    shallow_file = Path(lines[1]) if Path(lines[1]).is_absolute() else folder / lines[1]
    return shallow_commits(shallow_file)


def blame_files(folder: Path, paths: Sequence[str]) -> dict[str, LineDates]:
    """One pass over a source's files on a small pool; files git cannot blame are left out."""
    shallow = shallow_boundaries(folder) if paths else None
    if shallow is None:
        return {}
    with ThreadPoolExecutor(max_workers=BLAME_WORKERS) as pool:
        found = dict(zip(paths, pool.map(lambda p: blame_file(folder, p, shallow), paths), strict=True))
    return {path: dates for path, dates in found.items() if dates is not None}


_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MIN_BLOCK = 3  # matched runs shorter than this are chance (a "the" elsewhere in the file)
MIN_COVERAGE = 0.6  # share of a chunk's words that must be found in its file


def _tokens(text: str) -> list[str]:
    return [t.casefold() for t in _TOKEN.findall(unicodedata.normalize("NFC", text))]


def _words_by_line(text: str) -> tuple[list[str], list[int]]:
    """Every word (letters and digits) of the file's body (after YAML front matter) and the 0-based line it is on."""
    lines = text.split("\n")
    start = 0
    if lines and lines[0].rstrip() == "---":
        closing = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
        start = closing + 1 if closing is not None else 0
    words: list[str] = []
    owners: list[int] = []
    for number in range(start, len(lines)):
        for word in _tokens(lines[number]):
            words.append(word)
            owners.append(number)
    return words, owners


def chunk_body(chunk: Chunk) -> str:
    """The chunk's text without its heading-path prefix (which chunking adds; it is not a run of the file)."""
    prefix = " > ".join(chunk.heading_path) + "\n\n" if chunk.heading_path else ""
    return chunk.text[len(prefix) :] if prefix and chunk.text.startswith(prefix) else chunk.text


def locate_chunks(text: str, chunks: Sequence[Chunk]) -> list[set[int] | None]:
    """For each chunk, the 0-based lines of ``text`` it came from, or None if it cannot be found.

    Words are compared without markup (cleaning drops link targets, template tags and quote markers), so a chunk is
    found by aligning its words with the file's: the lines from its first to its last matched word are its lines.
    """
    words, owners = _words_by_line(text)
    grams: dict[tuple[str, ...], list[int]] = {}
    for index in range(len(words) - MIN_BLOCK + 1):
        grams.setdefault(tuple(words[index : index + MIN_BLOCK]), []).append(index)
    found: list[set[int] | None] = []
    for chunk in chunks:
        run = _tokens(chunk_body(chunk))
        span = _align(words, run, grams)
        found.append(None if span is None else set(owners[span[0] : span[1] + 1]))
    return found


def _align(words: list[str], run: list[str], grams: dict[tuple[str, ...], list[int]]) -> tuple[int, int] | None:
    """(first, last) index in ``words`` of the chunk's words, or None when too few of them are found together.

    An exact run first; else the chunk is aligned (difflib) with the stretch of the file around its first word
    triple found there."""
    if not run:
        return None
    starts = grams.get(tuple(run[:MIN_BLOCK]), []) if len(run) >= MIN_BLOCK else range(len(words))
    exact = next((i for i in starts if words[i : i + len(run)] == run), None)
    if exact is not None:
        return exact, exact + len(run) - 1
    anchor = next(
        (grams[key][0] - i for i in range(len(run) - MIN_BLOCK + 1) if (key := tuple(run[i : i + MIN_BLOCK])) in grams),
        None,
    )
    if anchor is None:
        return None
    low = max(0, anchor - len(run) // 2)
    window = words[low : anchor + 2 * len(run) + MIN_BLOCK]
    blocks = [
        b for b in SequenceMatcher(None, window, run, autojunk=False).get_matching_blocks() if b.size >= MIN_BLOCK
    ]
    if not blocks or sum(b.size for b in blocks) < MIN_COVERAGE * len(run):
        return None
    return low + blocks[0].a, low + blocks[-1].a + blocks[-1].size - 1


def passage_dates(folder: Path, files: Sequence[tuple[str, Sequence[Chunk]]]) -> dict[str, datetime]:
    """chunk_id -> the newest commit among its lines, for the chunks of ``(path, chunks)`` files under ``folder``."""
    blamed = blame_files(folder, [path for path, _ in files])
    dated: dict[str, datetime] = {}
    for path, chunks in files:
        lines = blamed.get(path)
        if lines is None:
            continue
        try:
            text = (folder / path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        committed = [d for d in lines if d is not None]
        whole_file = max(committed) if committed and len(committed) == len(lines) else None
        for chunk, located in zip(chunks, locate_chunks(text, chunks), strict=True):
            when = [lines[n] for n in located or () if n < len(lines) and lines[n] is not None]
            if located and len(when) == len(located):  # every line committed: the newest commit dates it
                dated[chunk.chunk_id] = max(d for d in when if d is not None)
            elif located is None and whole_file is not None:  # not found (rewritten markup): no newer than its file
                dated[chunk.chunk_id] = whole_file
    return dated
