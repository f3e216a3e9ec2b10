"""The source a docs folder becomes under zero configuration (``bestbefore ingest PATH`` without a config).

The source is named after the folder. A GOV.UK tech-docs site (``config/tech-docs.yml`` beside a ``source/``
folder) is recognised: its pages are read from ``source/`` and get the site's URLs (``host`` + ``{path_html}``).
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.config import SourceConfig
from rag.errors import ConfigError
from rag.ingest.page_expiry import tech_docs_config, tech_docs_host


def folder_source(folder: Path) -> SourceConfig:
    """The source for a folder given on the command line. Raises :class:`ConfigError` if it is not a folder."""
    root = folder.expanduser().resolve()
    if not root.is_dir():
        problem = "is not a folder" if root.exists() else "does not exist"
        raise ConfigError(f"{folder} {problem}: give `bestbefore ingest` the folder that holds your docs")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", root.name).strip("-.") or "docs"
    if not name[0].isalnum():
        name = "docs-" + name
    site = tech_docs_config(root)
    host = tech_docs_host(site)
    if host and (root / "source").is_dir():
        return SourceConfig(name=name, path=root / "source", url_base=host, url="{base}/{path_html}")
    return SourceConfig(name=name, path=root)
