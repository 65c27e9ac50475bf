"""The rejection log's entry point: every refused submission, whatever refused it.

Submission endpoints are marked with :func:`submission`; the error handler calls
:func:`log_refusal` for every typed error, and it writes a rejection line (and publishes a
``rejected`` event) when the refused request was a submission: authentication failures,
oversized bodies and intake refusals alike, in one place. Marking endpoints instead of
wrapping them in a dependency keeps the accepted path free of any cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from fastapi import Request

from lgsp.events import EventType
from lgsp.stats import record_rejection

from .errors import CodedError
from .state import Hub

F = TypeVar("F", bound=Callable[..., Any])

_CHANNELS: Final[dict[Callable[..., Any], str]] = {}


def submission(channel: str) -> Callable[[F], F]:
    """Mark an endpoint as a package submission on ``channel`` (``system`` or ``hub``)."""

    def mark(endpoint: F) -> F:
        _CHANNELS[endpoint] = channel
        return endpoint

    return mark


async def log_refusal(request: Request, error: CodedError) -> None:
    """Log ``error`` in the rejection log if ``request`` was a submission."""
    channel = _CHANNELS.get(request.scope.get("endpoint"))  # type: ignore[arg-type]
    hub: Hub | None = getattr(request.app.state, "hub", None)
    if channel is None or hub is None:
        return
    sender = getattr(error, "sender", None)
    size = getattr(error, "size", None) or getattr(request.state, "size", None)
    if size is None:
        declared = request.headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else None
    caller = getattr(request.state, "caller", None)
    await record_rejection(
        hub.writes,
        at=hub.clock.now(),
        code=error.code,
        http_status=error.http_status,
        channel=channel,
        message=error.message,
        caller=caller,
        sender=sender,
        size=size,
    )
    hub.events.publish(
        EventType.REJECTED,
        code=error.code,
        http_status=error.http_status,
        channel=channel,
        caller=caller,
        sender=sender,
        size=size,
        message=error.message,
    )
