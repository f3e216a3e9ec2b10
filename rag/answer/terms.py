"""Content words of a text, for the evidence gate (``pipeline.evidence_strength``) and extractive answers. Pure."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be but by can do does for from has have how i if in is it its me my of on or our should "
    "so than that the their then there these this to was we what when where which who why will with you your "
    "about any get may must need".split()
)


def terms(text: str) -> list[str]:
    """Lower-cased content words, crudely stemmed (plural/verb endings), stopwords removed."""
    return [_stem(w) for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP and len(w) > 1]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word
