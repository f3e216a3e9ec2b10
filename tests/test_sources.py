"""Folder sources: formats, skipped files, hashes, truthful dates (front matter, real git, the real handbook)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from rag.config import SourceConfig
from rag.errors import SourceError
from rag.ingest import gitdates
from rag.ingest.gitdates import parse_log, parse_status
from rag.ingest.htmltext import html_to_text
from rag.ingest.markup import clean_inline
from rag.ingest.readers import (
    ReadError,
    markdown_title,
    parse_date_value,
    prettify_stem,
    rst_title,
    split_front_matter,
)
from rag.ingest.sources import SourceScan, glob_match, join_url, normalise_text, scan_source, source_hash
from rag.ingest.trusted_dates import front_matter_date
from rag.models import DateOrigin, Document

# --- helpers ----------------------------------------------------------------------------------


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def scan(root: Path, **kwargs: Any) -> SourceScan:
    paths = kwargs.pop("paths", None)
    return scan_source(SourceConfig(name="docs", path=root, **kwargs), paths=paths)


def by_path(result: SourceScan) -> dict[str, Document]:
    return {doc.path: doc for doc in result.documents}


def text_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal, valid PDF with one Helvetica text line per page (xref offsets computed)."""
    count = len(pages)
    font_id = 3 + 2 * count
    info_id = font_id + 1
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info_id: b"<< /Title (%s) >>" % (title or "").encode("latin-1"),
    }
    for i, line in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        stream = b"BT /F1 18 Tf 72 720 Td (%s) Tj ET" % line.encode("latin-1")
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id)
        )
        objects[content_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = bytearray(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    info = b" /Info %d 0 R" % info_id if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (size, info, xref)
    return bytes(out)


def git(repo: Path, *args: str, when: str | None = None) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(repo),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.com",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.com",
    }
    if when:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def commit(repo: Path, files: dict[str, str], when: str, message: str = "change") -> None:
    for rel, content in files.items():
        write(repo, rel, content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, when=when)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- pure functions ---------------------------------------------------------------------------


def test_normalise_text() -> None:
    raw = "  Caf\u0065\u0301  \r\nline two\t \r\n\r\n\r\n\r\n\r\nend\n\n"
    assert normalise_text(raw) == "Caf\u00e9\nline two\n\nend"
    assert normalise_text(normalise_text(raw)) == normalise_text(raw)


def test_source_hash_ignores_line_endings_and_trailing_space() -> None:
    assert source_hash("a\r\nb  \n\n\n\nc") == source_hash("a\nb\n\nc")
    assert source_hash("a\nb") != source_hash("a\nc")
    assert len(source_hash("x")) == 64


def test_split_front_matter() -> None:
    meta, body = split_front_matter("---\ntitle: Hello\nowner: '@ana'\n---\n# Body\n")
    assert meta == {"title": "Hello", "owner": "@ana"}
    assert body == "# Body\n"
    assert split_front_matter("# No front matter\n---\n") == ({}, "# No front matter\n---\n")
    assert split_front_matter("---\n---\nbody") == ({}, "body")
    with pytest.raises(ReadError, match="malformed YAML front matter"):
        split_front_matter("---\ntitle: [unclosed\n---\nbody")
    with pytest.raises(ReadError, match="never closed"):
        split_front_matter("---\ntitle: x\nbody")
    with pytest.raises(ReadError, match="expected 'key: value'"):
        split_front_matter("---\n- a list\n---\nbody")


def pick_front_matter_date(meta: dict[str, Any]) -> datetime | None:
    return front_matter_date(meta, datetime(2026, 1, 1, tzinfo=UTC)).moment


def test_front_matter_date_priority() -> None:
    meta = {"date": date(2020, 1, 1), "updated": "2021-02-03", "last_reviewed": date(2022, 3, 4)}
    assert pick_front_matter_date(meta) == datetime(2022, 3, 4, tzinfo=UTC)
    del meta["last_reviewed"]
    assert pick_front_matter_date(meta) == datetime(2021, 2, 3, tzinfo=UTC)
    del meta["updated"]
    assert pick_front_matter_date(meta) == datetime(2020, 1, 1, tzinfo=UTC)
    assert pick_front_matter_date({"Last_Reviewed": "2023-04-01"}) == datetime(2023, 4, 1, tzinfo=UTC)
    # an unusable higher-priority field falls through to the next one
    assert pick_front_matter_date({"last_reviewed": "soon", "date": "2019-05-06"}) == datetime(2019, 5, 6, tzinfo=UTC)
    assert pick_front_matter_date({"title": "x", "date_approved": "2021-08-05"}) is None


def test_parse_date_value() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert parse_date_value(datetime(2023, 4, 1, 12, 0, tzinfo=plus2)) == datetime(2023, 4, 1, 10, 0, tzinfo=UTC)
    assert parse_date_value(datetime(2023, 4, 1, 12, 0)) == datetime(2023, 4, 1, 12, 0, tzinfo=UTC)
    assert parse_date_value("2023-04-01T10:00:00Z") == datetime(2023, 4, 1, 10, 0, tzinfo=UTC)
    assert parse_date_value("1 April 2023") == datetime(2023, 4, 1, tzinfo=UTC)
    assert parse_date_value("2023/04/01") == datetime(2023, 4, 1, tzinfo=UTC)
    for junk in ("", "someday", 2023, None, ["2023-04-01"]):
        assert parse_date_value(junk) is None
    # YAML itself turns these into date/datetime objects
    loaded = yaml.safe_load("a: 2023-04-01\nb: 2023-04-01 08:30:00+02:00")
    assert parse_date_value(loaded["a"]) == datetime(2023, 4, 1, tzinfo=UTC)
    assert parse_date_value(loaded["b"]) == datetime(2023, 4, 1, 6, 30, tzinfo=UTC)


def test_titles_from_content() -> None:
    assert markdown_title("intro\n\n## Sub\n\n# Real Title #\n") == "Real Title"
    assert markdown_title("```\n# not a title\n```\nSetext Title\n============\n") == "Setext Title"
    assert markdown_title("no heading here") is None
    assert rst_title("=========\n Welcome\n=========\n\ntext\n") == "Welcome"
    assert rst_title("Install guide\n-------------\n\nStep one\n") == "Install guide"
    assert rst_title("just a paragraph\n") is None
    assert prettify_stem("guides/on-call_rota.md") == "On call rota"
    assert prettify_stem("team/engineering/index.md") == "Engineering"
    assert prettify_stem("intro-to-TTS-Tech.md") == "Intro to TTS Tech"


def test_html_to_text() -> None:
    html = """<html><head><title> Expense   policy </title><style>p{color:red}</style>
    <script>var secret = 1;</script></head><body>
    <h1>Expenses</h1><p>Claim within <b>30&nbsp;days</b>.</p>
    <h2>Travel</h2><ul><li>Trains</li><li>Hotels</li></ul><pre>keep   this
  indented</pre></body></html>"""
    title, text = html_to_text(html)
    assert title == "Expense policy"
    assert "secret" not in text and "color" not in text
    assert text.splitlines()[0] == "# Expenses"
    assert "## Travel" in text.splitlines()
    assert "- Trains" in text and "- Hotels" in text
    assert "Claim within 30 days." in text  # &nbsp; becomes a plain space
    assert "keep   this\n  indented" in text
    assert html_to_text("<body><h1>Only H1</h1><p>x</p></body>")[0] == "Only H1"


def test_glob_match() -> None:
    assert glob_match("**/*", "a.md") and glob_match("**/*", "x/y/a.md")
    assert glob_match("**/*.md", "a.md") and glob_match("**/*.md", "deep/er/a.md")
    assert not glob_match("*.md", "sub/a.md")
    assert glob_match("drafts/**", "drafts/x/y.md") and not glob_match("drafts/**", "final/x.md")
    assert glob_match("docs/**/guide-?.rst", "docs/guide-1.rst")
    assert glob_match("docs/[!x]*.md", "docs/a.md") and not glob_match("docs/[!x]*.md", "docs/xa.md")
    assert not glob_match("a.md", "a_md")


def test_join_url() -> None:
    assert join_url("https://wiki.example.com/docs/", "a b/ü.md") == "https://wiki.example.com/docs/a%20b/%C3%BC.md"
    assert join_url("https://x", "/p.md") == "https://x/p.md"


def test_parse_log_and_status() -> None:
    output = (
        b"\x1eaaa 2024-02-01T10:00:00+01:00\x00\ndocs/a.md\x00other/b.md\x00"
        b"\x1ebbb 2023-01-01T00:00:00+00:00\x00\x00docs/a.md\x00docs/caf\xc3\xa9 x.md\x00"
        b"\x1eccc 2022-01-01T00:00:00+00:00\x00\ndocs/old.md\x00"
    )
    dates = parse_log(output, "docs", ignore_commits=frozenset({"ccc"}))
    assert dates == {"a.md": utc("2024-02-01T09:00:00+00:00"), "café x.md": utc("2023-01-01T00:00:00+00:00")}
    assert set(parse_log(output)) == {"docs/a.md", "other/b.md", "docs/café x.md", "docs/old.md"}
    status = b" M docs/a.md\x00?? docs/new file.md\x00A  other/c.md\x00"
    assert parse_status(status, "docs/") == {"a.md", "new file.md"}


# --- reading folders --------------------------------------------------------------------------


def test_markdown_front_matter_title_owner_url(tmp_path: Path) -> None:
    write(
        tmp_path,
        "guides/on-call.md",
        "---\ntitle: On-call guide\nowner: [ana, bo]\nlast_reviewed: 2023-04-01\nupdated: 2024-01-01\n---\n"
        "# Heading not title\n\nPage the primary.\n",
    )
    write(tmp_path, "guides/setup.md", "Intro line\n\n# Setup Steps\n\nRun it.\n")
    write(tmp_path, "guides/no-title_here.md", "Just text.\n")
    docs = by_path(scan(tmp_path, url_base="https://git.example.com/blob/main/"))
    on_call = docs["guides/on-call.md"]
    assert on_call.doc_id == "docs:guides/on-call.md"
    assert on_call.title == "On-call guide"
    assert on_call.owner == "ana, bo"
    assert on_call.url == "https://git.example.com/blob/main/guides/on-call.md"
    assert on_call.updated_at == datetime(2023, 4, 1, tzinfo=UTC)
    assert on_call.date_origin is DateOrigin.FRONT_MATTER
    assert on_call.text == "# Heading not title\n\nPage the primary."
    assert on_call.source_hash == source_hash(on_call.text)
    assert on_call.format == "markdown"
    assert docs["guides/setup.md"].title == "Setup Steps"
    assert docs["guides/no-title_here.md"].title == "No title here"
    assert docs["guides/setup.md"].owner is None
    # not in git, no front matter date: the indexer decides (first seen); never the mtime
    assert docs["guides/setup.md"].updated_at is None and docs["guides/setup.md"].date_origin is None


def test_hash_ignores_mtime_front_matter_and_line_endings(tmp_path: Path) -> None:
    body = "# Expenses\n\nClaim within 30 days.\n"
    one = write(tmp_path / "a", "p.md", f"---\nowner: ana\nlast_reviewed: 2020-01-01\n---\n{body}")
    write(tmp_path / "b", "p.md", f"---\nowner: bo\nupdated: 2024-06-01\n---\n{body}".replace("\n", "\r\n"))
    before = scan(tmp_path / "a").documents[0]
    os.utime(one, (1_000_000_000, 1_000_000_000))
    after = scan(tmp_path / "a").documents[0]
    other = scan(tmp_path / "b").documents[0]
    assert before.source_hash == after.source_hash == other.source_hash
    assert before.owner == "ana" and other.owner == "bo"
    assert before.updated_at == after.updated_at == datetime(2020, 1, 1, tzinfo=UTC)
    write(tmp_path / "a", "p.md", body + "\nA new rule.\n")
    assert scan(tmp_path / "a").documents[0].source_hash != before.source_hash


def test_every_format(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# Markdown Doc\n\nbody *md*\n")
    write(tmp_path, "b.markdown", "body only\n")
    write(tmp_path, "c.txt", "Plain text\r\nsecond line   \r\n")
    write(tmp_path, "d.html", "<html><head><title>Html Doc</title></head><body><h2>Part</h2><p>Para</p></body></html>")
    write(tmp_path, "e.htm", "<h1>Legacy</h1><p>old</p>")
    write(tmp_path, "f.rst", "Rest Doc\n========\n\n.. note:: kept as is\n")
    write(tmp_path, "g.pdf", text_pdf(["Hello PDF world", "Second page text"], title="Quarterly Report"))
    write(tmp_path, "h.pdf", text_pdf(["Untitled pdf text"]))
    result = scan(tmp_path)
    assert result.skipped == []
    docs = by_path(result)
    assert list(docs) == sorted(docs)
    assert {p: (d.format, d.title) for p, d in docs.items()} == {
        "a.md": ("markdown", "Markdown Doc"),
        "b.markdown": ("markdown", "B"),
        "c.txt": ("text", "C"),
        "d.html": ("html", "Html Doc"),
        "e.htm": ("html", "Legacy"),
        "f.rst": ("rst", "Rest Doc"),
        "g.pdf": ("pdf", "Quarterly Report"),
        "h.pdf": ("pdf", "H"),
    }
    assert docs["c.txt"].text == "Plain text\nsecond line"
    assert docs["d.html"].text == "## Part\n\nPara"
    assert docs["f.rst"].text == "Rest Doc\n========\n\n.. note:: kept as is"
    assert docs["g.pdf"].text == "Hello PDF world\n\nSecond page text"


def test_unreadable_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    write(tmp_path, "good.md", "# Good\n\nstill indexed\n")
    write(tmp_path, "latin1.txt", "caf\xe9".encode("latin-1"))
    write(tmp_path, "binary.txt", b"abc\x00\x01\x02")
    write(tmp_path, "empty.md", "  \n\n\t\n")
    write(tmp_path, "only-front-matter.md", "---\ntitle: Stub\nredirect_to: https://elsewhere\n---\n")
    write(tmp_path, "broken.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    write(tmp_path, "bad-yaml.md", "---\ntitle: [oops\n---\ntext\n")
    blank = tmp_path / "blank.pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with blank.open("wb") as handle:
        writer.write(handle)
    write(tmp_path, "report.docx", b"PK\x03\x04")  # unknown type under the default include: ignored
    write(tmp_path, ".hidden.md", "# hidden\n")
    write(tmp_path, ".git/config.md", "# not a doc\n")
    write(tmp_path, "sub/.secret/x.md", "# hidden dir\n")
    result = scan(tmp_path)
    assert [d.path for d in result.documents] == ["good.md"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert set(reasons) == {
        "latin1.txt", "binary.txt", "empty.md", "only-front-matter.md", "broken.pdf", "bad-yaml.md", "blank.pdf",
    }  # fmt: skip
    assert reasons["latin1.txt"].startswith("not valid UTF-8")
    assert reasons["binary.txt"].startswith("binary file")
    assert reasons["empty.md"] == "empty"
    assert "redirect stub to https://elsewhere" in reasons["only-front-matter.md"]
    assert reasons["broken.pdf"].startswith("broken PDF: ")
    assert reasons["bad-yaml.md"].startswith("malformed YAML front matter (line 3): ")
    assert reasons["blank.pdf"] == "empty"
    assert all(s.source == "docs" for s in result.skipped)


def test_include_exclude_and_explicit_unsupported(tmp_path: Path) -> None:
    write(tmp_path, "docs/a.md", "a\n")
    write(tmp_path, "docs/drafts/b.md", "b\n")
    write(tmp_path, "docs/c.docx", b"PK")
    write(tmp_path, "notes.txt", "n\n")
    result = scan(tmp_path, include=["docs/**/*.md", "**/*.docx"], exclude=["**/drafts/**"])
    assert [d.path for d in result.documents] == ["docs/a.md"]
    assert [(s.path, s.reason) for s in result.skipped] == [("docs/c.docx", "unsupported file type .docx")]


def test_paths_restricts_the_scan(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "a\n")
    write(tmp_path, "b.md", "b\n")
    write(tmp_path, "sub/c.md", "c\n")
    write(tmp_path, "sub/d.txt", "d\n")
    result = scan(tmp_path, paths=["b.md", "./sub", "gone.md", "../etc/passwd"], exclude=["**/*.txt"])
    assert [d.path for d in result.documents] == ["b.md", "sub/c.md"]
    assert [(s.path, s.reason) for s in result.skipped] == [("../etc/passwd", "path is outside the source folder")]


def test_missing_folder_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist.*path"):
        scan(tmp_path / "nope")
    write(tmp_path, "file.md", "x")
    with pytest.raises(SourceError, match="is not a folder"):
        scan(tmp_path / "file.md")


# --- git dates --------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(
        root,
        {"README.md": "# repo\n", "docs/a.md": "# A\n\nfirst\n", "docs/b.md": "# B\n", "docs/café x.md": "# Caf\n"},
        "2021-01-10T09:00:00+00:00",
        "initial",
    )
    commit(root, {"docs/a.md": "# A\n\nsecond\n"}, "2022-06-15T12:30:00+02:00", "edit a")
    commit(root, {"README.md": "# repo v2\n", "docs/sub/c.md": "# C\n"}, "2023-03-03T03:03:03-05:00", "add c")
    commit(
        root,
        {"docs/dated.md": "---\nupdated: 2019-09-09\n---\nfront matter wins\n"},
        "2024-01-01T00:00:00+00:00",
        "dated",
    )
    return root


EXPECTED_GIT = {
    "a.md": utc("2022-06-15T10:30:00+00:00"),
    "b.md": utc("2021-01-10T09:00:00+00:00"),
    "café x.md": utc("2021-01-10T09:00:00+00:00"),
    "sub/c.md": utc("2023-03-03T08:03:03+00:00"),
}


def dates_of(result: SourceScan) -> dict[str, tuple[datetime | None, DateOrigin | None]]:
    return {d.path: (d.updated_at, d.date_origin) for d in result.documents}


def test_git_dates_are_last_commit_dates(repo: Path) -> None:
    got = dates_of(scan(repo / "docs"))
    assert got == {
        **{path: (when, DateOrigin.GIT) for path, when in EXPECTED_GIT.items()},
        "dated.md": (datetime(2019, 9, 9, tzinfo=UTC), DateOrigin.FRONT_MATTER),
    }
    # scanning from the repository top gives the same dates, with the prefix kept in the path
    top = dates_of(scan(repo))
    assert top["README.md"] == (utc("2023-03-03T08:03:03+00:00"), DateOrigin.GIT)
    assert top["docs/a.md"] == (EXPECTED_GIT["a.md"], DateOrigin.GIT)


def test_fresh_clone_keeps_dates(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert dates_of(scan(clone / "docs")) == dates_of(scan(repo / "docs"))
    assert all(d.updated_at is not None and d.updated_at.year < 2025 for d in scan(clone / "docs").documents)


def test_uncommitted_changes_fall_back(repo: Path) -> None:
    write(repo, "docs/a.md", "# A\n\nedited but not committed\n")
    write(repo, "docs/new.md", "# brand new\n")
    write(repo, "docs/b.md", "# B staged\n")
    git(repo, "add", "docs/b.md")
    got = dates_of(scan(repo / "docs"))
    assert got["a.md"] == (None, None)
    assert got["new.md"] == (None, None)
    assert got["b.md"] == (None, None)
    assert got["sub/c.md"] == (EXPECTED_GIT["sub/c.md"], DateOrigin.GIT)


def test_one_git_log_for_the_whole_folder(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run

    def spy(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(list(args))
        return real(args, **kwargs)

    monkeypatch.setattr(gitdates.subprocess, "run", spy)
    scan(repo / "docs")
    assert sum("log" in call for call in calls) == 1
    assert len(calls) <= 3  # rev-parse, log, status


def test_paths_scan_uses_git_dates(repo: Path) -> None:
    got = dates_of(scan(repo / "docs", paths=["a.md", "café x.md"]))
    assert got == {
        "a.md": (EXPECTED_GIT["a.md"], DateOrigin.GIT),
        "café x.md": (EXPECTED_GIT["café x.md"], DateOrigin.GIT),
    }


def test_shallow_clone_does_not_invent_dates(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo}", str(clone)], check=True)
    got = dates_of(scan(clone / "docs"))
    assert got["dated.md"][1] is DateOrigin.FRONT_MATTER
    # the boundary commit ("add c") lists the whole tree as added; its date is not a true last change
    assert got["a.md"] == (None, None)
    assert got["sub/c.md"] == (None, None)


def test_not_a_git_folder_gives_no_dates(tmp_path: Path) -> None:
    write(tmp_path, "plain/x.md", "# x\n")
    assert dates_of(scan(tmp_path / "plain")) == {"x.md": (None, None)}


# --- the real handbook ------------------------------------------------------------------------

DATE_FIELDS = ("last_reviewed", "updated", "date")


def front_matter(path: Path) -> dict[str, Any]:
    meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
    return meta


def test_handbook_dates_match_git(handbook_clone: Path) -> None:
    pages = handbook_clone / "pages"
    files = sorted(p.relative_to(pages).as_posix() for p in pages.rglob("*") if p.is_file())
    assert len(files) == 246 and all(f.endswith(".md") for f in files)
    metas = {rel: front_matter(pages / rel) for rel in files}
    with_dates = {rel for rel, meta in metas.items() if any(k in meta for k in DATE_FIELDS)}
    assert with_dates == set()  # the handbook's front matter has title/redirects/keywords, no date fields

    result = scan_source(SourceConfig(name="handbook", path=pages, url_base="https://handbook.tts.gsa.gov/pages"))
    # 8 pages are redirect stubs: front matter (title, redirect_to) and no text at all
    stubs = {rel for rel, meta in metas.items() if "redirect_to" in meta and not split_front_matter(
        (pages / rel).read_text(encoding="utf-8"))[1].strip()}  # fmt: skip
    assert len(stubs) == 8
    assert {s.path for s in result.skipped} == stubs
    assert all(s.reason.startswith("empty (only front matter: a redirect stub") for s in result.skipped)
    assert len(result.documents) == 246 - 8
    assert all(d.date_origin is DateOrigin.GIT for d in result.documents)

    # reference: `git log -1` per file, for every page (cheap: ~0.5 s)
    for doc in result.documents:
        ref = subprocess.run(
            ["git", "-C", str(pages), "log", "-1", "--format=%cI", "--", doc.path],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert doc.updated_at == utc(ref), doc.path
    # and the clone's mtimes (all "now") played no part
    assert max(d.updated_at for d in result.documents if d.updated_at) < datetime(2025, 3, 1, tzinfo=UTC)


def test_handbook_titles_and_sample_by_paths(handbook_clone: Path) -> None:
    pages = handbook_clone / "pages"
    full = by_path(scan_source(SourceConfig(name="handbook", path=pages)))
    for doc in full.values():
        raw_title = front_matter(pages / doc.path)["title"]
        assert doc.title == clean_inline(raw_title)  # "Logging in &amp; Networks" is shown "Logging in & Networks"
        assert "<" not in doc.title and "&amp;" not in doc.title
        assert doc.text and not doc.text.startswith("---")
    sample = sorted(full)[::12][:20]
    part = by_path(scan_source(SourceConfig(name="handbook", path=pages), paths=sample))
    assert list(part) == sample
    for rel in sample:
        assert part[rel] == full[rel]
