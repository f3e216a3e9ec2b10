"""Zero configuration: ``bestbefore ingest PATH`` without a ``bestbefore.toml``.

The folder becomes a source named after it (git dates when it is a git work tree, as for any source), and is
remembered in ``BESTBEFORE_HOME/sources.json`` so that ``ask``, ``refresh``, ``stale`` and ``serve`` find it next
time without a config. A ``bestbefore.toml`` takes over as soon as there is one: remembered sources are then
ignored, and ``ingest`` with the config removes their documents from the index and forgets them.

Which source a folder becomes is decided by ``rag.ingest.folder_source``; this module only keeps the list.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from rag.config import SourceConfig
from rag.errors import ConfigError

REMEMBERED_FILE = "sources.json"


def remembered(home: Path) -> list[SourceConfig]:
    """The sources ``ingest PATH`` remembered (none when the file is missing or unreadable)."""
    file = home / REMEMBERED_FILE
    try:
        items = json.loads(file.read_text(encoding="utf-8"))
        return [SourceConfig.model_validate(item) for item in items]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError, ValidationError) as exc:
        raise ConfigError(f"{file} is damaged ({exc}); delete it and run `bestbefore ingest PATH` again") from exc


def remember(home: Path, source: SourceConfig) -> list[SourceConfig]:
    """Add (or replace, by name) a source in the remembered list; returns the new list."""
    sources = [s for s in remembered(home) if s.name != source.name and s.path != source.path] + [source]
    home.mkdir(parents=True, exist_ok=True)
    file = home / REMEMBERED_FILE
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps([s.model_dump(mode="json") for s in sources], indent=2), encoding="utf-8")
    tmp.replace(file)
    return sources


def forget(home: Path) -> list[SourceConfig]:
    """Forget the remembered sources (a bestbefore.toml took over); returns what was forgotten."""
    sources = remembered(home)
    (home / REMEMBERED_FILE).unlink(missing_ok=True)
    return sources
