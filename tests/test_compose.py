"""docker-compose.yml without Docker: valid against the compose specification's JSON schema (the copy vendored by
check-jsonschema), and the bot service agrees with the CLI it runs: its command parses, its config file exists and
loads, and it receives only variables the bot reads."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml

from bestbefore.cli import app as cli
from rag.config import Settings, load_app_config

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
BOT = COMPOSE["services"]["bot"]
DEFAULT = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")


def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text())
    return schema


def mounts() -> dict[str, Path]:
    """container path -> host path, for the bot's bind mounts (``${VAR:-default}`` taken at its default)."""
    found = {}
    for volume in BOT["volumes"]:
        source, target = DEFAULT.sub(lambda m: m.group(1), volume).split(":")[:2]
        if source.startswith("."):
            found[target] = ROOT / source
    return found


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    jsonschema.validate(COMPOSE, compose_schema())


def test_the_schema_rejects_what_it_should() -> None:
    broken = {**COMPOSE, "services": {**COMPOSE["services"], "bot": {**BOT, "depends_on": {"redis": {"condition": 1}}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_bot_command_is_a_cli_command_with_options_it_has() -> None:
    command = BOT["command"]
    assert command[0] == "bestbefore"  # the console script pyproject.toml installs
    group = typer.main.get_command(cli)
    serve = group.commands[command[1]]  # type: ignore[attr-defined]
    context = serve.make_context(command[1], list(command[2:]))
    assert context.params["port"] == 3000 and context.params["host"] == "0.0.0.0"
    assert BOT["ports"] == ["127.0.0.1:3000:3000"]
    assert "3000/healthz" in " ".join(BOT["healthcheck"]["test"])


def test_bot_config_path_is_a_mounted_file_that_loads_and_names_mounted_docs() -> None:
    config_path = BOT["environment"]["BESTBEFORE_CONFIG"]
    options = {p.name: p for p in typer.main.get_command(cli).params}  # type: ignore[attr-defined]
    assert options["config"].envvar == "BESTBEFORE_CONFIG"  # the variable the CLI reads --config from
    bound = mounts()
    assert config_path in bound
    config = load_app_config(bound[config_path])
    docs = {target for target in bound if target != config_path}
    assert config.sources and all(str(s.path) in docs for s in config.sources)
    for target in docs:
        assert bound[target].is_dir()
        assert any(volume.endswith(f"{target}:ro") for volume in BOT["volumes"])  # documents are read-only


def test_bot_receives_only_variables_the_bot_reads() -> None:
    environment = BOT["environment"]
    read = {name.upper() for name in Settings.model_fields if name not in ("app", "config_path")}
    read.add("BESTBEFORE_CONFIG")
    assert set(environment) <= read, set(environment) - read
    assert "env_file" not in BOT  # an env_file would hand it every server secret in .env
    for needed in ("SLACK_BOT_TOKEN", "WEAVIATE_URL", "WEAVIATE_API_KEY", "REDIS_URL", "LANGFUSE_HOST"):
        assert needed in environment
    assert environment["WEAVIATE_URL"] == "http://weaviate:8080"
    assert environment["WEAVIATE_GRPC_PORT"] == "50051"


def test_services_wait_for_healthy_dependencies_and_bind_loopback() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], dependency


def test_weaviate_is_locked_down_and_pinned_to_a_fixed_version() -> None:
    weaviate = COMPOSE["services"]["weaviate"]
    environment = weaviate["environment"]
    assert environment["AUTOSCHEMA_ENABLED"] == "false"
    assert environment["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "false"
    assert environment["AUTHORIZATION_RBAC_ENABLED"] == "true"
    assert environment["AUTHORIZATION_RBAC_ROOT_USERS"] == environment["AUTHENTICATION_APIKEY_USERS"]
    from rag.index.weaviate_schema import ServerVersion

    version = ServerVersion.parse(weaviate["image"].rsplit(":", 1)[1])
    assert not version.integer_boosts and not version.strips_field_stopwords


def test_langfuse_server_matches_the_sdk_and_creates_the_bots_keys() -> None:
    from importlib.metadata import version

    assert version("langfuse").startswith("5.")  # SDK 5.x targets the Langfuse v4 server
    services = COMPOSE["services"]
    assert services["langfuse-web"]["image"].endswith("/langfuse:4")
    assert services["langfuse-worker"]["image"].endswith("/langfuse-worker:4")
    assert services["langfuse-clickhouse"]["image"].endswith(":25.12")
    web = services["langfuse-web"]["environment"]
    assert "${LANGFUSE_PUBLIC_KEY" in web["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]
    assert "${LANGFUSE_SECRET_KEY" in web["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    assert "64 hex" in web["ENCRYPTION_KEY"]
    assert "minio/minio" not in services["langfuse-minio"]["image"]
    for url in (web["DATABASE_URL"], BOT["environment"]["REDIS_URL"]):
        assert "_URLENCODED:-" in url  # a percent-encoded form of the password can be given for URLs
