"""Page URLs a static site really serves: front matter permalink/slug, then the source's url rule (#12)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
import yaml

from rag.config import SourceConfig, check_url_rule
from rag.ingest.page_urls import page_url, pretty_path
from rag.ingest.readers import split_front_matter
from rag.ingest.sources import scan_source

HANDBOOK = "https://handbook.tts.gsa.gov"
GDS_WAY = "https://gds-way.digital.cabinet-office.gov.uk"


@pytest.mark.parametrize(
    ("rule", "path", "meta", "expected"),
    [
        ("{base}/{path_noext}/", "travel/per-diem.md", {}, "https://x.org/travel/per-diem/"),
        ("{base}/{path_noext}/", "travel/index.md", {}, "https://x.org/travel/"),
        ("{base}/{path_noext}/", "index.md", {}, "https://x.org/"),
        ("{base}/{path_noext}/", "updating/updating.md", {}, "https://x.org/updating/"),
        ("{base}/{path_noext}/", "a/b.md", {"permalink": "/contributing/"}, "https://x.org/contributing/"),
        ("{base}/{path_noext}/", "a/b.md", {"slug": "the-slug"}, "https://x.org/a/the-slug/"),
        ("{base}/{path_noext}/", "a/b.md", {"permalink": False}, None),
        ("{base}/{path_html}", "standards/slis.html.md.erb", {}, "https://x.org/standards/slis.html"),
        ("{base}/{path_html}", "source-code/index.html.md.erb", {}, "https://x.org/source-code/index.html"),
        ("{base}/docs/{path_noext}", "a b/c.mdx", {}, "https://x.org/docs/a%20b/c"),
        (None, "a b/c.md", {}, "https://x.org/a%20b/c.md"),
    ],
)
def test_rules(rule: str | None, path: str, meta: dict[str, object], expected: str | None) -> None:
    assert page_url(rule, "https://x.org/", path, meta) == expected


def test_no_base_and_no_rule_means_no_url() -> None:
    assert page_url(None, None, "a.md", {}) is None
    assert pretty_path("README.md") == ""


def test_unknown_placeholder_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"\{slug\}.*\{path_noext\}"):
        check_url_rule("{base}/{slug}/")
    with pytest.raises(ValueError, match="unknown placeholder"):
        SourceConfig(name="x", path=Path("."), url="{base}/{stem}")


def eleventy_url(pages: Path, rel: str) -> str:
    """What Eleventy (the 18F handbook's generator, input dir ``pages``) serves a file at, written out here
    independently: front matter permalink, else /<path>/ with index pages and a page named like its folder -> the
    folder."""
    meta, _ = split_front_matter((pages / rel).read_text(encoding="utf-8"))
    if meta.get("permalink"):
        return HANDBOOK + str(meta["permalink"])
    pure = PurePosixPath(rel).with_suffix("")
    if pure.name == "index" or pure.name == pure.parent.name:
        pure = pure.parent
    return f"{HANDBOOK}/{pure}/".replace("/./", "/")


def test_every_18f_handbook_page_gets_its_site_url(handbook_clone: Path) -> None:
    pages = handbook_clone / "pages"
    config = SourceConfig(name="handbook", path=pages, url_base=HANDBOOK, url="{base}/{path_noext}/")
    docs = scan_source(config).documents
    assert len(docs) > 230
    for doc in docs:
        assert doc.url == eleventy_url(pages, doc.path), doc.path
    urls = {doc.path: doc.url for doc in docs}
    assert urls["CONTRIBUTING.md"] == f"{HANDBOOK}/contributing/"  # permalink
    assert urls["getting-started/index.md"] == f"{HANDBOOK}/getting-started/"
    assert urls["updating-the-handbook/updating-the-handbook.md"] == f"{HANDBOOK}/updating-the-handbook/"
    # the handbook's own internal links ({% page "/…/" %}) point at pages we give exactly that URL (or at a page's
    # old URL, listed in a redirect_from)
    redirects: set[str] = set()
    for page in pages.rglob("*.md"):  # redirect stubs too (they are skipped as empty)
        meta, _ = split_front_matter(page.read_text(encoding="utf-8"))
        redirects.update(HANDBOOK + str(old) for old in meta.get("redirect_from") or [])
    ours = {doc.url for doc in docs}
    targets = {
        target.split("#")[0]
        for doc in docs
        for target in re.findall(r'{%\s*page\s+"([^"]+)"', (pages / doc.path).read_text(encoding="utf-8"))
    }
    linked = {HANDBOOK + "/" + t.strip("/") + "/" for t in targets if t.strip("/")}
    assert len(linked) > 150
    missing = sorted(linked - ours - redirects)
    assert len(linked & ours) > 100
    assert missing == [], missing


def test_every_gds_way_page_gets_its_site_url(gds_way_clone: Path) -> None:
    source = gds_way_clone / "source"
    config = SourceConfig(name="gds-way", path=source, url_base=GDS_WAY, url="{base}/{path_html}")
    docs = scan_source(config).documents
    assert len(docs) >= 60
    for doc in docs:
        assert doc.path.endswith(".html.md.erb"), doc.path
        assert doc.url == f"{GDS_WAY}/{doc.path.removesuffix('.md.erb')}", doc.path
    # the site's own redirects (config/tech-docs.yml) point at pages: each target is one of our URLs
    site = yaml.safe_load((gds_way_clone / "config" / "tech-docs.yml").read_text(encoding="utf-8"))
    assert site["host"] == GDS_WAY
    ours = {doc.url for doc in docs}
    for target in site["redirects"].values():
        assert GDS_WAY + target.split("#")[0] in ours, target
