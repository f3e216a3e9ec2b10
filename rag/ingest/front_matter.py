"""YAML front matter parsed at a bounded cost: no aliases, a size cap, a nesting cap, dates kept as text.

PyYAML's ``safe_load`` is safe from code execution but not from cost: a 600-byte "billion laughs" document
(anchors that alias anchors) expands to gigabytes as soon as anything walks the result. Front matter is a handful
of ``key: value`` lines, so the loader here refuses what documents never need:

* aliases (``*name``) — the expansion bomb;
* more than :data:`MAX_FRONT_MATTER_BYTES` of YAML, or nesting deeper than :data:`MAX_DEPTH`;
* implicit timestamps — ``last_reviewed: 2024-02-30`` would raise ``ValueError`` from inside PyYAML; dates stay
  strings here and :mod:`rag.ingest.trusted_dates` decides whether to trust them.

With those limits one file's front matter parses in milliseconds, never more than about a second.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_DEPTH = 32


class FrontMatterRefused(ValueError):
    """The front matter is valid YAML that bestbefore will not expand; ``str(err)`` is the reason."""


def _without_timestamps(resolvers: dict[Any, list[tuple[str, Any]]]) -> dict[Any, list[tuple[str, Any]]]:
    return {
        first: [(tag, regexp) for tag, regexp in found if tag != "tag:yaml.org,2002:timestamp"]
        for first, found in resolvers.items()
    }


class TextDateLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that leaves dates as text (``2024-02-30`` is a string to check, not a ``ValueError``)."""

    yaml_implicit_resolvers = _without_timestamps(yaml.SafeLoader.yaml_implicit_resolvers)


class FastTextDateLoader(yaml.CSafeLoader):
    """The same on libyaml's C parser (about 20 times faster, so a 64 KiB front matter stays far under a second)."""

    yaml_implicit_resolvers = _without_timestamps(yaml.CSafeLoader.yaml_implicit_resolvers)


LOADER: type[TextDateLoader] | type[FastTextDateLoader] = (
    FastTextDateLoader if yaml.__with_libyaml__ else TextDateLoader
)


def load_front_matter(yaml_text: str) -> Any:
    """Parse front matter YAML. Raises :class:`FrontMatterRefused` (too big, aliases, too deep) or ``yaml.YAMLError``."""
    size = len(yaml_text.encode("utf-8", "surrogatepass"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise FrontMatterRefused(
            f"front matter too large ({size // 1024} KiB; the limit is {MAX_FRONT_MATTER_BYTES // 1024} KiB)"
        )
    if flow_depth(yaml_text) > MAX_DEPTH:  # the pure-Python scanner is quadratic in open ``[``/``{`` (1 s for 1,000)
        raise FrontMatterRefused(f"front matter nested deeper than {MAX_DEPTH} levels")
    refuse_aliases_and_depth(yaml_text)
    return yaml.load(yaml_text, Loader=LOADER)  # noqa: S506 - a safe loader (SafeConstructor), dates as text


def refuse_aliases_and_depth(yaml_text: str) -> None:
    """One pass over the parser's events, before anything is built: no alias, at most :data:`MAX_DEPTH` levels."""
    depth = 0
    for event in yaml.parse(yaml_text, Loader=LOADER):
        if isinstance(event, AliasEvent):
            where = f" (line {event.start_mark.line + 2})" if event.start_mark is not None else ""
            raise FrontMatterRefused(
                f"YAML alias *{event.anchor} in front matter{where}; aliases are not allowed: write the value out"
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise FrontMatterRefused(f"front matter nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def flow_depth(yaml_text: str) -> int:
    """The deepest ``[``/``{`` nesting outside quotes and comments, in one linear pass (a line that starts at
    column 0 starts again from 0: a flow collection cannot continue there)."""
    deepest = depth = 0
    quote = ""
    previous = "\n"
    skip_next = False
    in_comment = False
    for char in yaml_text:
        if char == "\n":
            in_comment = False
            if quote == "'":
                quote = ""  # an unclosed single-quoted scalar: give up on it at the line end
        elif in_comment or skip_next:
            skip_next = False
        elif quote:
            if char == quote:
                quote = ""
            elif quote == '"' and char == "\\":
                skip_next = True
        elif char in "\"'":
            quote = char
        elif char == "#" and previous.isspace():
            in_comment = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif previous == "\n" and not char.isspace():
            depth = 0
        previous = char
    return deepest
