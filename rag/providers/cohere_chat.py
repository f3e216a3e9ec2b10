"""Answers with Cohere chat (``/v2/chat``): the evidence goes in as ``documents``, the thread as messages.

Cohere returns citations whose sources name our document ids (= chunk ids); they are mapped back to doc ids in
citation order, so only docs the answer actually cites count for the staleness warning. An answer without any
citation, or one that says the refusal sentence, is a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cohere
from cohere.core.request_options import RequestOptions

from rag.models import ProviderCall, SearchHit, Turn
from rag.providers.cohere_api import CohereAPI, billed
from rag.providers.generation import Generation, TextSink

REFUSAL_SENTENCE = "I couldn't find this in the docs."
SYSTEM_PROMPT = f"""You answer questions from a team's internal documents.
Use only the provided documents. Cite them. Be brief: a few sentences or a short list.
If the documents do not answer the question, reply exactly: {REFUSAL_SENTENCE}
Do not use outside knowledge and do not guess."""
MAX_HISTORY_TURNS = 8


class CohereGenerator:
    """``command-a-03-2025`` (configurable) grounded on the evidence chunks."""

    def __init__(self, api: CohereAPI, *, model: str = "command-a-03-2025", max_tokens: int = 600) -> None:
        self.api = api
        self.model = model
        self.max_tokens = max_tokens
        self.id = f"cohere/{model}"

    def generate(self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = ()) -> Generation:
        if not evidence:
            return Generation(text="", cited_doc_ids=(), refused=True, model=self.id)
        doc_of_chunk = {hit.chunk.chunk_id: hit.doc.doc_id for hit in evidence}
        response = self.api.call(
            "chat",
            lambda options: self.api.client.chat(
                model=self.model,
                messages=chat_messages(question, history),
                documents=chat_documents(evidence),
                max_tokens=self.max_tokens,
                temperature=0.2,
                request_options=options,
            ),
        )
        message = response.message
        text = "".join(getattr(item, "text", "") for item in (message.content or []) if item.type == "text").strip()
        return self._generation(text, list(message.citations or []), response.usage, doc_of_chunk)

    def generate_streaming(
        self, question: str, evidence: Sequence[SearchHit], *, history: Sequence[Turn] = (), on_text: TextSink
    ) -> Generation:
        """``chat_stream``: each text delta goes to ``on_text`` as it arrives (a retried attempt never repeats text
        already handed out); citations and usage come at the end."""
        if not evidence:
            return Generation(text="", cited_doc_ids=(), refused=True, model=self.id)
        doc_of_chunk = {hit.chunk.chunk_id: hit.doc.doc_id for hit in evidence}
        handed_out = [0]

        def stream(options: RequestOptions) -> tuple[str, list[Any], Any]:
            parts: list[str] = []
            citations: list[Any] = []
            usage: Any = None
            position = 0
            for event in self.api.client.chat_stream(
                model=self.model, messages=chat_messages(question, history), documents=chat_documents(evidence),
                max_tokens=self.max_tokens, temperature=0.2, request_options=options,
            ):  # fmt: skip
                if event.type == "content-delta":
                    message = event.delta.message if event.delta else None
                    piece = (message.content.text or "") if message and message.content else ""
                    parts.append(piece)
                    new = piece[max(0, handed_out[0] - position) :]
                    position += len(piece)
                    if new:
                        on_text(new)
                        handed_out[0] = position
                elif event.type == "citation-start" and event.delta and event.delta.message:
                    citations.append(event.delta.message.citations)
                elif event.type == "message-end" and event.delta:
                    usage = event.delta.usage
            return "".join(parts), citations, usage

        text, citations, usage = self.api.call("chat", stream)
        return self._generation(text.strip(), [c for c in citations if c is not None], usage, doc_of_chunk)

    def _generation(self, text: str, citations: list[Any], usage: Any, doc_of_chunk: dict[str, str]) -> Generation:
        cited = cited_doc_ids(citations, doc_of_chunk)
        refused = not cited or REFUSAL_SENTENCE.rstrip(".").lower() in text.lower()
        call = ProviderCall("cohere", self.model, "chat", billed(usage, "input_tokens", "output_tokens"))
        if refused:
            return Generation(text="", cited_doc_ids=(), refused=True, model=self.id, calls=(call,))
        marked = with_citation_marks(text, citations, doc_of_chunk, cited)
        return Generation(text=marked, cited_doc_ids=cited, refused=False, model=self.id, calls=(call,))


def chat_messages(question: str, history: Sequence[Turn]) -> list[Any]:
    """System prompt, the thread's earlier turns (most recent ones), then the question."""
    messages: list[Any] = [cohere.SystemChatMessageV2(content=SYSTEM_PROMPT)]
    for turn in list(history)[-MAX_HISTORY_TURNS:]:
        if turn.role == "assistant":
            messages.append(cohere.AssistantChatMessageV2(content=turn.text))
        else:
            messages.append(cohere.UserChatMessageV2(content=turn.text))
    messages.append(cohere.UserChatMessageV2(content=question))
    return messages


def chat_documents(evidence: Sequence[SearchHit]) -> list[Any]:
    """One Cohere document per chunk, identified by its chunk id."""
    documents = []
    for hit in evidence:
        data = {"title": hit.doc.title, "snippet": hit.chunk.text, "updated": hit.doc.updated_at.date().isoformat()}
        if hit.chunk.heading_path:
            data["section"] = " > ".join(hit.chunk.heading_path)
        documents.append(cohere.Document(id=hit.chunk.chunk_id, data=data))
    return documents


def cited_doc_ids(citations: Sequence[Any], doc_of_chunk: dict[str, str]) -> tuple[str, ...]:
    """Doc ids in the order the answer first cites them; unknown source ids are ignored."""
    cited: list[str] = []
    for citation in sorted(citations, key=lambda c: c.start or 0):
        for source in citation.sources or []:
            doc_id = doc_of_chunk.get(getattr(source, "id", None) or "")
            if doc_id is not None and doc_id not in cited:
                cited.append(doc_id)
    return tuple(cited)


def with_citation_marks(text: str, citations: Sequence[Any], doc_of_chunk: dict[str, str], cited: Sequence[str]) -> str:
    """Insert ``[n]`` (n = position of the doc among the sources) after each cited span."""
    marks: dict[int, list[int]] = {}
    for citation in citations:
        end = citation.end
        if end is None or not 0 < end <= len(text):
            continue
        for source in citation.sources or []:
            doc_id = doc_of_chunk.get(getattr(source, "id", None) or "")
            if doc_id in cited:
                number = cited.index(doc_id) + 1
                if number not in marks.setdefault(end, []):
                    marks[end].append(number)
    for end in sorted(marks, reverse=True):
        text = text[:end] + "".join(f" [{n}]" for n in sorted(marks[end])) + text[end:]
    return text
