"""Walking a source folder without trusting it: only regular files are opened, symbolic links are never followed.

* :func:`walk` is iterative (no recursion limit) and stops :data:`MAX_DEPTH` folders below the source root;
* :func:`read_regular_file` checks with ``lstat`` first and opens with ``O_NOFOLLOW | O_NONBLOCK``, so a FIFO, a
  socket or a device is reported without being opened (opening a FIFO blocks until a writer comes: forever);
* :func:`requested` resolves the ``paths`` of a webhook refresh folder by folder, refusing any that leave the root
  or pass through a symbolic link (a signed request must not index ``/etc`` through a link in the docs).

Every refusal is a :class:`rag.models.SkippedFile` (or a :class:`rag.ingest.readers.ReadError`) with the reason.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from rag.ingest.readers import ReadError
from rag.models import SkippedFile

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 50  # folder levels below the source root; deeper folders are reported, not read


def read_regular_file(root: Path, rel: str) -> bytes:
    """The bytes of ``rel`` if it is a regular file (never a FIFO, socket or device; never through a symlink)."""
    file = root / rel
    try:
        info = os.lstat(file)
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise ReadError(symlink_reason(root, file))
    if not stat.S_ISREG(info.st_mode):
        raise ReadError(f"{file_kind(info.st_mode)}, not a regular file (not opened)")
    _check_size(info.st_size)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(file, flags)
        with os.fdopen(descriptor, "rb") as handle:
            opened = os.fstat(handle.fileno())
            if not stat.S_ISREG(opened.st_mode):  # swapped between lstat and open
                raise ReadError(f"{file_kind(opened.st_mode)}, not a regular file (not read)")
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}") from exc
    _check_size(len(data))
    return data


def _check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise ReadError(f"too large ({size // (1024 * 1024)} MiB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MiB)")


def file_kind(mode: int) -> str:
    """``stat`` mode -> "a FIFO (named pipe)", "a socket", ... for skip reasons."""
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return kind
    return "a special file"


def symlink_reason(root: Path, link: Path, *, folder: bool = False) -> str:
    """Why a symbolic link is skipped: links are never followed, and the reason says where it leads."""
    kind = "symbolic link to a folder" if folder else "symbolic link"
    try:
        target = link.resolve(strict=True)
    except RuntimeError:
        return "symbolic link loop (not followed)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (not followed)"
        return "broken symbolic link (its target does not exist)"
    try:
        inside = target.relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"{kind} pointing outside the source folder (not followed)"
    if inside == ".":
        return f"{kind} to the source folder itself (not followed)"
    indexed = "its files are" if folder else "the target is"
    return f"{kind} to {inside} (not followed; {indexed} indexed under {'their' if folder else 'its'} own path)"


def walk(root: Path, source: str, skipped: list[SkippedFile], prefix: str = "") -> list[str]:
    """Every non-hidden entry below ``root/prefix`` that is not a folder, as paths relative to ``root``.

    Iterative (no recursion limit), never descends into a symbolic link, and stops :data:`MAX_DEPTH` levels
    below the source root (deeper folders are reported in ``skipped``). Non-regular files are returned too:
    :func:`read_regular_file` reports them without opening them.
    """
    found: list[str] = []
    base_depth = len(PurePosixPath(prefix).parts) if prefix else 0
    pending: list[tuple[str, int]] = [(prefix, base_depth)]
    while pending:
        folder, depth = pending.pop()
        try:
            with os.scandir(root / folder if folder else root) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            skipped.append(SkippedFile(source, folder or ".", f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{folder}/{entry.name}" if folder else entry.name
            if entry.is_symlink() and os.path.isdir(entry.path):
                skipped.append(
                    SkippedFile(source, shown_path(rel), symlink_reason(root, Path(entry.path), folder=True))
                )
            elif entry.is_dir(follow_symlinks=False):
                if depth + 1 > MAX_DEPTH:
                    skipped.append(
                        SkippedFile(source, shown_path(rel), f"folder nested deeper than {MAX_DEPTH} levels (not read)")
                    )
                else:
                    pending.append((rel, depth + 1))
            else:
                found.append(rel)
    return found


def requested(root: Path, paths: Sequence[str], source: str, skipped: list[SkippedFile]) -> list[str]:
    """The existing files among ``paths`` (a folder means its files). Missing ones are left out (deleted).

    A path that leaves the source (``..``, absolute) or passes through a symbolic link is reported, never read.
    """
    found: list[str] = []
    for raw in paths:
        rel = PurePosixPath(raw.replace("\\", "/").lstrip("/")).as_posix()
        if any(ord(char) < 32 or char == "\x7f" for char in rel):
            skipped.append(SkippedFile(source, repr(raw)[1:-1], "path contains control characters"))
            continue
        if rel in ("", ".") or ".." in PurePosixPath(rel).parts:
            skipped.append(SkippedFile(source, raw, "path is outside the source folder"))
            continue
        if any(part.startswith(".") for part in PurePosixPath(rel).parts):
            continue
        through = _symlinked_parent(root, rel)
        if through is not None:
            skipped.append(SkippedFile(source, rel, f"path goes through the symbolic link {through} (not followed)"))
            continue
        try:
            info = os.lstat(root / rel)
        except OSError:
            continue  # deleted (or never there): its stored document, if any, is removed
        if stat.S_ISLNK(info.st_mode) and os.path.isdir(root / rel):
            skipped.append(SkippedFile(source, rel, symlink_reason(root, root / rel, folder=True)))
        elif stat.S_ISDIR(info.st_mode):
            found.extend(walk(root, source, skipped, prefix=rel))
        else:
            found.append(rel)
    return found


def _symlinked_parent(root: Path, rel: str) -> str | None:
    """The first folder of ``rel`` (below the root) that is a symbolic link, if any."""
    parts = PurePosixPath(rel).parts
    for index in range(1, len(parts)):
        folder = "/".join(parts[:index])
        if os.path.islink(root / folder):
            return folder
    return None


def is_utf8(rel: str) -> bool:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_path(rel: str) -> str:
    """A path safe to print and store: undecodable bytes of a file name become U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
