"""Configuration: one ``Settings`` object built at the entry points and passed in.

Secrets and service URLs come from the environment / ``.env``; everything else from ``bestbefore.toml``
(found in the working directory or given with ``--config``). Library code never reads ``os.environ``.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.durations import parse_duration
from rag.errors import ConfigError

CONFIG_FILE_NAME = "bestbefore.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Section):
    name: str
    path: Path
    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=list)
    url_base: str | None = None
    staleness: Duration | None = None  # default threshold for this source

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError("use letters, digits, '.', '_' or '-'")
        return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]


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


class ScheduleConfig(_Section):
    timezone: str = "UTC"
    refresh: str = "0 3 * * *"
    watchdog: str = "0 8 * * *"
    digest: str = "0 9 * * mon"
    misfire_grace: Duration = "3d"


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
    dashboard_window: str = "14d"


class CohereConfig(_Section):
    embed_model: str = "embed-v4.0"
    rerank_model: str = "rerank-v3.5"
    chat_model: str = "command-a-03-2025"
    timeout: float = 30.0
    deadline: float = 60.0
    embed_dimension: int | None = None  # embed-v4.0: 256, 512, 1024 or 1536; None = the model's default


class WeaviateConfig(_Section):
    """Used when ``WEAVIATE_URL`` is set (with ``WEAVIATE_API_KEY`` / ``WEAVIATE_GRPC_PORT`` from the environment)."""

    collection: str = Field(default="BestbeforeChunk", pattern=r"^[A-Z][A-Za-z0-9_]*$")
    timeout: float = Field(default=30.0, gt=0)
    skip_init_checks: bool = False


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

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"No source named {name!r} in bestbefore.toml (sources: {known})")


class Settings(BaseSettings):
    """Environment (secrets, service URLs) plus the parsed ``bestbefore.toml`` in ``app``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None
    redis_url: str | None = None
    cohere_api_key: SecretStr | None = None
    co_api_url: str | None = None
    weaviate_url: str | None = None
    weaviate_api_key: SecretStr | None = None
    weaviate_grpc_port: int | None = None
    langfuse_public_key: SecretStr | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: str | None = None
    database_url: str | None = None
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


def load_settings(config: Path | None = None, *, cwd: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment and ``bestbefore.toml`` (explicit path, else the working dir)."""
    path = config
    if path is None:
        candidate = (cwd or Path.cwd()) / CONFIG_FILE_NAME
        path = candidate if candidate.exists() else None
    elif not path.exists():
        raise ConfigError(f"Config file {path} does not exist")
    app = load_app_config(path) if path else AppConfig()
    return Settings(app=app, config_path=path, **overrides)


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
            loc = [str(part) for part in err["loc"]]
            line = _line_of(text, loc)
            where = f", line {line}" if line else ""
            problems.append(f"{path}{where}: {'.'.join(loc)}: {err['msg']}")
        raise ConfigError("Invalid config:\n  " + "\n  ".join(problems)) from exc
    base = path.parent
    for source in app.sources:
        if not source.path.is_absolute():
            source.path = (base / source.path).resolve()
    return app


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line number of a dotted key path in TOML text (1-based)."""
    keys = [k for k in loc if not k.isdigit()]
    best: int | None = None
    table: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?$", line)
        if header:
            table = [part.strip().strip('"') for part in header.group(1).split(".")]
            if table == keys[: len(table)] and best is None and len(table) == len(keys):
                best = number
            continue
        key = re.match(r'^"?([^"=\s]+)"?\s*=', line)
        if key and table + [key.group(1)] == keys[: len(table) + 1] and len(table) + 1 >= len(keys):
            return number
        if key and table == keys[: len(table)] and key.group(1) == keys[-1]:
            best = best or number
    return best


def ttl_seconds(duration: str) -> int:
    return int(parse_duration(duration) / timedelta(seconds=1))
