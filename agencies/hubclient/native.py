"""`HubClient` over a hub's native REST API (docs/exchange.md), with OAuth2 client credentials.

One `httpx.AsyncClient` carries every call of a fleet, and every call goes through
`NativeHubClient._request`: the one place where latency, errors and outages can be injected
later. The access token is fetched on first use, renewed shortly before it expires, and once
more when the hub answers 401 (a restarted hub forgets its tokens).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from .base import AckState, HubError, InboxItem, PackageKind, Receipt

UrlSource = str | Callable[[], str | None]
"""The hub's base URL, or a function giving it (None while the hub is not started yet)."""

_TOKEN_PATH = "/api/v1/token"  # noqa: S105 - a URL path, not a password


class NativeHubClient:
    """The native REST client of one DMS system (``system_id``) on one hub."""

    def __init__(
        self,
        *,
        system_id: str,
        secret: str,
        base_url: UrlSource,
        timeout: float = 30.0,
        inbox_limit: int | None = None,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.system_id = system_id
        self._secret = secret
        self._base_url = base_url
        self._inbox_limit = inbox_limit
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)
        self._token: str | None = None
        self._token_expires = 0.0  # time.monotonic() deadline
        self._token_lock = asyncio.Lock()

    # -- the HubClient calls --------------------------------------------------------------------

    async def submit(self, package: bytes) -> Receipt:
        """Submit a signed package (``POST /api/v1/packages``); 200 duplicates are receipts too."""
        response = await self._request(
            "POST",
            "/api/v1/packages",
            content=package,
            headers={"Content-Type": "application/xml"},
        )
        return Receipt.from_json(_json_object(response))

    async def inbox(
        self, organ_id: str | None = None, kind: PackageKind | None = None
    ) -> list[InboxItem]:
        """``GET /api/v1/inbox``: items waiting for the system's agencies."""
        params: dict[str, str | int] = {}
        if organ_id is not None:
            params["organ_id"] = organ_id
        if kind is not None:
            params["kind"] = kind
        if self._inbox_limit is not None:
            params["limit"] = self._inbox_limit
        response = await self._request("GET", "/api/v1/inbox", params=params)
        items = _json_object(response).get("items")
        if not isinstance(items, list):
            raise HubError("hub_protocol", "the inbox answer has no items list", 502)
        try:
            return [InboxItem.from_json(item) for item in items]
        except (KeyError, TypeError, AttributeError) as exc:
            raise HubError("hub_protocol", f"unreadable inbox item: {exc!r}", 502) from None

    async def fetch(self, doc_id: str) -> bytes:
        """``GET /api/v1/packages/{doc_id}``: the stored bytes, exactly as signed."""
        response = await self._request("GET", f"/api/v1/packages/{quote(doc_id, safe='')}")
        return response.content

    async def ack(
        self, doc_id: str, organ_id: str, state: AckState, reason: str | None = None
    ) -> None:
        """``POST /api/v1/inbox/{doc_id}/ack`` for one recipient agency."""
        body: dict[str, str] = {"organ_id": organ_id, "state": state}
        if reason is not None:
            body["reason"] = reason
        await self._request("POST", f"/api/v1/inbox/{quote(doc_id, safe='')}/ack", json=body)

    async def close(self) -> None:
        """Close the shared HTTP client."""
        await self._http.aclose()

    # -- the one request path -------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        for attempt in (1, 2):
            token = await self._access_token()
            response = await self._send(
                method,
                path,
                content=content,
                json=json,
                params=params,
                headers={**(headers or {}), "Authorization": f"Bearer {token}"},
            )
            if response.status_code == 401 and attempt == 1:
                # The hub may have restarted and forgotten our token: get a new one, once.
                self._forget_token(token)
                continue
            if response.is_success:
                return response
            raise error_of(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self._url(path)
        try:
            return await self._http.request(
                method, url, content=content, json=json, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise HubError(
                "hub_timeout", f"{method} {url}: no answer in time ({exc!r})", 504
            ) from None
        except httpx.TransportError as exc:
            raise HubError("hub_unavailable", f"{method} {url}: {exc!r}", 503) from None

    def _url(self, path: str) -> str:
        source = self._base_url
        base = source() if callable(source) else source
        if not base:
            raise HubError(
                "hub_unavailable", "the hub's address is not known yet (services.json)", 503
            )
        return base.rstrip("/") + path

    async def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        async with self._token_lock:
            # Another task may have fetched it while this one waited for the lock.
            if self._token is not None and time.monotonic() < self._token_expires:
                return self._token
            response = await self._send(
                "POST",
                _TOKEN_PATH,
                json={"client_id": self.system_id, "client_secret": self._secret},
            )
            if not response.is_success:
                raise error_of(response)
            data = _json_object(response)
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise HubError("hub_protocol", "the token answer has no access_token", 502)
            lifetime = float(data.get("expires_in") or 3600)
            # Renew a little early so a call never carries a token that expires on the way.
            self._token_expires = time.monotonic() + max(1.0, lifetime - min(60.0, lifetime / 10))
            self._token = token
            return token

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None
            self._token_expires = 0.0


def error_of(response: httpx.Response) -> HubError:
    """Turn a hub's error answer (``{"error": {"code", "message"}}``) into a `HubError`."""
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return HubError(error["code"], str(error.get("message") or error["code"]), status)
        if "detail" in data:  # FastAPI's own answers (a route that is missing, 422...)
            return HubError(_generic_code(status), str(data["detail"])[:500], status)
    text = response.text.strip()[:500] or response.reason_phrase
    return HubError(_generic_code(status), text, status)


def _generic_code(status: int) -> str:
    return {
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        413: "body_too_large",
        422: "invalid_request",
        429: "too_many_requests",
    }.get(status, "hub_error")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise HubError(
            "hub_protocol", f"the hub answered {response.status_code} without JSON", 502
        ) from None
    if not isinstance(data, dict):
        raise HubError("hub_protocol", "the hub answered with JSON that is no object", 502)
    return data
