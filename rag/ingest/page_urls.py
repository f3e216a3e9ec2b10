"""The URL a static site serves a page at, from the source's ``url`` rule and the page's front matter. Pure.

Front matter wins: ``permalink`` (Jekyll, Eleventy, Hugo ``url``) gives the page's path on the site, ``slug``
replaces its last segment. Otherwise the source's pattern is filled in, e.g. ``"{base}/{path_noext}/"``:

- ``{base}``: the source's ``url_base`` (no trailing slash);
- ``{path}``: the file's path in the source, as is (``guides/travel.md``);
- ``{path_noext}``: without its extensions, template ones included (``guides/travel``); an index page
  (``index`` / ``_index`` / ``README``) becomes its folder, as does a page named like its folder
  (``updating/updating.md`` — Eleventy's rule);
- ``{path_html}``: the file a Middleman / tech-docs site writes (``standards/slis.html.md.erb`` ->
  ``standards/slis.html``; ``guides/travel.md`` -> ``guides/travel.html``).

With no rule, the URL is ``url_base`` + the file's path (the pre-#12 behaviour), or none without a ``url_base``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

_TEMPLATE_SUFFIXES = (".erb", ".liquid", ".md", ".markdown", ".mdx", ".html", ".htm", ".rst", ".txt")
_INDEX_STEMS = frozenset({"index", "_index", "readme"})
_PLACEHOLDER = re.compile(r"{(\w+)}")


def strip_extensions(path: str) -> str:
    """``a/b.html.md.erb`` -> ``a/b``; ``a/b.md`` -> ``a/b``; ``a/v1.2/c.md`` -> ``a/v1.2/c``."""
    folder, _, name = path.rpartition("/")
    lowered = name.lower()
    while True:
        for suffix in _TEMPLATE_SUFFIXES:
            if lowered.endswith(suffix) and len(lowered) > len(suffix):
                name, lowered = name[: -len(suffix)], lowered[: -len(suffix)]
                break
        else:
            break
    return f"{folder}/{name}" if folder else name


def pretty_path(path: str) -> str:
    """The folder-style path of a page, without leading or trailing slash ('' for the site's home page)."""
    bare = strip_extensions(path)
    pure = PurePosixPath(bare)
    parent = "" if str(pure.parent) == "." else str(pure.parent)
    if pure.name.lower() in _INDEX_STEMS or (parent and pure.name == PurePosixPath(parent).name):
        return parent
    return bare


def html_path(path: str) -> str:
    """``standards/slis.html.md.erb`` -> ``standards/slis.html`` (the file Middleman writes)."""
    return strip_extensions(path) + ".html"


def page_url(rule: str | None, base: str | None, path: str, meta: Mapping[str, Any]) -> str | None:
    """The page's public URL, or None when there is no way to know it (no rule and no ``url_base``)."""
    root = (base or "").rstrip("/")
    permalink = meta.get("permalink")
    if permalink is False:  # Eleventy: the page is not written out
        return None
    if isinstance(permalink, str) and permalink.strip() and "{" not in permalink and ":" not in permalink[:1]:
        link = permalink.strip()
        if re.match(r"^https?://", link):
            return link
        return root + "/" + quote(link.lstrip("/"), safe="/#?=&")
    if rule is None:
        return root + "/" + quote(path.lstrip("/"), safe="/") if base else None
    values = {
        "base": root,
        "path": path,
        "path_noext": pretty_path(path),
        "path_html": html_path(path),
    }
    slug = meta.get("slug")
    if isinstance(slug, str) and slug.strip():
        folder = PurePosixPath(values["path_noext"]).parent
        values["path_noext"] = (f"{folder}/" if str(folder) != "." else "") + slug.strip().strip("/")
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), rule)
    scheme, sep, rest = filled.partition("://")
    if sep:
        return scheme + sep + quote(re.sub(r"/{2,}", "/", rest), safe="/#?=&:")
    return quote(re.sub(r"/{2,}", "/", filled), safe="/#?=&:")
