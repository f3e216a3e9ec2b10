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
from yaml.events import AliasEvent
from yaml.nodes import Node

MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_DEPTH = 32


class FrontMatterRefused(ValueError):
    """The front matter is valid YAML that bestbefore will not expand; ``str(err)`` is the reason."""


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without aliases, without implicit timestamps and with a nesting cap."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise FrontMatterRefused(
                f"YAML alias *{getattr(event, 'anchor', '')} in front matter (line {event.start_mark.line + 2}); "
                "aliases are not allowed: write the value out"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise FrontMatterRefused(f"front matter nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def load_front_matter(yaml_text: str) -> Any:
    """Parse front matter YAML. Raises :class:`FrontMatterRefused` (too big, aliases, too deep) or ``yaml.YAMLError``."""
    size = len(yaml_text.encode("utf-8", "surrogatepass"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise FrontMatterRefused(
            f"front matter too large ({size // 1024} KiB; the limit is {MAX_FRONT_MATTER_BYTES // 1024} KiB)"
        )
    loader = BoundedSafeLoader(yaml_text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
