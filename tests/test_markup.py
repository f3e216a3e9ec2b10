"""Golden tests of the static-site cleaner: each format's source -> the text its reader sees (#12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.ingest.markup import clean_inline, clean_markdown
from rag.ingest.readers import parse_file, split_front_matter

LEFTOVER_MARKUP = re.compile(r"{%|%}|{{|}}|<%|%>|\]\(|</?[a-z][a-z0-9]*[ >/]|&[a-z]+;|&#\d+;|{:|\[\^\d")

GOLDEN: dict[str, tuple[str, str]] = {
    "jekyll-liquid": (
        "{% include nav.html %}\n# {{ page.title }}\n\n{% comment %}hidden{% endcomment %}\n"
        'See [the guide]({% page "/guide/" %}) or ask in {% slack_channel "help" %}.\n\n'
        '{% alert "Heads up" %}\n  Body of alert.\n{% endalert %}\n\n'
        '```\n{% raw %}{% page "x" %}{% endraw %}\n```\n\n{{ site.baseurl }}\n',
        '# Deploy the app\n\nSee the guide or ask in #help.\n\nHeads up\n\nBody of alert.\n\n```\n{% page "x" %}\n```',
    ),
    "kramdown-attribute-lists": (
        "# Title {#top}\n\n* toc\n{:toc}\n\nA paragraph.\n{: .lead}\n\nText with *emphasis*{: .x} here.\n",
        "# Title\n\nA paragraph.\n\nText with emphasis here.",
    ),
    "html-in-markdown": (
        'Tom &amp; Jerry <em>love</em> <a href="/x">cheese</a>.<br>\n\n<div class="alert">\n'
        "  <p>Heads up &mdash; it&#39;s <strong>cold</strong>.</p>\n</div>\n\n"
        "| Day | Hours |\n| --- | --- |\n| Mon | 9&ndash;5 |\n",
        "Tom & Jerry love cheese.\n\nHeads up — it's cold.\n\nDay | Hours\n\nMon | 9–5",
    ),
    "erb-tech-docs": (
        "<% content_for :sidebar do %>\n<ul><li>nav</li></ul>\n<% end %>\n\n<%= partial 'partials/site-banner' %>\n\n"
        "# <%= current_page.data.title %>\n\n<%# a comment %>\nIntro.\n\n"
        "<%= warning_text('Never commit <a href=\"/s\">secrets</a>') %>\n",
        "# Deploy the app\n\nIntro.\n\nWarning: Never commit secrets",
    ),
    "hugo-shortcodes": (
        "{{< note >}}\nBackups run **nightly**.\n{{< /note >}}\n\n"
        '{{% warning title="Careful" %}}Do not delete.{{% /warning %}}\n\nSee {{< ref "backup.md" >}} daily.\n',
        "Backups run nightly.\n\nDo not delete.\n\nSee daily.",
    ),
    "mkdocs-admonitions": (
        '# Deploy\n\n!!! note "Before you start"\n    You need **admin** rights.\n\n    Ask #ops.\n\n'
        "??? tip\n    Collapsible.\n\nAfter.\n",
        "# Deploy\n\nBefore you start\n\nYou need admin rights.\n\nAsk #ops.\n\nTip\n\nCollapsible.\n\nAfter.",
    ),
    "mdx-docusaurus": (
        "import Tabs from \"@theme/Tabs\";\nimport TabItem from '@theme/TabItem';\nexport const meta = {a: 1};\n\n"
        '# Install\n\n<Tabs>\n  <TabItem value="mac" label="macOS">\n\nRun `brew install x` on a Mac.\n\n'
        '  </TabItem>\n  <TabItem value="linux" label="Linux">\nUse apt on Linux.\n  </TabItem>\n</Tabs>\n\n'
        '<Note title="x" />\n',
        "# Install\n\nmacOS\n\nRun brew install x on a Mac.\n\nLinux\n\nUse apt on Linux.",
    ),
    "reference-links-and-footnotes": (
        'Read the [guide][g] and the [FAQ].[^1]\n\n[g]: https://x/guide "Guide"\n[FAQ]: /faq\n\n'
        "[^1]: Updated yearly.\n",
        "Read the guide and the FAQ.\n\nNotes\n\nUpdated yearly.",
    ),
    "lists-keep-their-shape": (
        "1. First step,\n   more.\n2. Second:\n   - nested *item*\n\n   Follow-up paragraph.\n",
        "1. First step, more.\n\n2. Second:\n\n  - nested item\n\n   Follow-up paragraph.",
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name: str) -> None:
    source, expected = GOLDEN[name]
    assert clean_markdown(source, {"title": "Deploy the app"}) == expected


def test_titles_lose_tags_and_entities() -> None:
    assert clean_inline("Get set up to travel for TTS <em>before</em> GSA onboarding") == (
        "Get set up to travel for TTS before GSA onboarding"
    )
    assert clean_inline("Logging in &amp; Networks {{ site.x }}") == "Logging in & Networks"


def test_template_markdown_files_are_read_as_markdown() -> None:
    page = b"---\ntitle: Use <code>git</code> &amp; GitHub\n---\n\n# <%= current_page.data.title %>\n\nCommit often.\n"
    parsed = parse_file("standards/source-code/use-github.html.md.erb", page)
    assert parsed.format == "markdown"
    assert parsed.title == "Use git & GitHub"
    assert parsed.body == "# Use git & GitHub\n\nCommit often."  # the heading ERB printed, then cleaned
    assert parse_file("docs/intro.mdx", b"import X from 'x';\n\n# Intro\n\nHello there.\n").body == (
        "# Intro\n\nHello there."
    )


def _clean_page(path: Path) -> tuple[dict[str, object], str]:
    meta, body = split_front_matter(path.read_text(encoding="utf-8"))
    return meta, clean_markdown(body, meta)


def test_18f_travel_page_has_no_liquid(handbook_clone: Path) -> None:
    """The issue's page: '[1] reimbursed!]({% page ".../travel-guide-4-reimbursement/" %})' in an answer."""
    _, text = _clean_page(handbook_clone / "pages/travel-and-leave/travel-and-leave-policies/travel-guide-3-travel.md")
    assert "Back from your trip? Head on over to get reimbursed!" in text.split("\n")
    assert (
        "So, future travel may not be approved for anyone with travel expenses that are more than 5 business " in text
    )
    assert LEFTOVER_MARKUP.search(text) is None, LEFTOVER_MARKUP.search(text)


def test_18f_table_of_contents_links_keep_their_text(handbook_clone: Path) -> None:
    _, text = _clean_page(handbook_clone / "pages/travel-and-leave/travel-guide-table-of-contents.md")
    assert "  - Local and miscellaneous vouchers" in text.split("\n")
    assert "how-do-i-create-a-local-or-miscellaneous-voucher" not in text
    assert LEFTOVER_MARKUP.search(text) is None


def test_18f_title_with_html(handbook_clone: Path) -> None:
    page = (
        handbook_clone / "pages/travel-and-leave/travel-and-leave-policies/first-time-travel-get-in-concur-pre-olu.md"
    )
    parsed = parse_file(page.name, page.read_bytes())
    assert parsed.title == "Get set up to travel for TTS before GSA onboarding"


def test_gds_way_page(gds_way_clone: Path) -> None:
    page = gds_way_clone / "source/standards/storing-credentials.html.md.erb"
    parsed = parse_file("standards/storing-credentials.html.md.erb", page.read_bytes())
    assert parsed.body.startswith(f"# {parsed.title}\n\n")
    assert "Warning: Make sure you configure the repo as internal or ideally private" in parsed.body
    assert "<%" not in parsed.body and "<a " not in parsed.body
    index = gds_way_clone / "source/index.html.md.erb"
    home = parse_file("index.html.md.erb", index.read_bytes()).body
    assert home.startswith("# The GDS Way\n\nThe GDS Way guides teams")
    assert "<li>" not in home and "partial" not in home and "About the GDS way" not in home  # the sidebar is nav


def test_no_markup_left_in_either_site(handbook_clone: Path, gds_way_clone: Path) -> None:
    """Outside code (fenced blocks and inline code), no page of either site keeps template syntax or tags."""
    pages = [*sorted((handbook_clone / "pages").rglob("*.md")), *sorted((gds_way_clone / "source").rglob("*.md.erb"))]
    assert len(pages) > 300
    leftovers = {}
    for page in pages:
        meta, body = split_front_matter(page.read_text(encoding="utf-8"))
        prose = re.sub(r"```.*?```|`[^`\n]*`|^(?: {4}|\t).*$", "", body, flags=re.S | re.M)  # code shows as-is
        text = clean_markdown(prose, meta)
        found = LEFTOVER_MARKUP.search(text)
        if found:
            leftovers[str(page)] = text[max(0, found.start() - 60) : found.end() + 60]
    assert leftovers == {}
