"""Static-site page sources -> the text a reader sees. Pure (no I/O).

Docs teams write Markdown for static-site generators, so a page's source carries template logic and markup
that never reaches the reader. :func:`clean_markdown` removes it in two layers:

1. the template layer, which the generator runs before Markdown (Jekyll/Eleventy Liquid ``{% … %}`` /
   ``{{ … }}`` with ``{% raw %}``, ``{% comment %}`` and includes; ERB ``<%= … %>`` / ``<% … %>`` in
   ``*.html.md.erb``; Hugo shortcodes ``{{< … >}}`` / ``{{% … %}}``; MDX ``import`` / ``export`` lines;
   MkDocs admonitions ``!!! note "Title"``; kramdown attribute lists ``{: .class}``);
2. the Markdown itself, parsed with markdown-it-py (CommonMark + tables, footnotes, definition lists) and
   rendered back as plain text: headings stay ``#`` lines (the chunker splits on them), list items ``- `` lines,
   table rows ``cell | cell`` lines, links keep their text and lose their target, HTML keeps its text (tags
   dropped, entities decoded), footnotes move to the end.

Why markdown-it-py rather than mistune: docs/markdown.md.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.footnote import footnote_plugin

from rag.ingest.htmltext import html_to_text

# --- the template layer -------------------------------------------------------------------------------------

_RAW_BLOCK = re.compile(r"{%-?\s*raw\s*-?%}(.*?){%-?\s*endraw\s*-?%}", re.S)
_LIQUID_COMMENT = re.compile(r"{%-?\s*comment\s*-?%}.*?{%-?\s*endcomment\s*-?%}", re.S)
_LIQUID_TAG = re.compile(r"{%-?\s*(\w+)(.*?)-?%}", re.S)
_LIQUID_OUTPUT = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
_HUGO_SHORTCODE = re.compile(r"{{[<%]\s*/?\s*[\w./-]+.*?[>%]}}", re.S)
_ERB_COMMENT = re.compile(r"<%#.*?%>", re.S)
_ERB_CAPTURE = re.compile(r"<%-?\s*content_for\b.*?\bdo\s*-?%>.*?<%-?\s*end\s*-?%>", re.S)
_ERB_TAG = re.compile(r"<%(=|-)?(.*?)-?%>", re.S)
_QUOTED = re.compile(r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""", re.S)
_PAGE_VARIABLE = re.compile(r"^(?:page|current_page\.data|current_page|\.Params|\.Page|\.)\.?(\w+)$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_MDX_MODULE_LINE = re.compile(r"^(?:import\s.+\sfrom\s+['\"].+['\"];?|import\s+['\"].+['\"];?|export\s.*)$")
_ADMONITION = re.compile(r"^(\s*)(?:!!!|\?\?\?\+?)\s*([\w-]+)(?:\s+\"(.*?)\")?\s*$")
_IAL_LINE = re.compile(r"^\s*{:[^}]*}\s*$")
_IAL_INLINE = re.compile(r"\s*{:[^}\n]*}")
_KRAMDOWN_TOC = re.compile(r"^\s*(?:[*+-]|1\.)\s+\w+\s*\n\s*{:\s*\.?(?:no_)?toc\s*}\s*$", re.M | re.I)
_JSX_LABEL = re.compile(r"<[A-Z][\w.]*\b[^<>]*?\b(?:label|title)=(?:\"([^\"]+)\"|'([^']+)')[^<>]*(?<!/)>")
_HEADING_ATTRS = re.compile(r"^(#{1,6}\s.*?)\s*{\s*[#.][^}\n]*}\s*$")

# Liquid tags that wrap reader-visible content: the tags go, the content stays.
_BLOCK_TAGS = frozenset({"alert", "endalert", "capture", "endcapture", "if", "elsif", "else", "endif", "unless",
                         "endunless", "for", "endfor", "case", "when", "endcase", "highlight", "endhighlight",
                         "details", "enddetails", "accordion", "endaccordion", "callout", "endcallout", "note",
                         "endnote", "tip", "endtip", "warning", "endwarning", "tab", "endtab", "tabs", "endtabs"})  # fmt: skip
# Liquid tags whose first quoted argument is what the reader sees (a link target becomes the plain path, so the
# Markdown link around it still parses; the cleaner then keeps only the link text).
_FIRST_ARGUMENT_TAGS = frozenset({"page", "link", "post_url"})
_TITLE_TAGS = frozenset({"alert", "callout", "details", "accordion", "note", "tip", "warning", "tab"})


_NOTHING = "\x01"  # what a removed tag leaves; a line holding only these disappears, so HTML blocks stay whole
_EMPTY_LINE = re.compile(r"^[ \t]*\x01[\x01 \t]*(?:\n|$)", re.M)


def _placeholders() -> tuple[dict[str, str], Callable[[str], str]]:
    stash: dict[str, str] = {}

    def keep(text: str) -> str:
        key = f"\x00{len(stash)}\x00"
        stash[key] = text
        return key

    return stash, keep


def _restore(text: str, stash: Mapping[str, str]) -> str:
    for key, value in stash.items():
        text = text.replace(key, value)
    return text


def _first_quoted(arguments: str) -> str | None:
    match = _QUOTED.search(arguments)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


def _page_value(expression: str, meta: Mapping[str, Any]) -> str:
    """``page.title`` / ``current_page.data.title`` / ``.Params.title``: the front matter value, else ''."""
    found = _PAGE_VARIABLE.match(expression.split("|")[0].strip())
    if found is None:
        return ""
    value = meta.get(found.group(1))
    return str(value) if isinstance(value, str | int | float) else ""


def _liquid_tag(match: re.Match[str]) -> str:
    name, arguments = match.group(1).lower(), match.group(2)
    if name in _FIRST_ARGUMENT_TAGS:
        return _first_quoted(arguments) or ""
    if name == "slack_channel":  # Eleventy 18F handbook: a link to the channel, shown as "#channel"
        channel = _first_quoted(arguments)
        return f"#{channel.lstrip('#')}" if channel else ""
    if name in _TITLE_TAGS:
        title = _first_quoted(arguments)
        return f"\n\n{title}\n\n" if title else ""
    if name == "download":  # {% download "file.pdf" "Link text" %}
        quoted = _QUOTED.findall(arguments)
        return (quoted[-1][0] or quoted[-1][1]) if len(quoted) > 1 else ""
    return _NOTHING  # block tags, include, image, assign, icons…: nothing a reader reads


def _erb_tag(meta: Mapping[str, Any]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) != "=":
            return _NOTHING  # control flow (<% if %>, <% end %>)
        code = match.group(2).strip().rstrip("=").strip()
        if code.startswith(("partial", "render", "image_tag", "javascript", "stylesheet")):
            return _NOTHING  # navigation partials and assets
        value = _page_value(code, meta)
        if value:
            return value
        if code.startswith("warning_text"):  # GOV.UK tech-docs helper: its argument is the warning the reader sees
            text = _first_quoted(code) or ""
            return "\n\nWarning: " + html.unescape(re.sub(r"<[^>]+>", "", text)) + "\n\n"
        return _NOTHING

    return replace


def strip_templates(text: str, meta: Mapping[str, Any] | None = None) -> str:
    """Remove Liquid, ERB and Hugo template syntax, keeping what the generator would print as text."""
    meta = meta or {}
    stash, keep = _placeholders()
    text = _RAW_BLOCK.sub(lambda m: keep(m.group(1)), text)
    text = _LIQUID_COMMENT.sub(_NOTHING, text)
    text = _ERB_COMMENT.sub(_NOTHING, text)
    text = _ERB_CAPTURE.sub(_NOTHING, text)
    text = _ERB_TAG.sub(_erb_tag(meta), text)
    text = _HUGO_SHORTCODE.sub(_NOTHING, text)
    text = _LIQUID_TAG.sub(_liquid_tag, text)
    text = _LIQUID_OUTPUT.sub(lambda m: _page_value(m.group(1), meta) or _NOTHING, text)
    text = _EMPTY_LINE.sub("", text).replace(_NOTHING, "")
    return _restore(text, stash)


def _outside_fences(text: str, transform: Callable[[list[str]], list[str]]) -> str:
    """Apply ``transform`` to each run of lines outside fenced code blocks."""
    out: list[str] = []
    run: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is None and opened:
            out.extend(transform(run))
            run = []
            fence = opened.group(1)
            out.append(line)
        elif fence is not None:
            out.append(line)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
        else:
            run.append(line)
    out.extend(transform(run))
    return "\n".join(out)


def _drop_source_syntax(lines: list[str]) -> list[str]:
    """MDX module lines, kramdown attribute lists, heading attributes; MkDocs admonitions become a title line
    and their (dedented) body."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if _MDX_MODULE_LINE.match(line) or _IAL_LINE.match(line):
            continue
        admonition = _ADMONITION.match(line)
        if admonition:
            indent = len(admonition.group(1))
            title = admonition.group(3)
            label = admonition.group(2).replace("-", " ").capitalize()
            out.extend(["", title if title else label, ""] if title != "" else [""])
            while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > indent):
                body = lines[index]
                out.append(body[indent + 4 :] if body.startswith(" " * (indent + 4)) else body.strip())
                index += 1
            out.append("")
            continue
        line = _IAL_INLINE.sub("", line)
        line = _JSX_LABEL.sub(lambda m: f"{m.group(0)}\n\n{m.group(1) or m.group(2)}\n", line)  # a tab's label
        heading = _HEADING_ATTRS.match(line)
        out.append(heading.group(1) if heading else line)
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# --- the Markdown layer -------------------------------------------------------------------------------------


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return parser.use(footnote_plugin).use(deflist_plugin)


_MARKDOWN = _parser()
_TAG = re.compile(r"<[^>]*>")
_LITERAL_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\s]*\)")
_ORPHAN_FOOTNOTE = re.compile(r"\[\^[^\]\s]+\]")
_HTML_TAG_LINE = re.compile(r"^\s*</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>?\s*$")


def inline_text(token: Token) -> str:
    """An inline token's visible text: link text without targets, no tags, no images, entities decoded."""
    parts: list[str] = []
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" " if kind == "softbreak" else "\n")
        elif kind == "html_inline" and re.match(r"<br\s*/?>", child.content, re.I):
            parts.append(" ")
    text = _LITERAL_LINK.sub(r"\1", "".join(parts))  # an escaped "\\[text](target)" would show as-is
    text = _ORPHAN_FOOTNOTE.sub("", text)  # a "[^1]" marker whose note is missing
    return re.sub(r"[ \t]+", " ", text)


def _render(tokens: Sequence[Token]) -> str:
    blocks: list[str] = []
    footnotes: list[str] = []
    prefixes: list[str] = []  # list markers of the open lists, innermost last
    counters: list[int] = []
    item_first_line = False
    row: list[str] = []
    in_table = False
    in_footnote = False

    def emit(text: str) -> None:
        nonlocal item_first_line
        if not text.strip():
            return
        target = footnotes if in_footnote else blocks
        if prefixes:
            depth = "  " * (len(prefixes) - 1)
            lead = depth + (prefixes[-1] if item_first_line else " " * len(prefixes[-1]))
            lines = text.split("\n")
            target.append("\n".join([lead + lines[0], *(depth + "  " + rest for rest in lines[1:])]))
            item_first_line = False
        else:
            target.append(text)

    heading_level = 0
    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            heading_level = int(token.tag[1])
        elif kind == "heading_close":
            heading_level = 0
        elif kind == "bullet_list_open":
            prefixes.append("- ")
            counters.append(0)
        elif kind == "ordered_list_open":
            start = token.attrGet("start")
            counters.append(int(start) - 1 if isinstance(start, int | str) and str(start).isdigit() else 0)
            prefixes.append("1. ")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            prefixes.pop()
            counters.pop()
        elif kind == "list_item_open":
            counters[-1] += 1
            if prefixes[-1] != "- ":
                prefixes[-1] = f"{counters[-1]}. "
            item_first_line = True
        elif kind == "inline":
            text = inline_text(token).strip()
            if in_table:
                row.append(" ".join(text.split()))
            elif heading_level:
                emit("#" * heading_level + " " + " ".join(text.split()))
            else:
                emit(text)
        elif kind in ("table_open", "table_close"):
            in_table = kind == "table_open"
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            if any(cell for cell in row):
                emit(" | ".join(row))
            row = []
        elif kind == "fence":
            emit(_fenced(token.content))
        elif kind == "code_block":  # indented: often the inside of an HTML block broken by a blank line
            code = "\n".join(line for line in token.content.rstrip("\n").split("\n") if not _HTML_TAG_LINE.match(line))
            emit(_fenced(code))
        elif kind == "html_block":
            _, text = html_to_text(token.content)
            emit(text.strip())
        elif kind == "footnote_block_open":
            in_footnote = True
        elif kind == "footnote_block_close":
            in_footnote = False
    text = "\n\n".join(blocks)
    if footnotes:
        text += "\n\nNotes\n\n" + "\n\n".join(footnotes)
    return text


def _fenced(code: str) -> str:
    """Code stays as written, between ``` lines: the chunker keeps it whole and answers never quote it as prose."""
    code = code.strip("\n")
    return f"```\n{code}\n```" if code.strip() else ""


def clean_markdown(body: str, meta: Mapping[str, Any] | None = None) -> str:
    """A static-site Markdown page body (front matter already split off) as the text a reader sees."""
    meta = meta or {}
    text = strip_templates(body, meta)
    text = _KRAMDOWN_TOC.sub("", text)
    text = _outside_fences(text, _drop_source_syntax)
    return _render(_MARKDOWN.parse(text))


def clean_inline(text: str) -> str:
    """A one-line value (a title, a description) as plain text: no template tags, no HTML, entities decoded."""
    stripped = strip_templates(text)
    stripped = _TAG.sub("", stripped)
    return " ".join(html.unescape(stripped).split())


def summary_text(meta: Mapping[str, Any]) -> str | None:
    """Front matter prose a reader sees with the page (``description``, ``summary``) and the
    ``questions`` it says it answers (only real questions: the 18F handbook's ``questions`` list Slack channels to
    ask, which are not); searchable and quotable like the page's text."""
    parts = [
        clean_inline(text)
        for key in ("description", "summary", "subtitle")
        if (text := _front_matter_text(meta.get(key)))
    ]
    questions = meta.get("questions")
    if isinstance(questions, list):
        parts.extend(clean_inline(q) for q in questions if isinstance(q, str) and q.strip().endswith("?"))
    return "\n\n".join(part for part in parts if part) or None


def keyword_text(meta: Mapping[str, Any]) -> str | None:
    """``keywords`` / ``tags``: search terms, not prose (they go to the keyword index, never into an answer)."""
    parts = [clean_inline(text) for key in ("keywords", "tags") if (text := _front_matter_text(meta.get(key)))]
    return ", ".join(part for part in parts if part) or None


def _front_matter_text(value: object) -> str | None:
    if isinstance(value, list | tuple):
        value = ", ".join(str(item).strip() for item in value if isinstance(item, str | int | float))
    return str(value).strip() or None if isinstance(value, str | int | float) else None
