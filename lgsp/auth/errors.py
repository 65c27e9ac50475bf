"""Errors of authentication: who is calling, and may they."""

from __future__ import annotations


class AuthError(Exception):
    """A caller is not authenticated (401) or not allowed (403): a stable code and a message."""

    def __init__(self, code: str, message: str, *, http_status: int = 401) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def hub_auth_failed(message: str) -> AuthError:
    """The previous hub's request is not properly signed (401 ``hub_auth_failed``)."""
    return AuthError("hub_auth_failed", message, http_status=401)
