"""The orchestrator's one HTTP setup: how `sim` talks to hubs and fleets (docs/exchange.md).

Every call the orchestrator makes goes through `client_options` (timeouts, no proxies, one
user agent) and `Exchange._request` (one error mapping), so latency and failures can later be
injected, logged or measured in one place. `Exchange` is async (fan-outs run concurrently);
`sync_client` serves the supervisor's health polls with the same options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx

from sim.errors import SimError

USER_AGENT = "lgsp-sim-orchestrator/0.1"
DEFAULT_TIMEOUT = 30.0


def client_options(*, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Keyword arguments shared by every client the orchestrator builds."""
    return {
        "timeout": httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        # Our services are on 127.0.0.1 or compose hostnames: a user's HTTP(S)_PROXY must not
        # capture those calls.
        "trust_env": False,
        "headers": {"User-Agent": USER_AGENT},
        "limits": httpx.Limits(max_connections=64, max_keepalive_connections=32),
    }


def sync_client(*, timeout: float = DEFAULT_TIMEOUT) -> httpx.Client:
    """A blocking client with the orchestrator's options (health polls, quick checks)."""
    return httpx.Client(**client_options(timeout=timeout))


def async_client(*, timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """An async client with the orchestrator's options."""
    return httpx.AsyncClient(**client_options(timeout=timeout))


class ServiceError(SimError):
    """A call to a hub or fleet that failed: a stable code, a clear message, the HTTP status."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(code, message)
        self.status = status


# --- what the services answer ----------------------------------------------------------------


@dataclass(frozen=True)
class SendRequest:
    """What `POST /fleet/send` takes: one document to draft, sign and submit."""

    from_: str
    to: Sequence[str]
    subject: str
    content: str | None = None
    type_name: str | None = None
    due_days: int | None = None
    personal_signature: bool = True
    agency_signature: bool = True
    envelope_signature: bool = True
    tamper: bool = False
    response_for: tuple[str, str] | None = None  # (OrganId, DocumentId) of the answered document

    def as_json(self) -> dict[str, Any]:
        """The request body."""
        body: dict[str, Any] = {
            "from": self.from_,
            "to": list(self.to),
            "subject": self.subject,
            "personal_signature": self.personal_signature,
            "agency_signature": self.agency_signature,
            "envelope_signature": self.envelope_signature,
            "tamper": self.tamper,
        }
        for key in ("content", "type_name", "due_days"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        if self.response_for is not None:
            organ_id, document_id = self.response_for
            body["response_for"] = {"organ_id": organ_id, "document_id": document_id}
        return body


@dataclass(frozen=True)
class SendResult:
    """The fleet's answer: the DocumentId, and the hub's receipt or its refusal."""

    document_id: str
    http_status: int
    receipt: Mapping[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def accepted(self) -> bool:
        """Whether the entry hub accepted (stored) the package."""
        return self.receipt is not None and self.error_code is None

    @property
    def duplicate(self) -> bool:
        """Whether the hub answered with an earlier receipt."""
        return bool(self.receipt and self.receipt.get("duplicate"))

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], *, http_status: int) -> SendResult:
        """Parse the fleet's JSON (tolerant: a bare hub error is a refusal too)."""
        error = raw.get("error")
        code = message = None
        if isinstance(error, Mapping):
            code = str(error.get("code", "error"))
            message = str(error.get("message", ""))
        receipt = raw.get("receipt")
        return cls(
            document_id=str(raw.get("document_id") or ""),
            http_status=int(raw.get("http_status") or http_status),
            receipt=receipt if isinstance(receipt, Mapping) else None,
            error_code=code,
            error_message=message,
        )


@dataclass(frozen=True)
class StatusRecord:
    """One status package that came back (or passed a hub) for a document."""

    code: str
    from_: str
    at: str
    description: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StatusRecord:
        """Parse one ``statuses`` item."""
        return cls(
            code=str(raw.get("code", "")),
            from_=str(raw.get("from", "")),
            at=str(raw.get("at", "")),
            description=str(raw.get("description") or ""),
        )


@dataclass(frozen=True)
class SentDocument:
    """`GET /fleet/sent/{document_id}`: a sent document and the statuses it got back."""

    document_id: str
    from_: str
    to: tuple[str, ...]
    sent_at: str
    receipt: Mapping[str, Any] | None
    statuses: tuple[StatusRecord, ...]

    def codes_from(self, organ_id: str) -> set[str]:
        """The status codes one recipient has sent back so far."""
        return {s.code for s in self.statuses if s.from_ == organ_id}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SentDocument:
        """Parse the fleet's answer."""
        receipt = raw.get("receipt")
        return cls(
            document_id=str(raw.get("document_id", "")),
            from_=str(raw.get("from", "")),
            to=tuple(str(t) for t in raw.get("to") or ()),
            sent_at=str(raw.get("sent_at", "")),
            receipt=receipt if isinstance(receipt, Mapping) else None,
            statuses=tuple(StatusRecord.from_json(s) for s in raw.get("statuses") or ()),
        )


@dataclass(frozen=True)
class Hop:
    """One event a hub recorded for a package: accepted, forwarded, delivered, ..."""

    hub_id: str
    event: str
    at: str
    detail: str = ""


@dataclass(frozen=True)
class Trace:
    """What one hub knows of a package (`GET /api/v1/trace`)."""

    hub: str  # the hub that answered
    doc_id: str
    kind: str
    sender: str
    document_id: str
    hops: tuple[Hop, ...]
    recipients: tuple[tuple[str, str], ...]  # (OrganId, state)
    statuses: tuple[StatusRecord, ...] = field(default=())

    @classmethod
    def from_json(cls, hub: str, raw: Mapping[str, Any]) -> Trace:
        """Parse a hub's trace."""
        hops = tuple(
            Hop(
                hub_id=str(h.get("hub_id") or hub),
                event=str(h.get("event", "")),
                at=str(h.get("at", "")),
                detail=_text(h.get("detail")),
            )
            for h in raw.get("hops") or ()
        )
        recipients = tuple(
            (str(r.get("organ_id", "")), str(r.get("state", "")))
            for r in raw.get("recipients") or ()
        )
        return cls(
            hub=hub,
            doc_id=str(raw.get("doc_id", "")),
            kind=str(raw.get("kind", "")),
            sender=str(raw.get("sender", "")),
            document_id=str(raw.get("document_id", "")),
            hops=hops,
            recipients=recipients,
            statuses=tuple(StatusRecord.from_json(s) for s in raw.get("statuses") or ()),
        )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


# --- the client --------------------------------------------------------------------------------


class Exchange:
    """Async access to a running topology's hubs and fleets, by service name."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.urls = dict(urls)
        self._client = client or async_client(timeout=timeout)
        self._owns_client = client is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (when this object made the client)."""
        if self._owns_client:
            await self._client.aclose()

    def url(self, service: str) -> str:
        """The base URL of a service; ``unknown_service`` if ``services.json`` lacks it."""
        try:
            return self.urls[service].rstrip("/")
        except KeyError:
            raise ServiceError(
                "unknown_service", f"no service {service!r} in services.json"
            ) from None

    # --- both -----------------------------------------------------------------------------

    async def health(self, service: str) -> dict[str, Any]:
        """`GET /health` of a hub or fleet."""
        return _object(await self._request(service, "GET", "/health"))

    # --- fleets ---------------------------------------------------------------------------

    async def send(self, fleet: str, request: SendRequest) -> SendResult:
        """`POST /fleet/send`: draft, sign and submit one document; refusals are results."""
        response = await self._request(
            fleet, "POST", "/fleet/send", json=request.as_json(), accept_errors=True
        )
        try:
            raw = response.json()
        except ValueError:
            raise ServiceError(
                "bad_answer",
                f"{fleet} answered /fleet/send with HTTP {response.status_code} and no JSON",
                status=response.status_code,
            ) from None
        if not isinstance(raw, Mapping):
            raise ServiceError("bad_answer", f"{fleet}: /fleet/send did not answer an object")
        if response.status_code >= 400 and "document_id" not in raw:
            # The fleet itself refused the request (unknown sender, bad body): not a hub verdict.
            error = raw.get("error")
            if not isinstance(error, Mapping):
                error = {}
            raise ServiceError(
                str(error.get("code", "fleet_error")),
                str(error.get("message", f"{fleet} answered HTTP {response.status_code}")),
                status=response.status_code,
            )
        return SendResult.from_json(raw, http_status=response.status_code)

    async def sent(self, fleet: str, document_id: str) -> SentDocument | None:
        """`GET /fleet/sent/{document_id}`; None while the fleet does not know it."""
        response = await self._request(
            fleet, "GET", f"/fleet/sent/{_quote(document_id)}", allow_404=True
        )
        if response.status_code == 404:
            return None
        return SentDocument.from_json(_object(response))

    async def received(
        self, fleet: str, *, organ_id: str | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """`GET /fleet/received`: what a fleet's agencies (or one agency) received, newest first."""
        params: dict[str, str | int] = {"limit": limit}
        if organ_id:
            params["organ_id"] = organ_id
        raw = _object(await self._request(fleet, "GET", "/fleet/received", params=params))
        return [dict(item) for item in raw.get("items") or ()]

    async def fleet_stats(self, fleet: str) -> dict[str, Any]:
        """`GET /fleet/stats`."""
        return _object(await self._request(fleet, "GET", "/fleet/stats"))

    # --- hubs -----------------------------------------------------------------------------

    async def trace(self, hub: str, *, sender: str, document_id: str) -> Trace | None:
        """`GET /api/v1/trace`: what one hub knows of a document; None if it never saw it."""
        response = await self._request(
            hub,
            "GET",
            "/api/v1/trace",
            params={"sender": sender, "document_id": document_id},
            allow_404=True,
        )
        if response.status_code == 404:
            return None
        return Trace.from_json(hub, _object(response))

    async def hub_stats(self, hub: str) -> dict[str, Any]:
        """`GET /api/v1/stats`."""
        return _object(await self._request(hub, "GET", "/api/v1/stats"))

    async def outbox(
        self, hub: str, *, state: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """`GET /api/v1/outbox`: forwarding rows (all, or in one state), oldest first."""
        params: dict[str, str | int] = {"limit": limit}
        if state:
            params["state"] = state
        raw = (await self._request(hub, "GET", "/api/v1/outbox", params=params)).json()
        items = raw.get("items", []) if isinstance(raw, Mapping) else raw
        return [dict(item) for item in items or ()]

    async def token(self, hub: str, *, system_id: str, secret: str) -> str:
        """`POST /api/v1/token`: a bearer token for a DMS system."""
        raw = _object(
            await self._request(
                hub,
                "POST",
                "/api/v1/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": system_id,
                    "client_secret": secret,
                },
            )
        )
        return str(raw["access_token"])

    async def submit(self, hub: str, *, token: str, package: bytes) -> httpx.Response:
        """`POST /api/v1/packages` as a DMS system; the response as it came (any status)."""
        return await self._request(
            hub,
            "POST",
            "/api/v1/packages",
            content=package,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
            accept_errors=True,
        )

    async def package(self, hub: str, *, token: str, doc_id: str) -> bytes:
        """`GET /api/v1/packages/{doc_id}`: the exact stored bytes."""
        response = await self._request(
            hub,
            "GET",
            f"/api/v1/packages/{_quote(doc_id)}",
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.content

    # --- the one request path -------------------------------------------------------------

    async def _request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        allow_404: bool = False,
        accept_errors: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        url = self.url(service) + path
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise ServiceError(
                "timeout",
                f"{service} at {self.url(service)} did not answer {method} {path} in time",
            ) from None
        except httpx.TransportError as exc:
            raise ServiceError(
                "unreachable", f"{service} at {self.url(service)} is not answering ({exc})"
            ) from None
        if response.status_code == 404 and allow_404:
            return response
        if response.status_code >= 400 and not accept_errors:
            code, message = _error_of(response)
            raise ServiceError(
                code, f"{service}: {method} {path}: {message}", status=response.status_code
            )
        return response


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        raw = response.json()
    except ValueError:
        return f"http_{response.status_code}", response.text[:200] or response.reason_phrase
    error = raw.get("error") if isinstance(raw, Mapping) else None
    if isinstance(error, Mapping):
        return str(error.get("code", f"http_{response.status_code}")), str(error.get("message", ""))
    return f"http_{response.status_code}", str(raw)[:200]


def _object(response: httpx.Response) -> dict[str, Any]:
    try:
        raw = response.json()
    except ValueError:
        raise ServiceError(
            "bad_answer", f"{response.request.url} answered no JSON", status=response.status_code
        ) from None
    if not isinstance(raw, dict):
        raise ServiceError("bad_answer", f"{response.request.url} did not answer a JSON object")
    return raw


def _quote(segment: str) -> str:
    # DocumentIds carry slashes ("000.00.00.H56,2025/01/02,1234/UBND-VP"): one path segment.
    from urllib.parse import quote

    return quote(segment, safe="")
