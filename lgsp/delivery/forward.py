"""Forwarding to the next hub: the outbox worker's ``deliver`` callback.

Every hop leaves a hub through :meth:`HubClient.send`, the hub's one HTTP client (one
``httpx.AsyncClient``, one request path): latency, errors and outages can be injected
there, through ``transport``. The stored bytes go out unchanged, signed per docs/exchange.md.

Outcome → outbox: 2xx sent; 4xx (but 408 and 429) :class:`PermanentDeliveryError`, dead at
once; anything else, network errors included, :class:`RetryableDeliveryError`, retried
with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import httpx

from lgsp.auth import HubSigner
from lgsp.events import EventBus, EventType
from lgsp.outbox import PermanentDeliveryError
from lgsp.routing import Directory, PeerUnknownError
from lgsp.store import OutboxItem, StoredPackage
from simtime import Clock

from .errors import RetryableDeliveryError

log = logging.getLogger(__name__)

HUB_PACKAGES_PATH: Final = "/api/v1/hub/packages"
_TRANSIENT_4XX: Final = frozenset({408, 425, 429})
_MAX_DETAIL: Final = 300


class HubClient:
    """The hub's one HTTP client for hub-to-hub calls."""

    def __init__(
        self,
        *,
        signer: HubSigner,
        directory: Directory,
        clock: Clock,
        timeout: float = 30.0,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._signer = signer
        self._directory = directory
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            headers={"User-Agent": f"lgsp-sim/{signer.hub_id}"},
        )

    async def send(
        self, destination: str, *, body: bytes, recipients: Sequence[str], digest: str | None = None
    ) -> httpx.Response:
        """POST ``body`` to hub ``destination`` for ``recipients``; the one request path."""
        url = self._directory.peer_url(destination) + HUB_PACKAGES_PATH
        headers = self._signer.headers(
            body=body, recipients=recipients, now=self._clock.now(), digest=digest
        )
        headers["Content-Type"] = "application/xml"
        return await self._client.post(url, content=body, headers=headers)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()


class Forwarder:
    """Delivers one outbox row: the ``deliver`` callback of :class:`lgsp.outbox.OutboxWorker`."""

    def __init__(self, *, client: HubClient, events: EventBus) -> None:
        self._client = client
        self._events = events

    async def __call__(self, item: OutboxItem, package: StoredPackage) -> None:
        """Send ``package`` to ``item.destination``; return once acknowledged, else raise."""
        destination = item.destination
        try:
            response = await self._client.send(
                destination,
                body=package.body,
                recipients=item.recipients,
                digest=f"sha-256={package.sha256}",
            )
        except PeerUnknownError as exc:
            raise RetryableDeliveryError(str(exc)) from None
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(
                f"{destination}: {type(exc).__name__}: {exc or 'no detail'}"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            if self._events.subscribers:
                self._events.publish(
                    EventType.FORWARDED,
                    doc_id=package.id,
                    kind=package.kind.value,
                    sender=package.sender,
                    document_id=package.document_id,
                    to=destination,
                    recipients=list(item.recipients),
                    duplicate=status == 200,
                    attempt=item.attempts + 1,
                )
            return
        detail = _describe(response)
        if 400 <= status < 500 and status not in _TRANSIENT_4XX:
            log.warning("%s refused package %s for good: %s", destination, package.id, detail)
            self._events.publish(
                EventType.DEAD,
                doc_id=package.id,
                to=destination,
                recipients=list(item.recipients),
                error=detail,
            )
            raise PermanentDeliveryError(f"{destination} refused the package: {detail}")
        raise RetryableDeliveryError(f"{destination} answered {detail}")


def _describe(response: httpx.Response) -> str:
    """``<status> <code>: <message>`` from an error answer, or the start of its body."""
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {error['message']}"[:_MAX_DETAIL]
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().replace("\n", " ")
        return f"{response.status_code} {text}"[:_MAX_DETAIL]
