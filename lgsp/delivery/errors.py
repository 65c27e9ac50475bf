"""Errors of delivery: to the next hub (outbox) and to a local DMS (inbox)."""

from __future__ import annotations

from lgsp.outbox import PermanentDeliveryError


class RetryableDeliveryError(Exception):
    """The next hub could not take the package now (5xx, 408, 429, network): retry later."""


class InboxError(Exception):
    """A DMS asked for a package or an inbox item it cannot have: a code and an HTTP status."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


__all__ = ["InboxError", "PermanentDeliveryError", "RetryableDeliveryError"]
