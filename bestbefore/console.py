"""The CLI's two consoles (results on stdout, progress and errors on stderr) and how an error is shown.

Every error reaches the user as one line (a bad config with several problems: one line each); ``--verbose``
(or ``BESTBEFORE_LOG=debug``) prints the traceback above it. Exceptions the commands do not handle are caught by
:class:`ReportingGroup`, so no command shows a traceback by default.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from rich.console import Console
from rich.markup import escape
from typer import Abort, Exit
from typer.core import TyperGroup
from typer.exceptions import TyperException

from rag.errors import BestBeforeError, ConfigError

console = Console()
err = Console(stderr=True)

CONFIG_EXIT_CODE = 2  # bad configuration or flag: fix it and run again
FAILURE_EXIT_CODE = 1
_verbose = False  # ``--verbose`` / ``BESTBEFORE_LOG=debug``: tracebacks too

# The environment variable behind the client library an exception comes from (by top-level module).
SERVICE_VARIABLES: dict[str, str] = {
    "redis": "REDIS_URL",
    "sqlalchemy": "DATABASE_URL",
    "psycopg": "DATABASE_URL",
    "weaviate": "WEAVIATE_URL",
    "grpc": "WEAVIATE_URL",
    "cohere": "CO_API_URL",
}


def service_variable(exc: BaseException) -> str | None:
    """``"DATABASE_URL"`` when ``exc`` (or what caused it) comes from that service's client library."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        variable = SERVICE_VARIABLES.get(type(current).__module__.split(".")[0])
        if variable is not None:
            return variable
        current = current.__cause__ or current.__context__
    return None


def error_text(exc: BaseException) -> str:
    """What the user reads: the project's own messages as they are; a service failure as one line naming its
    variable; anything else as one line with a hint to ``--verbose``."""
    message = str(exc).strip() or type(exc).__name__
    variable = service_variable(exc)
    if variable is not None:
        first = message.splitlines()[0].strip()
        if not isinstance(exc, BestBeforeError):
            first = f"{type(exc).__name__}: {first}"
        named = first if variable in first else f"{variable}: {first}"
        return f"{named} (--verbose shows the details)"
    if isinstance(exc, BestBeforeError):
        return message
    first = message.splitlines()[0].strip()
    return f"unexpected {type(exc).__name__}: {first} (--verbose shows the traceback)"


def print_error(exc: BaseException) -> None:
    """One unwrapped line (or one per config problem) on stderr, the traceback first when verbose; never markup."""
    if _verbose:
        traceback.print_exception(exc, file=sys.stderr)
    print_error_line(error_text(exc))


def print_error_line(text: str) -> None:
    err.print(f"[red]Error:[/red] {escape(text)}", soft_wrap=True, highlight=False)


def show_tracebacks(enabled: bool) -> None:
    global _verbose
    _verbose = enabled


def print_warning(text: str) -> None:
    err.print(f"[yellow]Warning:[/yellow] {escape(text)}", soft_wrap=True, highlight=False)


def exit_code_of(exc: BaseException) -> int:
    return CONFIG_EXIT_CODE if isinstance(exc, ConfigError) else FAILURE_EXIT_CODE


class ReportingGroup(TyperGroup):
    """The command group: whatever a command does not handle is shown by :func:`print_error`, never as a trace."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except Exception as exc:
            print_error(exc)
            raise Exit(exit_code_of(exc)) from exc
