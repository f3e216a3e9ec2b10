"""The CLI's two consoles (results on stdout, progress and errors on stderr) and how an error is shown."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)


def print_error(exc: BaseException) -> None:
    """One unwrapped line (or a few) on stderr; the message is text, never rich markup."""
    err.print(f"[red]Error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
