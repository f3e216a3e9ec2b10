"""manifest.yml against Slack's published manifest schema (slackapi/manifest-schema), and what the bot needs of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).parent / "data" / "slack_manifest_schema" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_manifest_is_valid_against_slacks_schema(
    manifest: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []


def test_the_schema_catches_a_broken_manifest(manifest: dict[str, Any], validator: jsonschema.Draft7Validator) -> None:
    broken = json.loads(json.dumps(manifest))
    prompts = broken["features"]["agent_view"]["suggested_prompts"]
    broken["features"]["agent_view"]["suggested_prompts"] = prompts + [{"title": "five", "message": "too many"}]
    broken["settings"]["interactivity"] = {"request_url": "ftp://nope"}
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("is too long" in m for m in messages)  # at most four suggested prompts
    assert any("'is_enabled' is a required property" in m for m in messages)


def test_scopes_and_events_match_what_the_bot_does(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"mpim:history", "assistant:write", "channels:join", "channels:read", "chat:write"} <= scopes
    assert "im:read" not in scopes  # never used
    assert {"app_mention", "message.im", "app_home_opened", "app_context_changed"} <= events
    assert {"reaction_added", "reaction_removed"} <= events and "reactions:read" in scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True  # Socket Mode: interactivity needs no request_url
    assert "request_url" not in manifest["settings"]["interactivity"]
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True and home["messages_tab_enabled"] is True
    agent = manifest["features"]["agent_view"]
    assert agent["agent_description"] and 1 <= len(agent["suggested_prompts"]) <= 4
