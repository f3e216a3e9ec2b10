"""Build a folder of hostile files next to good ones (no binary blobs in git: everything is made here).

    python tests/data/hostile/make_hostile.py /tmp/hostile     # then point a [[sources]] entry at it

``build(folder)`` returns what an ingest of ``folder/docs`` must do: the good files it indexes, the ones it indexes
with a date warning, and the bad ones it reports as skipped (with a word of the reason). Every bad file here once
broke or hung bestbefore (issue #10): a FIFO blocked forever, a "billion laughs" front matter ate 1.1 GB, a
5,000-level tree raised RecursionError, ``last_reviewed: 2024-02-30`` stopped the whole ingest.
"""

from __future__ import annotations

import os
import stat
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

DEEP_LEVELS = 1500  # deeper than Python's recursion limit (1,000), which os.walk hit
HUGE_LINE_BYTES = 1024 * 1024


@dataclass
class Hostile:
    """What an ingest of ``docs`` must report. Paths are relative to ``docs``; reasons are lower-case fragments."""

    docs: Path
    outside: Path
    good: set[str] = field(default_factory=set)
    warned: dict[str, str] = field(default_factory=dict)  # indexed, but the date is not trusted
    bad: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # cases this machine cannot make, and why


def _write(root: Path, rel: str, content: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)


def minimal_pdf(text: str, *, stream: bytes | None = None, flate: bool = False) -> bytes:
    """A valid one-page PDF with one line of Helvetica text (xref offsets computed), or the given content stream."""
    if stream is None:
        stream = b"BT /F1 18 Tf 72 720 Td (%s) Tj ET" % text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d%s >>\nstream\n%s\nendstream"
        % (len(stream), b" /Filter /FlateDecode" if flate else b"", stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def flate_bomb(expanded: int = 100 * 1024 * 1024) -> bytes:
    """A ~100 KB zlib stream that inflates to ``expanded`` bytes of zeros (compressed a MiB at a time)."""
    packer = zlib.compressobj(9)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(expanded // len(block))) + packer.flush()


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    lines.append("owner: *i")
    return "---\n" + "\n".join(lines) + "\n---\n# Lol\n\nlaughs\n"


def make_deep_tree(root: Path, levels: int, leaf: str) -> None:
    """``root/d/d/.../d/leaf`` ``levels`` folders deep, made with directory descriptors (the full path would be far
    longer than PATH_MAX)."""
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=descriptor)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = child
        handle = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(handle, b"# Deep\n\nnobody should need to read this\n")
        os.close(handle)
    finally:
        os.close(descriptor)


def remove_tree(root: Path) -> None:
    """Delete a tree of any depth without recursion and without long paths (``shutil.rmtree`` recurses per level)."""
    if not root.exists():
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    stack = [os.open(root, flags)]
    names: list[str] = []  # the folder descended into at each level
    while stack:
        descriptor = stack[-1]
        folder = None
        with os.scandir(descriptor) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    folder = entry.name
                    break
                os.unlink(entry.name, dir_fd=descriptor)
        if folder is not None:
            stack.append(os.open(folder, flags, dir_fd=descriptor))
            names.append(folder)
            continue
        os.close(stack.pop())
        if names:
            os.rmdir(names.pop(), dir_fd=stack[-1])
    os.rmdir(root)


def build(folder: Path) -> Hostile:  # noqa: PLR0915 - one line per hostile case reads best
    """Make ``folder/docs`` (good and hostile files) and ``folder/outside`` (what symlinks point at)."""
    docs, outside = folder / "docs", folder / "outside"
    docs.mkdir(parents=True)
    outside.mkdir()
    _write(outside, "secret.md", "# Secret\n\nThe root password is hunter2.\n")
    made = Hostile(docs=docs, outside=outside)

    def good(rel: str, content: str | bytes) -> None:
        _write(docs, rel, content)
        made.good.add(rel)

    def bad(rel: str, content: str | bytes, reason: str) -> None:
        _write(docs, rel, content)
        made.bad[rel] = reason

    # --- good files: indexed whatever their neighbours do
    good("good/plain.md", "# Vacation policy\n\nEmployees get 25 days of paid leave a year.\n")
    good("good/dated.md", "---\ntitle: Expenses\nlast_reviewed: 2024-03-01\n---\nSubmit receipts within 30 days.\n")
    good("good/anchor-without-alias.md", "---\nowner: &who alice\n---\n# Anchors\n\nAn anchor alone is harmless.\n")
    good("good/notes.txt", "Plain text notes about the office wifi.\n")
    good("good/page.html", "<html><head><title>Page</title></head><body><p>Badges at reception.</p></body></html>")
    good("good/guide.rst", "Guide\n=====\n\nParking is behind the building.\n")
    good("good/report.pdf", minimal_pdf("Quarterly report text"))
    good("good/bom.md", "\ufeff# With BOM\n\nA UTF-8 byte order mark is fine.\n")
    good("good/markup-[/bold]-[red].md", "---\ntitle: '[/oops] [bold]'\n---\nRich markup in names and titles.\n")
    good("good/new\nline.md", "# Newline\n\nA file name with a newline in it.\n")
    good("good/" + "l" * 240 + ".md", "# Long name\n\nA 243-character file name.\n")
    good("good/heading-spaces.md", "# a" + " " * 50_000 + "b\n\ncubic-time heading regexes hung on this line\n")
    good("good/huge-line.md", ("lorem ipsum " * (HUGE_LINE_BYTES // 12)) + "\n")
    good("good/megabyte-heading.md", "# " + "word " * (HUGE_LINE_BYTES // 5) + "\n\n" + "body text. " * 2000 + "\n")
    good("folder.md/inside.md", "# Inside\n\nA folder whose name ends in .md.\n")

    # --- dates that must not be trusted: indexed, dated by the next rule, with a warning
    for rel, line, reason in (
        ("dates/feb-30.md", "last_reviewed: 2024-02-30", "2024-02-30"),
        ("dates/month-13.md", 'last_reviewed: "2023-13-45"', "2023-13-45"),
        ("dates/yesterday.md", 'last_reviewed: "yesterday"', "yesterday"),
        ("dates/future.md", "last_reviewed: 2031-01-01", "in the future"),
        ("dates/year-zero.md", "updated: 0000-01-01", "0000-01-01"),
    ):
        _write(docs, rel, f"---\n{line}\n---\n# Dated\n\nThe date above is not to be trusted.\n")
        made.warned[rel] = reason

    # --- front matter that cannot be parsed at a bounded cost, or at all
    bad("yaml/billion-laughs.md", billion_laughs(), "alias")
    bad("yaml/huge-front-matter.md", "---\n" + "k: v\n" * 30_000 + "---\nbody\n", "front matter too large")
    bad("yaml/deep-nesting.md", "---\na: " + "[" * 5000 + "]" * 5000 + "\n---\nbody\n", "nested deeper")
    bad("yaml/huge-int.md", "---\nversion: " + "9" * 5000 + "\n---\nbody\n", "malformed yaml")
    bad("yaml/python-tag.md", "---\nx: !!python/object/apply:os.system [echo hi]\n---\nbody\n", "malformed yaml")
    bad("yaml/explicit-bad-timestamp.md", "---\nwhen: !!timestamp 2024-02-30\n---\nbody\n", "malformed yaml")
    bad("yaml/unclosed.md", "---\ntitle: never closed\nbody\n", "never closed")
    bad("yaml/list.md", "---\n- a\n- b\n---\nbody\n", "expected 'key: value'")

    # --- bytes that are not text
    bad("bytes/invalid-utf8.md", b"# Caf\xe9\n\nlatin-1, not UTF-8\n", "not valid utf-8")
    bad("bytes/nul-bytes.md", b"# Nul\x00\n\ntext\n", "binary file")
    bad("bytes/png-named.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file")
    bad("bytes/utf16.txt", "hello".encode("utf-16"), "utf-16")
    bad("bytes/empty.md", b"", "empty")
    bad("bytes/whitespace.md", " \n\t\n\n", "empty")
    bad("bytes/zero-byte.pdf", b"", "pdf")
    bad("bytes/garbage.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4, "pdf")
    bad("bytes/flate-bomb.pdf", minimal_pdf("", stream=flate_bomb(), flate=True), "limit reached")
    too_big = docs / "bytes/too-big.md"
    with too_big.open("wb") as handle:  # sparse: 51 MiB long, no disk used
        handle.truncate(51 * 1024 * 1024)
    made.bad["bytes/too-big.md"] = "too large"

    # --- not regular files: never opened
    (docs / "special").mkdir()
    os.mkfifo(docs / "special/fifo.md")
    made.bad["special/fifo.md"] = "fifo"
    os.mknod(docs / "special/socket.md", stat.S_IFSOCK | 0o600)
    made.bad["special/socket.md"] = "socket"
    try:
        os.mknod(docs / "special/null-device.md", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        made.bad["special/null-device.md"] = "character device"
    except PermissionError as exc:
        made.unavailable["special/null-device.md"] = f"mknod of a device needs root: {exc.strerror}"

    # --- symbolic links: never followed
    (docs / "links").mkdir()
    (docs / "links/to-outside.md").symlink_to(outside / "secret.md")
    made.bad["links/to-outside.md"] = "outside the source folder"
    (docs / "links/outside-folder").symlink_to(outside, target_is_directory=True)
    made.bad["links/outside-folder"] = "folder pointing outside"
    (docs / "links/to-inside.md").symlink_to(docs / "good/plain.md")
    made.bad["links/to-inside.md"] = "symbolic link to good/plain.md"
    (docs / "links/broken.md").symlink_to(docs / "links/missing.md")
    made.bad["links/broken.md"] = "broken symbolic link"
    (docs / "links/loop-a.md").symlink_to(docs / "links/loop-b.md")
    (docs / "links/loop-b.md").symlink_to(docs / "links/loop-a.md")
    made.bad["links/loop-a.md"] = "loop"
    made.bad["links/loop-b.md"] = "loop"
    (docs / "links/self-folder").symlink_to(docs, target_is_directory=True)
    made.bad["links/self-folder"] = "symbolic link to a folder"

    # --- names and shapes
    undecodable = os.fsencode(docs / "names") + b"/bad-\xff-name.md"
    os.makedirs(docs / "names")
    with open(undecodable, "wb") as handle:
        handle.write(b"# Name\n\nthe file name is not UTF-8\n")
    made.bad["names/bad-\ufffd-name.md"] = "file name is not valid utf-8"
    (docs / "deep").mkdir()
    make_deep_tree(docs / "deep", DEEP_LEVELS, "bottom.md")
    made.bad["deep/" + "/".join(["d"] * 50)] = "nested deeper than 50"

    # --- a file only root can read: root reads it anyway, anyone else gets it reported
    _write(docs, "perm/unreadable.md", "# Locked\n\nchmod 000\n")
    os.chmod(docs / "perm/unreadable.md", 0)
    if os.geteuid() == 0:
        made.good.add("perm/unreadable.md")
    else:
        made.bad["perm/unreadable.md"] = "permission denied"
    return made


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_hostile.py NEW_FOLDER")
    target = Path(sys.argv[1])
    result = build(target)
    print(f"{target / 'docs'}: {len(result.good)} good, {len(result.warned)} with untrusted dates, "
          f"{len(result.bad)} hostile files")  # fmt: skip
