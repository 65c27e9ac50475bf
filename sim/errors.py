"""The one shape of the orchestrator's errors: a stable ``code`` and a clear ``message``.

Every sim error (topology, data directory, supervisor, service calls, scenarios, reports,
benches) derives from `SimError`, so the CLI reports each the same way: ``error: code: message``.
"""

from __future__ import annotations


class SimError(Exception):
    """An error with a stable machine-readable ``code`` and a human ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
