"""Errors of intake: why a package was refused, with the HTTP status the caller gets."""

from __future__ import annotations


class IntakeError(Exception):
    """A package refused at intake; nothing of it is stored.

    ``sender`` and ``size`` are what was known about the input when it was refused, for the
    rejection log.
    """

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int = 422,
        *,
        sender: str | None = None,
        size: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.sender = sender
        self.size = size
