"""What every ``bestbefore`` command shares: the Settings and the one ``Services`` of the invocation, JSON output,
error exits.

Commands live in ``cli.py`` (the core ones), ``jobs_cli.py`` and ``evaluate.py``; they import this module, never
each other.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from bestbefore.console import exit_code_of, print_error
from bestbefore.services import Services
from bestbefore.startup_checks import check_schedules
from rag.config import Settings, load_settings
from rag.errors import BestBeforeError


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings (loaded and checked once per command); a config problem ends the command with exit code 2."""
    if "settings" not in ctx.obj:
        try:
            settings = load_settings(ctx.obj["config"])
            check_schedules(settings)
        except BestBeforeError as exc:
            print_error(exc)
            raise typer.Exit(exit_code_of(exc)) from exc
        ctx.obj["settings"] = settings
    loaded: Settings = ctx.obj["settings"]
    return loaded


def services_of(ctx: typer.Context) -> Services:
    if "services" not in ctx.obj:
        ctx.obj["services"] = Services(settings_of(ctx))
        ctx.call_on_close(ctx.obj["services"].close)
    services: Services = ctx.obj["services"]
    return services


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(exc: Exception) -> typer.Exit:
    print_error(exc)
    return typer.Exit(exit_code_of(exc))
