"""What bestbefore declares in Weaviate and what it needs from the server: collections, their check, version rules.

Three collections per index (``<name>`` chunks, ``<name>Doc`` one object per document, ``<name>Meta`` the embedder).
Identifier and hash properties are TEXT with ``field`` tokenization: with ``word`` tokenization (what Weaviate's
auto-schema gives every text property) ``doc_id = "handbook:a.md"`` would match every doc holding "handbook" and
"md", so a delete would remove other documents. :func:`check_collection` refuses a collection that is not ours.

Server versions (weaviate-client 4.x talks to 1.23+; bestbefore supports 1.32.16+ in the 1.32 line, see README):

* before 1.38 BM25 property boosts are parsed as integers (``title^1.5`` is read as 0; weaviate#11440): the title
  weight is rounded to an integer there (:func:`title_property`).
* 1.31.0–1.31.18, 1.32.0–1.32.15, 1.33.0–1.33.3 (and older) strip stopwords even from ``field`` filter values, so a
  filter on a source named ``it`` fails with "only stopwords provided" (weaviate#9054): such names are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

import weaviate
from weaviate.classes.config import DataType, Property, Tokenization
from weaviate.classes.init import AdditionalConfig, Auth, GrpcConfig, Timeout
from weaviate.collections.classes.config import CollectionConfig
from weaviate.exceptions import WeaviateBaseError

from rag.errors import ConfigError, IndexUnavailableError, StoreError

VECTOR = "default"
# Weaviate's "en" stopword preset (server adapters/repos/db/inverted/stopwords/presets.go).
WEAVIATE_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "
    "this to was will with".split()
)
ID_PROPERTIES = ("doc_id", "source", "source_hash", "chunk_id", "chunk_hash")
# After an outage gRPC retries the connection with exponential backoff (by default up to 2 minutes between tries);
# cap it so answers come back within seconds of Weaviate being reachable again.
RECONNECT = [("grpc.initial_reconnect_backoff_ms", 250), ("grpc.max_reconnect_backoff_ms", 3000)]


def field_property(name: str, *, data_type: DataType = DataType.TEXT, filterable: bool = True) -> Property:
    """A TEXT (or TEXT_ARRAY) property matched as one exact value: ``field`` tokenization, no BM25 index."""
    return Property(
        name=name, data_type=data_type, tokenization=Tokenization.FIELD, index_searchable=False,
        index_filterable=filterable, skip_vectorization=True,
    )  # fmt: skip


_DOC_FIELDS = ("doc_id", "source", "path", "url", "owner", "date_origin", "source_hash", "review_in", "review_by")
_KEYWORDS = Property(name="keywords", data_type=DataType.TEXT, tokenization=Tokenization.WORD, skip_vectorization=True)
CHUNK_SCHEMA = [
    *(field_property(n) for n in _DOC_FIELDS),
    *(field_property(n) for n in ("chunk_id", "chunk_hash")),
    _KEYWORDS,
    Property(name="date_warning", data_type=DataType.TEXT, index_searchable=False, skip_vectorization=True),
    Property(name="title", data_type=DataType.TEXT, tokenization=Tokenization.WORD, skip_vectorization=True),
    Property(name="text", data_type=DataType.TEXT, tokenization=Tokenization.WORD, skip_vectorization=True),
    Property(name="heading_path", data_type=DataType.TEXT_ARRAY, index_searchable=False, skip_vectorization=True),
    Property(name="ordinal", data_type=DataType.INT, skip_vectorization=True),
    Property(name="updated_at", data_type=DataType.DATE, skip_vectorization=True),
    Property(name="passage_at", data_type=DataType.DATE, skip_vectorization=True),  # the chunk's own age (#14)
]
DOC_SCHEMA = [
    *(field_property(n) for n in _DOC_FIELDS),
    field_property("title", filterable=False),
    _KEYWORDS,
    Property(name="date_warning", data_type=DataType.TEXT, index_searchable=False, skip_vectorization=True),
    Property(name="updated_at", data_type=DataType.DATE, skip_vectorization=True),
    Property(name="chunk_count", data_type=DataType.INT, skip_vectorization=True),
    field_property("chunk_ids", data_type=DataType.TEXT_ARRAY, filterable=False),
    field_property("chunk_hashes", data_type=DataType.TEXT_ARRAY, filterable=False),
]


@dataclass(frozen=True, order=True)
class ServerVersion:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        found = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
        if not found:
            raise StoreError(f"Weaviate reported an unreadable version {text!r}")
        return cls(*(int(part) for part in found.groups()))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def integer_boosts(self) -> bool:
        """BM25 ``prop^boost`` parsed with Atoi (fractions read as 0) before 1.38.0."""
        return (self.major, self.minor) < (1, 38)

    @property
    def strips_field_stopwords(self) -> bool:
        """Stopwords dropped from ``field`` filter values (weaviate#9054; fixed in 1.31.19, 1.32.16, 1.33.4)."""
        fixed = {(1, 31): 19, (1, 32): 16, (1, 33): 4}
        line = (self.major, self.minor)
        if line in fixed:
            return self.patch < fixed[line]
        return line < (1, 31)


def title_property(weight: float, version: ServerVersion) -> str:
    """The BM25 title property with its boost, as the server will honour it (rounded where boosts are integers)."""
    if version.integer_boosts:
        weight = float(int(weight + 0.5))
    return "title" if weight == 1 else f"title^{weight:g}"


def refuse_stopword_sources(names: list[str], version: ServerVersion) -> None:
    """A source named like a stopword cannot be filtered on by an affected server: say so at start-up."""
    bad = [n for n in names if n in WEAVIATE_STOPWORDS]
    if bad and version.strips_field_stopwords:
        raise ConfigError(
            f"Source name {bad[0]!r} is a Weaviate stopword, and Weaviate {version} cannot filter on it "
            "(weaviate#9054): rename the source in bestbefore.toml or upgrade Weaviate to 1.32.16 / 1.33.4 or later"
        )


def check_collection(config: CollectionConfig, *, needs_vector: bool) -> None:
    """Refuse a collection bestbefore did not create (e.g. made by Weaviate's auto-schema): wrong results await."""
    name = config.name
    fix = (
        f"Weaviate collection {name!r} was not created by bestbefore (auto-schema?): set AUTOSCHEMA_ENABLED=false "
        "on the server and rebuild with `bestbefore ingest --full`"
    )
    for prop in config.properties:
        if prop.name in ID_PROPERTIES and prop.tokenization != Tokenization.FIELD:
            used = prop.tokenization.value if prop.tokenization else "no"
            raise StoreError(f"{fix} (property {prop.name!r} uses {used} tokenization, not field)")
    if needs_vector:
        vectors = config.vector_config or {}
        ours = vectors.get(VECTOR)
        if ours is None or str(getattr(ours.vectorizer.vectorizer, "value", ours.vectorizer.vectorizer)) != "none":
            raise StoreError(f"{fix} (it has no self-provided vector named {VECTOR!r})")


def connect_weaviate(
    url: str,
    *,
    api_key: str | None = None,
    grpc_port: int | None = None,
    grpc_host: str | None = None,
    grpc_secure: bool | None = None,
    timeout: float = 30.0,
    skip_init_checks: bool = False,
) -> weaviate.WeaviateClient:
    """A connected client for ``WEAVIATE_URL`` (+ ``WEAVIATE_API_KEY`` and the gRPC settings).

    gRPC goes to ``WEAVIATE_GRPC_HOST`` (default: the REST host; Weaviate Cloud serves it at ``grpc-<cluster>``)
    on ``WEAVIATE_GRPC_PORT`` (default 443 with TLS at a separate host, else 50051), with TLS when
    ``WEAVIATE_GRPC_SECURE`` is true (default: as ``WEAVIATE_URL``'s scheme).
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"WEAVIATE_URL must look like http://host:8080 or https://host, got {url!r}")
    secure = parsed.scheme == "https"
    tls = secure if grpc_secure is None else grpc_secure
    port = grpc_port or (443 if grpc_host and tls else 50051)
    host = grpc_host or parsed.hostname
    try:
        return weaviate.connect_to_custom(
            http_host=parsed.hostname,
            http_port=parsed.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=host,
            grpc_port=port,
            grpc_secure=tls,
            auth_credentials=Auth.api_key(api_key) if api_key else None,
            additional_config=AdditionalConfig(
                timeout=Timeout(init=min(timeout, 10), query=timeout, insert=timeout),
                grpc_config=GrpcConfig(channel_options=RECONNECT),
            ),
            skip_init_checks=skip_init_checks,
        )
    except WeaviateBaseError as exc:
        detail = " ".join(str(exc).split())[:300]
        if "401" in str(exc) or "403" in str(exc):
            raise StoreError(f"Weaviate at {url} refused the credentials — check WEAVIATE_API_KEY: {detail}") from exc
        raise IndexUnavailableError(
            f"Cannot connect to Weaviate at {url} (gRPC {host}:{port}) — check WEAVIATE_URL, WEAVIATE_GRPC_HOST/_PORT "
            f"and that Weaviate runs: {detail}"
        ) from exc
