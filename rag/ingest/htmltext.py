"""HTML -> text for the folder source, with the stdlib parser (no I/O).

Headings become Markdown-style ``# `` lines so a heading-aware chunker can use them; list items become
``- `` lines; ``<pre>`` keeps its whitespace; script/style/noscript/template/svg are dropped.
"""

from __future__ import annotations

from html.parser import HTMLParser

_DROP_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "ul", "ol", "dl",
        "dt", "dd", "table", "thead", "tbody", "tr", "blockquote", "figure", "figcaption", "form",
        "address", "details", "summary", "hr", "body", "html",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}


class _HtmlToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.title: str | None = None
        self.first_h1: str | None = None
        self._inline: list[str] = []
        self._prefix = ""
        self._drop = 0
        self._pre = 0
        self._heading = 0
        self._title_parts: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._title_parts = []
        elif tag in _DROP_TAGS:
            self._drop += 1
        elif tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag == "li":
            self._flush()
            self._prefix = "- "
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "br":
            self._inline.append("\n")
        elif tag in ("td", "th"):
            self._inline.append(" ")
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            if self._title_parts is not None and self.title is None:
                self.title = " ".join("".join(self._title_parts).split()) or None
            self._title_parts = None
        elif tag in _DROP_TAGS:
            self._drop = max(0, self._drop - 1)
        elif tag in _HEADINGS or tag == "li" or tag in _BLOCK_TAGS:
            self._flush()
        elif tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
        elif not self._drop:
            self._inline.append(data)

    def _flush(self) -> None:
        raw = "".join(self._inline)
        self._inline = []
        if self._pre:
            text = raw.strip("\n")
        else:
            lines = (" ".join(line.split()) for line in raw.split("\n"))
            text = "\n".join(line for line in lines if line)
        if text:
            if self._heading:
                text = " ".join(text.split())
                if self._heading == 1 and self.first_h1 is None:
                    self.first_h1 = text
                text = "#" * self._heading + " " + text
            self.blocks.append(self._prefix + text)
        self._prefix = ""
        self._heading = 0


def html_to_text(html: str) -> tuple[str | None, str]:
    """HTML -> (title, text). Headings become ``# `` lines; script/style are dropped.

    The title is ``<title>``, else the first ``<h1>``.
    """
    parser = _HtmlToText()
    parser.feed(html)
    parser.close()
    parser._flush()
    return parser.title or parser.first_h1, "\n\n".join(parser.blocks)
