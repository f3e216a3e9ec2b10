from __future__ import annotations

import hashlib
from pathlib import Path

from rag.config import SourceConfig
from rag.ingest.chunking import ChunkingSettings, chunk_document, split_sections
from rag.ingest.sources import scan_source
from rag.models import Document
from rag.providers.local_embedder import MiniLMEmbedder


def make_doc(text: str, fmt: str = "markdown", doc_id: str = "s:a.md") -> Document:
    return Document(
        doc_id=doc_id, source="s", path="a.md", title="A", text=text,
        source_hash=hashlib.sha256(text.encode()).hexdigest(), updated_at=None, format=fmt,
    )  # fmt: skip


def test_markdown_sections_carry_their_heading_path() -> None:
    text = "# Travel\n\nIntro.\n\n## Hotels\n\nUp to 180 EUR.\n\n### London\n\n260 EUR.\n\n## Trains\n\nUnder 5 h."
    sections = split_sections(text, "markdown")
    assert [s.heading_path for s in sections] == [
        ("Travel",),
        ("Travel", "Hotels"),
        ("Travel", "Hotels", "London"),
        ("Travel", "Trains"),
    ]
    assert sections[2].text == "260 EUR."


def test_headings_inside_code_fences_are_not_headings() -> None:
    text = "# Real\n\n```\n# not a heading\n```\n\ntext"
    sections = split_sections(text, "markdown")
    assert [s.heading_path for s in sections] == [("Real",)]
    assert "# not a heading" in sections[0].text


def test_rst_underlined_headings_nest_by_first_use() -> None:
    text = "Backups\n=======\n\nIntro.\n\nSchedule\n--------\n\nNightly.\n\nRestore\n-------\n\nMake."
    sections = split_sections(text, "rst")
    assert [s.heading_path for s in sections] == [("Backups",), ("Backups", "Schedule"), ("Backups", "Restore")]


def test_chunks_are_size_bounded_with_overlap() -> None:
    words = [f"w{i}" for i in range(1000)]
    doc = make_doc("# T\n\n" + " ".join(words))
    settings = ChunkingSettings(max_tokens=130, overlap_tokens=26)  # 100 words, 20 overlap
    chunks = chunk_document(doc, settings)
    bodies = [c.text.split("\n\n", 1)[1].split() for c in chunks]
    assert all(len(b) <= 100 for b in bodies)
    assert bodies[0][-20:] == bodies[1][:20]  # consecutive windows overlap
    covered = {w for b in bodies for w in b}
    assert covered == set(words)


def test_chunking_is_deterministic_and_ids_follow_content() -> None:
    text = "# A\n\nFirst paragraph.\n\n# B\n\nSecond paragraph."
    settings = ChunkingSettings()
    first = chunk_document(make_doc(text), settings)
    again = chunk_document(make_doc(text), settings)
    assert first == again
    edited = chunk_document(make_doc(text.replace("Second", "Changed")), settings)
    assert first[0].chunk_id == edited[0].chunk_id and first[0].chunk_hash == edited[0].chunk_hash
    assert first[1].chunk_hash != edited[1].chunk_hash
    # the chunk hash depends on the chunking settings too
    other = chunk_document(make_doc(text), ChunkingSettings(max_tokens=300))
    assert other[0].chunk_hash != first[0].chunk_hash


def test_repeated_identical_chunks_get_distinct_ids() -> None:
    text = "# A\n\nSame words here.\n\n# A\n\nSame words here."
    chunks = chunk_document(make_doc(text), ChunkingSettings())
    assert len(chunks) == 2
    assert chunks[0].chunk_hash == chunks[1].chunk_hash
    assert chunks[0].chunk_id != chunks[1].chunk_id


def test_word_windows_of_a_long_paragraph_respect_a_real_tokenizer() -> None:
    embedder = MiniLMEmbedder()
    # link-heavy text: each URL is one "word" but a dozen word pieces, so words x 1.3 undercounts
    words = [f"see https://example.gov/path-{i}/section_{i}.html#part-{i}" for i in range(300)]
    doc = make_doc("# Links\n\n" + " ".join(words))
    settings = ChunkingSettings(max_tokens=200, overlap_tokens=30)
    chunks = chunk_document(doc, settings, embedder)
    assert len(chunks) > 1
    assert max(embedder.count_tokens(c.text) for c in chunks) <= embedder.max_input_tokens
    assert max(embedder.count_tokens(c.text.split("\n\n", 1)[1]) for c in chunks) <= 200
    estimated = chunk_document(doc, settings)  # words x 1.3: the same text, far fewer and longer chunks
    assert len(estimated) < len(chunks)
    assert max(embedder.count_tokens(c.text) for c in estimated) > embedder.max_input_tokens


def test_a_single_giant_word_is_cut_to_fit_the_window() -> None:
    embedder = MiniLMEmbedder()
    blob = "-".join(f"x{i}" for i in range(400))  # one whitespace-free run of ~1,200 word pieces
    chunks = chunk_document(make_doc(f"# Blob\n\nbefore {blob} after"), ChunkingSettings(), embedder)
    assert all(embedder.count_tokens(c.text) <= embedder.max_input_tokens for c in chunks)
    assert "".join(c.text.split("\n\n", 1)[1] for c in chunks).replace(" ", "").count("x399") == 1


def test_no_handbook_chunk_is_longer_than_the_minilm_window(handbook_clone: Path) -> None:
    embedder = MiniLMEmbedder()
    source = SourceConfig(name="tts", path=handbook_clone / "pages", include=["**/*.md"])
    documents = scan_source(source).documents
    assert len(documents) > 200
    settings = ChunkingSettings()  # the [index] defaults
    chunks = [c for doc in documents for c in chunk_document(doc, settings, embedder)]
    lengths = embedder.count_tokens_batch([c.text for c in chunks])
    assert len(chunks) > 2000
    assert max(lengths) <= embedder.max_input_tokens == 254  # + [CLS] and [SEP] = MiniLM's 256
