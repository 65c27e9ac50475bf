"""Errors of the directory: a recipient nobody knows, a route that would loop, a missing peer."""

from __future__ import annotations


class RoutingError(Exception):
    """A recipient cannot be routed from this hub: ``unknown_recipient`` or ``routing_loop``."""

    def __init__(self, code: str, message: str, *, http_status: int = 422) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


class PeerUnknownError(Exception):
    """No address for a hub in ``services.json`` (yet): delivery retries later."""

    def __init__(self, hub_id: str, path: str) -> None:
        super().__init__(f"no address for hub {hub_id!r} in {path}")
        self.hub_id = hub_id
