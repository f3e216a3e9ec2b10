"""Configuration: one ``Settings`` object built at the entry points and passed in.

Secrets and service URLs come from the environment / ``.env``; everything else from ``bestbefore.toml``
(found in the working directory or given with ``--config``). Library code never reads ``os.environ``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.durations import parse_duration, parse_positive_duration
from rag.errors import ConfigError

CONFIG_FILE_NAME = "bestbefore.toml"
DASHBOARD_MAX_WINDOW = timedelta(days=400)
# What bestbefore creates in BESTBEFORE_HOME (globs); `bestbefore reset` deletes these and nothing else.
HOME_FILES = ("index.sqlite", "index.sqlite-*", "ledger.sqlite", "ledger.sqlite-*")
# Ledger writes waiting for DATABASE_URL (bestbefore/services.py LEDGER_SPILL_FILE): kept by reset while one is set.
SPILL_FILES = ("ledger-spill.jsonl", "ledger-spill.jsonl.tmp")


class KeyedValueError(ValueError):
    """A problem found across several keys, reported at ``loc`` (pydantic puts model-level errors at no key)."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = tuple(loc)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Section):
    name: str
    path: Path
    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=list)
    url_base: str | None = None
    url: UrlRule | None = None  # page URL pattern, e.g. "{base}/{path_noext}/" (rag/ingest/page_urls.py)
    owner: str | None = None  # default owner for nudges ("#channel", "@person"); front matter owner_slack wins
    staleness: Duration | None = None  # default threshold for this source

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError("use letters, digits, '.', '_' or '-'")
        return value


def _check_duration(value: str) -> str:
    parse_positive_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
_URL_PLACEHOLDER = re.compile(r"{(\w+)}")


def check_url_rule(rule: str) -> str:
    """Validate a ``url`` rule's placeholders (for the config); returns it unchanged."""
    unknown = sorted({name for name in _URL_PLACEHOLDER.findall(rule)} - {"base", "path", "path_noext", "path_html"})
    if unknown:
        raise ValueError(
            f"unknown placeholder {{{unknown[0]}}} in url rule; use {{base}}, {{path}}, {{path_noext}} or {{path_html}}"
        )
    return rule


UrlRule = Annotated[str, AfterValidator(check_url_rule)]


class StalenessConfig(_Section):
    """Thresholds: a default, per source, per path glob (most specific wins)."""

    default: Duration = "365d"
    sources: dict[str, Duration] = Field(default_factory=dict)
    paths: dict[str, Duration] = Field(default_factory=dict)  # glob over "<source>/<path>" -> duration
    # which age triggers the warning: the page's, or its oldest cited passage's (a front-matter review date wins)
    basis: Literal["page", "passage"] = "page"


class IndexConfig(_Section):
    embedder: str = "minilm"  # "minilm" (local ONNX), "hashing" (tests), "cohere" (needs COHERE_API_KEY)
    chunk_tokens: int = Field(default=200, ge=32, le=2000)
    chunk_overlap: int = Field(default=30, ge=0, le=500)
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)  # 0 = BM25 only, 1 = vector only
    candidates: int = Field(default=40, ge=1, le=500)
    evidence: int = Field(default=6, ge=1, le=50)
    min_relevance: float = Field(default=0.3, ge=0.0, le=1.0)  # refuse below this evidence strength
    title_weight: float = Field(default=2.0, ge=0.0, le=20.0)  # BM25 weight of the title column vs the body


class CacheConfig(_Section):
    query_ttl: Duration = "24h"
    document_ttl: Duration = "30d"
    lru_size: int = Field(default=10_000, ge=0)


class ChannelConfig(_Section):
    enabled: bool = True
    sources: list[str] | None = None
    staleness: StalenessConfig | None = None
    change_notices: bool = True  # reply in an answer's thread when a doc it cited changes


class NoticesConfig(_Section):
    """``[notices]``: after a refresh, answers of the last ``window`` hear in their thread that a cited doc changed."""

    enabled: bool = True
    window: Duration = "30d"
    max_per_run: int = Field(default=20, ge=0)  # threads notified per refresh; the rest go to the digest
    max_per_channel: int = Field(default=5, ge=0)  # per channel per refresh
    claim_lease: Duration = "10min"  # a claimed notice not marked posted after this is checked in Slack and retried


class SlackConfig(_Section):
    ignore_bots: bool = True
    positive_reactions: list[str] = Field(
        default_factory=lambda: ["+1", "thumbsup", "white_check_mark", "heavy_check_mark"]
    )
    negative_reactions: list[str] = Field(default_factory=lambda: ["-1", "thumbsdown", "x"])
    max_question_chars: int = 4000
    reviewers_group: str | None = None  # a Slack user group id (S0123) whose members may verify any doc


class ScheduleConfig(_Section):
    timezone: str = "UTC"
    refresh: str = "0 3 * * *"
    watchdog: str = "0 8 * * *"
    digest: str = "0 9 * * mon"
    misfire_grace: Duration = "3d"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC, Europe/Paris or America/New_York"
            ) from exc
        return value


class DigestConfig(_Section):
    channel: str = "#rag-ops"
    nudge_owners: bool = False


class CostConfig(_Section):
    """USD per unit, by ``provider/model`` and unit name (input_tokens, output_tokens, search_units)."""

    prices: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {
            "cohere/embed-v4.0": {"input_tokens": 0.12e-6},
            "cohere/rerank-v3.5": {"search_units": 2.0e-3},
            "cohere/command-a-03-2025": {"input_tokens": 2.5e-6, "output_tokens": 10.0e-6},
        }
    )


class LedgerConfig(_Section):
    privacy: str = Field(default="full", pattern=r"^(full|hash|redact)$")  # how question/answer text is kept


class MonitoringConfig(_Section):
    """``/metrics`` and ``/dashboard``; in Socket Mode metrics are also served on ``metrics_port`` (0 = off)."""

    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    dashboard_window: Duration = "14d"

    @field_validator("dashboard_window")
    @classmethod
    def _window_fits(cls, value: str) -> str:
        if parse_duration(value) > DASHBOARD_MAX_WINDOW:
            raise ValueError(f"{value!r} is longer than the dashboard shows ({DASHBOARD_MAX_WINDOW.days}d)")
        return value


class CohereConfig(_Section):
    embed_model: str = "embed-v4.0"
    rerank_model: str = "rerank-v3.5"
    chat_model: str = "command-a-03-2025"
    timeout: float = 30.0
    deadline: float = 60.0
    embed_dimension: int | None = None  # embed-v4.0: 256, 512, 1024 or 1536; None = the model's default


class WeaviateConfig(_Section):
    """Used when ``WEAVIATE_URL`` is set (``WEAVIATE_API_KEY``, ``WEAVIATE_GRPC_HOST/_PORT/_SECURE`` from the environment)."""

    collection: str = Field(default="BestbeforeChunk", pattern=r"^[A-Z][A-Za-z0-9_]*$")
    timeout: float = Field(default=30.0, gt=0)
    skip_init_checks: bool = False
    # A question waits at most this long for an unreachable Weaviate (the client itself retries for ~1 min),
    # then the bot replies that the document index is unavailable.
    search_deadline: float = Field(default=10.0, gt=0)


class LimitsConfig(_Section):
    """Rate limits per Slack user and channel (token buckets) and an optional daily spend cap for paid providers."""

    user_per_minute: float = Field(default=6.0, ge=0)  # questions a user may ask per minute (0 = no limit)
    user_burst: int = Field(default=5, ge=1)  # asked at once before the rate applies
    channel_per_minute: float = Field(default=30.0, ge=0)  # per channel (0 = no limit)
    channel_burst: int = Field(default=20, ge=1)
    daily_spend_usd: float | None = Field(default=None, gt=0)  # UTC day; above it answers use the embedded pipeline


class AppConfig(_Section):
    """The contents of ``bestbefore.toml``."""

    sources: list[SourceConfig] = Field(default_factory=list)
    staleness: StalenessConfig = Field(default_factory=StalenessConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    notices: NoticesConfig = Field(default_factory=NoticesConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    schedules: ScheduleConfig = Field(default_factory=ScheduleConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    costs: CostConfig = Field(default_factory=CostConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    cohere: CohereConfig = Field(default_factory=CohereConfig)
    weaviate: WeaviateConfig = Field(default_factory=WeaviateConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    @model_validator(mode="after")
    def _names_refer_to_sources(self) -> Self:
        """Each source has its own name; channels and thresholds name only sources that exist."""
        seen: dict[str, int] = {}
        for number, source in enumerate(self.sources):
            if source.name in seen:
                raise KeyedValueError(
                    ("sources", number, "name"),
                    f"{source.name!r} is already the name of sources.{seen[source.name]}; "
                    "each [[sources]] needs its own name (ingesting one would delete the other's documents)",
                )
            seen[source.name] = number
        for channel, settings in self.channels.items():
            for name in settings.sources or []:
                if name not in seen:
                    raise KeyedValueError(("channels", channel, "sources"), self._unknown(name))
        for name in self.staleness.sources:
            if name not in seen:
                raise KeyedValueError(("staleness", "sources", name), self._unknown(name))
        return self

    def _unknown(self, name: str) -> str:
        return f"no source named {name!r} (sources: {self.source_names()})"

    def source_names(self) -> str:
        """``"docs, handbook"`` (or ``"none configured"``), for messages."""
        return ", ".join(s.name for s in self.sources) or "none configured"

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"No source named {name!r} in bestbefore.toml (sources: {self.source_names()})")


def masked_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``; works on URLs too broken to parse."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def _url_checker(schemes: tuple[str, ...], example: str) -> Callable[[str | None], str | None]:
    """A validator: the URL has one of ``schemes``, a host (``unix://`` excepted) and a numeric port if any."""

    def check(value: str | None) -> str | None:
        if not value:
            return value  # unset
        parts = urlsplit(value)
        problem = None
        if parts.scheme not in schemes:
            wanted = ", ".join(f"{scheme}://" for scheme in schemes)
            problem = f"the scheme must be one of {wanted}"
        elif parts.scheme != "unix" and not parts.hostname:
            problem = "it has no host"
        else:
            try:
                _ = parts.port  # raises ValueError when it is not a number in 0..65535
            except ValueError:
                problem = "the port is not a number from 0 to 65535"
        if problem:
            raise ValueError(f"{masked_url(value)!r} is not a valid URL: {problem} (e.g. {example})")
        return value

    return check


def _check_database_url(value: str | None) -> str | None:
    """A SQLAlchemy URL for PostgreSQL or SQLite whose driver is installed."""
    if not value:
        return value
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "postgresql+psycopg://user@host:5432/bestbefore or sqlite:////path/to/ledger.sqlite"
    try:
        url = make_url(value)
        dialect = url.get_dialect() if url.get_backend_name() in ("postgresql", "sqlite") else None
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"{masked_url(value)!r} is not a valid database URL (e.g. {example})") from exc
    if dialect is None:
        raise ValueError(f"the ledger needs PostgreSQL or SQLite, not {url.get_backend_name()!r} (e.g. {example})")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ValueError(f"the database driver {url.get_driver_name()!r} is not installed (e.g. {example})") from exc
    return value


HttpUrl = Annotated[str | None, AfterValidator(_url_checker(("http", "https"), "http://localhost:8080"))]
RedisUrl = Annotated[str | None, AfterValidator(_url_checker(("redis", "rediss", "unix"), "redis://localhost:6379/0"))]
DatabaseUrl = Annotated[str | None, AfterValidator(_check_database_url)]


class Settings(BaseSettings):
    """Environment (secrets, service URLs) plus the parsed ``bestbefore.toml`` in ``app``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: HttpUrl = None
    redis_url: RedisUrl = None
    cohere_api_key: SecretStr | None = None
    co_api_url: HttpUrl = None
    weaviate_url: HttpUrl = None
    weaviate_api_key: SecretStr | None = None
    weaviate_grpc_port: int | None = None
    weaviate_grpc_host: str | None = None  # Weaviate Cloud: grpc-<cluster>...; default: WEAVIATE_URL's host
    weaviate_grpc_secure: bool | None = None  # TLS for gRPC; default: WEAVIATE_URL's scheme
    langfuse_public_key: SecretStr | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: HttpUrl = None
    database_url: DatabaseUrl = None
    bestbefore_home: Path = Field(default_factory=lambda: Path.home() / ".bestbefore")
    bestbefore_webhook_secret: SecretStr | None = None
    bestbefore_dashboard_token: SecretStr | None = None

    app: AppConfig = Field(default_factory=AppConfig)
    config_path: Path | None = None

    @property
    def home(self) -> Path:
        self.bestbefore_home.mkdir(parents=True, exist_ok=True)
        return self.bestbefore_home

    @property
    def index_path(self) -> Path:
        return self.home / "index.sqlite"

    @property
    def ledger_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'ledger.sqlite'}"

    def created_files(self) -> list[Path]:
        """The files bestbefore made in ``BESTBEFORE_HOME``, for ``bestbefore reset``: ``HOME_FILES``, and the spill
        file when the ledger is local (with ``DATABASE_URL`` it holds writes still owed to that database)."""
        patterns = HOME_FILES if self.database_url else (*HOME_FILES, *SPILL_FILES)
        found = {path for pattern in patterns for path in self.bestbefore_home.glob(pattern) if not path.is_dir()}
        return sorted(found)


def load_settings(config: Path | None = None, *, cwd: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment and ``bestbefore.toml`` (explicit path, else the working dir).

    Raises ``ConfigError`` naming the key and its line (or the environment variable) for anything invalid.
    """
    path = config
    if path is None:
        candidate = (cwd or Path.cwd()) / CONFIG_FILE_NAME
        path = candidate if candidate.exists() else None
    elif not path.exists():
        raise ConfigError(f"Config file {path} does not exist")
    app = load_app_config(path) if path else AppConfig()
    try:
        settings = Settings(app=app, config_path=path, **overrides)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(part) for part in err['loc']).upper()}: {_message(err)}" for err in exc.errors()]
        raise ConfigError(_joined(problems)) from exc
    if path is None:  # zero configuration: the folders `bestbefore ingest PATH` remembered
        from rag.remembered_sources import remembered  # imported here: it builds on this module's SourceConfig

        settings.app.sources = remembered(settings.bestbefore_home)
    return settings


def load_app_config(path: Path) -> AppConfig:
    """Parse and validate ``bestbefore.toml``; errors name the key and its line."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        app = AppConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            cause = err.get("ctx", {}).get("error")
            loc = [str(part) for part in (cause.loc if isinstance(cause, KeyedValueError) else err["loc"])]
            problems.append(config_problem(path, loc, _message(err), text=text))
        raise ConfigError(_joined(problems)) from exc
    base = path.parent
    for source in app.sources:
        if not source.path.is_absolute():
            source.path = (base / source.path).resolve()
    return app


def config_problem(path: Path | None, loc: Sequence[str | int], message: str, *, text: str | None = None) -> str:
    """``"bestbefore.toml, line 7: schedules.refresh: <message>"``: where a problem is, as precisely as known."""
    keys = [str(part) for part in loc]
    if path is None:
        return f"{'.'.join(keys)}: {message}"
    line = _line_of(text if text is not None else path.read_text(encoding="utf-8"), keys)
    where = f", line {line}" if line else ""
    return f"{path}{where}: {'.'.join(keys)}: {message}"


def _message(err: Any) -> str:
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _joined(problems: list[str]) -> str:
    """One problem: one line. Several: a heading and one line each."""
    return problems[0] if len(problems) == 1 else "Invalid config:\n  " + "\n  ".join(problems)


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line number of a key path (``["sources", "1", "name"]``) in TOML text (1-based).

    The line whose table/key path shares the longest prefix with ``loc`` wins (the first on a tie); the n-th
    ``[[array]]`` table counts as index n.
    """
    best: tuple[int, int] | None = None  # (shared prefix length, line)
    table: list[str] = []
    arrays: dict[tuple[str, ...], int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^(\[\[?)\s*([^\]]+?)\s*\]\]?$", line)
        key = re.match(r'^("[^"]*"|[^"=\s]+)\s*=', line)
        if header:
            table = _dotted(header.group(2))
            if header.group(1) == "[[":
                count = arrays.get(tuple(table), -1) + 1
                arrays[tuple(table)] = count
                table = [*table, str(count)]
            path = table
        elif key:
            path = table + _dotted(key.group(1))
        else:
            continue
        shared = 0
        while shared < min(len(path), len(loc)) and path[shared] == loc[shared]:
            shared += 1
        if shared and (best is None or shared > best[0]):
            best = (shared, number)
    return best[1] if best else None


def _dotted(key: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|[^.]+', key)
    return [part.strip().strip('"') for part in parts]


def ttl_seconds(duration: str) -> int:
    return int(parse_duration(duration) / timedelta(seconds=1))
