"""What the fault tests share: the CLI as a subprocess (a real process that must end), a config over the example
handbook, and waiting on a condition with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bestbefore.dashboard import dashboard_routes
from bestbefore.services import Services
from bestbefore.web import create_web_app
from tests.conftest import EXAMPLES
from tests.fakes.bot_harness import WebServer

BESTBEFORE = Path(sys.executable).parent / "bestbefore"
SERVICE_VARIABLES = (
    "REDIS_URL", "COHERE_API_KEY", "CO_API_URL", "WEAVIATE_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY",
    "LANGFUSE_HOST", "DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL",
    "BESTBEFORE_CONFIG", "WEAVIATE_API_KEY", "WEAVIATE_GRPC_PORT",
)  # fmt: skip
HOTEL_QUESTION = "How much can I spend on a hotel when I travel?"


def handbook_config(folder: Path, extra: str = "", *, embedder: str | None = "hashing") -> Path:
    """A bestbefore.toml over the example handbook (``embedder=None`` leaves the embedder to COHERE_API_KEY)."""
    folder.mkdir(parents=True, exist_ok=True)
    index = f'[index]\nembedder = "{embedder}"\n' if embedder else ""
    path = folder / "bestbefore.toml"
    path.write_text(
        f'[[sources]]\nname = "handbook"\npath = "{(EXAMPLES / "docs").as_posix()}"\n'
        f'include = ["**/*.md"]\n\n{index}\n{extra}\n',
        encoding="utf-8",
    )
    return path


def cli_env(home: Path, **variables: str) -> dict[str, str]:
    """The environment of a CLI run: no service variables from the developer's shell, the given ones set."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(BESTBEFORE_HOME=str(home), COLUMNS="200", NO_COLOR="1", **variables)
    return env


def run_cli(config: Path, env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``bestbefore -c CONFIG ARGS`` in its own process; raises TimeoutExpired if it does not end in ``timeout``."""
    return subprocess.run(
        [str(BESTBEFORE), "-c", str(config), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g}s")
        time.sleep(0.05)


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def serve_monitoring(services: Services) -> WebServer:
    """``/metrics``, ``/dashboard`` and ``/dashboard/data`` for ``services`` on a free port (as ``serve`` has them)."""
    return WebServer(create_web_app(services, slack_app=None, extra_routes=dashboard_routes(services))).start()
