"""Last-commit dates for every file of a folder, from ONE ``git log`` pass (plus one ``git status``).

A file's git date is the committer date of the newest commit that touched it. Files that are
untracked, staged or modified in the work tree are reported as ``dirty``: their last change has
not been committed, so the commit date would be a lie.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import SourceError

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 300.0
_MAX_PATHSPECS = 200  # beyond this, ask about the whole folder instead of listing files
_RECORD = b"\x1e"


@dataclass(frozen=True)
class GitDates:
    """Per-file commit dates, keyed by posix path relative to the source folder."""

    dates: dict[str, datetime]
    dirty: frozenset[str]

    def date_of(self, path: str) -> datetime | None:
        """The last commit date, or None if the file is untracked / has uncommitted changes."""
        if path in self.dirty:
            return None
        return self.dates.get(path)


def parse_log(output: bytes, prefix: str = "", *, ignore_commits: frozenset[str] = frozenset()) -> dict[str, datetime]:
    """Parse ``git log -z --format=%x1e%H %cI --name-only`` output: the first (newest) date per path.

    Paths are relative to the repository top; only those under ``prefix`` (posix, "" = top) are kept,
    made relative to it. Commits in ``ignore_commits`` (shallow-clone boundaries, which list every
    file as added) date nothing.
    """
    dates: dict[str, datetime] = {}
    for name, when in log_entries(output, prefix, ignore_commits=ignore_commits):
        dates.setdefault(name, when)
    return dates


def log_entries(
    output: bytes, prefix: str = "", *, ignore_commits: frozenset[str] = frozenset()
) -> Iterator[tuple[str, datetime]]:
    """Every (path, commit date) of ``git log`` output as :func:`parse_log` reads it, newest commit first."""
    lead = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    for record in output.split(_RECORD):
        if not record.strip():
            continue
        header, _, rest = record.partition(b"\x00")
        commit, _, stamp = header.decode("ascii", "replace").strip().partition(" ")
        if commit in ignore_commits:
            continue
        when = datetime.fromisoformat(stamp.strip()).astimezone(UTC)
        if rest.startswith(b"\n"):
            rest = rest[1:]
        for raw in rest.split(b"\x00"):
            if not raw:
                continue
            name = os.fsdecode(raw)
            if lead:
                if not name.startswith(lead):
                    continue
                name = name[len(lead) :]
            yield name, when


def parse_status(output: bytes, prefix: str = "") -> frozenset[str]:
    """Parse ``git status --porcelain=v1 -z --no-renames``: every listed path (relative to ``prefix``)."""
    lead = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    dirty: set[str] = set()
    for entry in output.split(b"\x00"):
        if len(entry) < 4:
            continue
        name = os.fsdecode(entry[3:])
        if lead:
            if not name.startswith(lead):
                continue
            name = name[len(lead) :]
        dirty.add(name)
    return frozenset(dirty)


def find_git_dates(folder: Path, paths: Sequence[str] | None = None) -> GitDates | None:
    """Commit dates for the files under ``folder`` (or just ``paths``, relative to it).

    None when the folder is not inside a git work tree. Raises :class:`SourceError` when it is but
    git cannot be used (not installed, "dubious ownership", ...), because silently losing the dates
    would make every document look freshly changed.
    """
    if not _has_git_ancestor(folder):
        return None
    try:
        probe = run_git(folder, "rev-parse", "--is-inside-work-tree", "--show-toplevel", "--git-path", "shallow")
    except FileNotFoundError as exc:
        raise SourceError(f"{folder} is in a git checkout but the `git` command is not installed") from exc
    if probe.returncode != 0:
        message = probe.stderr.decode(errors="replace").strip()
        if "not a git repository" in message:
            return None
        raise SourceError(f"git cannot read the repository containing {folder}: {message}")
    lines = os.fsdecode(probe.stdout).splitlines()
    if len(lines) < 3 or lines[0] != "true":
        return None
    top = Path(lines[1])
    try:
        prefix = folder.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        return None
    prefix = "" if prefix == "." else prefix
    shallow_file = Path(lines[2]) if Path(lines[2]).is_absolute() else folder / lines[2]
    boundaries = shallow_commits(shallow_file)

    if paths is not None and len(paths) <= _MAX_PATHSPECS:
        pathspecs = [f"{prefix}/{p}" if prefix else p for p in paths] or [prefix or "."]
    else:
        pathspecs = [prefix or "."]
    log_run = run_git(
        top,
        *("-c", "core.quotePath=false", "-c", "log.follow=false", "--literal-pathspecs"),
        *("log", "-z", "--no-renames", "--cc", "--no-show-signature", "--format=%x1e%H %cI", "--name-only"),
        "--",
        *pathspecs,
    )
    if log_run.returncode != 0:
        message = log_run.stderr.decode(errors="replace").strip()
        if "does not have any commits" not in message:
            raise SourceError(f"`git log` failed in {top}: {message}")
        dates: dict[str, datetime] = {}
    else:
        dates = parse_log(log_run.stdout, prefix, ignore_commits=boundaries)
    status = run_git(
        top,
        *("--no-optional-locks", "--literal-pathspecs", "status", "--porcelain=v1", "-z"),
        *("--untracked-files=all", "--no-renames", "--"),
        *pathspecs,
    )
    if status.returncode != 0:
        raise SourceError(f"`git status` failed in {top}: {status.stderr.decode(errors='replace').strip()}")
    if boundaries:
        log.warning(
            "%s is a shallow git clone: files last changed before its oldest commit get no git date "
            "(run `git fetch --unshallow` for true dates)",
            top,
        )
    return GitDates(dates=dates, dirty=parse_status(status.stdout, prefix))


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            check=False,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise SourceError(f"`git {args[-1] if args else ''}` in {cwd} took longer than {GIT_TIMEOUT_S:.0f} s") from exc


def _has_git_ancestor(folder: Path) -> bool:
    current = folder.resolve()
    return any((candidate / ".git").exists() for candidate in (current, *current.parents))


def shallow_commits(shallow_file: Path) -> frozenset[str]:
    try:
        return frozenset(line.strip() for line in shallow_file.read_text().splitlines() if line.strip())
    except OSError:
        return frozenset()
