"""What every ``bestbefore`` command shares: the one ``Services`` of the invocation, JSON output, error exits.

Commands live in ``cli.py`` (the core ones), ``jobs_cli.py`` and ``evaluate.py``; they import this module, never
each other.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from bestbefore.console import print_error
from bestbefore.services import Services
from rag.config import load_settings
from rag.errors import BestBeforeError


def services_of(ctx: typer.Context) -> Services:
    """The invocation's ``Services`` (built from ``--config`` on first use, closed when the command ends)."""
    if "services" not in ctx.obj:
        try:
            ctx.obj["services"] = Services(load_settings(ctx.obj["config"]))
        except BestBeforeError as exc:
            print_error(exc)
            raise typer.Exit(2) from exc
        ctx.call_on_close(ctx.obj["services"].close)
    services: Services = ctx.obj["services"]
    return services


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(exc: Exception) -> typer.Exit:
    print_error(exc)
    return typer.Exit(1)
