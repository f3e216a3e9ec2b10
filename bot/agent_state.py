"""What the bot remembers about the agent messaging experience (``agent_view``), per process.

* Which workspaces have it: ``assistant.threads.setStatus`` fails where the feature is off (it needs a paid
  plan); the first failure is remembered, so that workspace keeps today's DMs without trying again.
* Which workspaces refused streamed answers (``chat.startStream``): their answers use a placeholder instead.
* Which channel each person is viewing beside the agent (``app_context_changed``): its sources answer their DMs.
"""

from __future__ import annotations

import threading


class AgentState:
    def __init__(self) -> None:
        self._unsupported: set[str] = set()
        self._no_streaming: set[str] = set()
        self._viewing: dict[str, str] = {}
        self._lock = threading.Lock()

    def available(self, team: str | None) -> bool:
        """False once the workspace refused the agent features; True until then (they are tried)."""
        with self._lock:
            return (team or "") not in self._unsupported

    def refuse(self, team: str | None) -> None:
        with self._lock:
            self._unsupported.add(team or "")

    def streaming(self, team: str | None) -> bool:
        """False once the workspace refused ``chat.startStream``; True until then."""
        with self._lock:
            return (team or "") not in self._no_streaming

    def refuse_streaming(self, team: str | None) -> None:
        with self._lock:
            self._no_streaming.add(team or "")

    def view(self, user: str, channel: str | None) -> None:
        """``user`` is now looking at ``channel`` (None: at nothing we know)."""
        with self._lock:
            if channel:
                self._viewing[user] = channel
            else:
                self._viewing.pop(user, None)

    def viewing(self, user: str | None) -> str | None:
        with self._lock:
            return self._viewing.get(user or "")
