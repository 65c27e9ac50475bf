"""`HubClient` over the VXP protocol of the national SDK (shared/reference/vxp-protocol.md).

Each call sends its parameters as signed headers ``XroadVnpt-<name>``: the names joined by
``;`` in ``XroadVnpt-sign-header-key``, the ``XroadVnpt-<name>`` → value pairs as the JSON
``XroadVnpt-sign-header``, and its HMAC-SHA256 under the system's secret (lowercase hex) in
``XroadVnpt-hash-header``. Unlike the SDK, which reuses one timestamp per service object, a
fresh timestamp goes with every call, so a hub in strict mode accepts this client too.

One `httpx.AsyncClient` carries every call, through `SdkHubClient._call`. Answers are HTTP 200
with ``status`` OK or FAIL; a FAIL becomes a `HubError` whose code is the precise reason at
the front of ``ErrorDesc`` (``signature_invalid: ...``) and whose HTTP status is what the
native API would have answered, so callers see the same errors whatever the protocol.

The SDK pulls per system: ``updateStatus`` has no recipient and closes a package for every
agency of the system. ``ack`` therefore sends it once every recipient listed for the package
has been acknowledged (``fail`` if any of them failed).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from typing import Any, Final

import httpx
from lxml import etree

from .base import AckState, HubError, InboxItem, PackageKind, Receipt
from .native import UrlSource

PREFIX: Final = "XroadVnpt-"
SDK_VERSION: Final = "3.0.201608"
USER_AGENT: Final = "JAVASDKAgent/1.0.0 XRoad/VPCP"
VIETNAM: Final = timezone(timedelta(hours=7))
_NS: Final = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"
_MESSAGE_TYPES: Final[dict[str, str]] = {"document": "edoc", "status": "status"}
# What the native API answers for each ErrorCode family (docs/sdk-errors.md).
_HTTP_OF: Final[dict[str, int]] = {
    "1": 401,
    "205": 413,
    "302": 403,
    "303": 422,
    "304": 422,
    "305": 422,
    "306": 422,
    "401": 404,
    "402": 403,
    "503": 409,
    "504": 404,
    "505": 409,
    "9": 500,
}


def java_hex(data: bytes) -> str:
    """The ``hash-file`` of a body: SHA-256, each byte as ``Integer.toHexString`` writes it."""
    return "".join(f"{byte:x}" for byte in hashlib.sha256(data).digest())


def sdk_timestamp(moment: datetime) -> str:
    """``ddMMyyyy'T'HHmmss+SSSS`` in Vietnam local time (the last part is milliseconds)."""
    local = moment.astimezone(VIETNAM)
    return local.strftime("%d%m%YT%H%M%S") + f"+{local.microsecond // 1000:04d}"


def signed_headers(
    system_id: str, secret: str, params: Mapping[str, str], *, content_type: str, at: datetime
) -> list[tuple[str, str]]:
    """Every header of a call: the parameters, their signature, version and user agent."""
    values = {"systemid": system_id, **params, "timestamp": sdk_timestamp(at)}
    values["Content-Type"] = content_type
    sign_header = json.dumps(
        {PREFIX + name: value for name, value in values.items()},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest = hmac.new(secret.encode(), sign_header.encode(), hashlib.sha256).hexdigest()
    return [
        ("Content-Type", content_type),
        *((PREFIX + name, value) for name, value in values.items()),
        (PREFIX + "sign-header-key", ";".join(values)),
        (PREFIX + "sign-header", sign_header),
        (PREFIX + "hash-header", digest),
        (PREFIX + "version", SDK_VERSION),
        ("User-Agent", USER_AGENT),
    ]


def _facts(package: bytes) -> tuple[str, str, tuple[str, ...], str | None]:
    """Kind (document or status), sender, recipients and DocumentId from the edXML header."""
    try:
        for _, header in etree.iterparse(
            BytesIO(package),
            events=("end",),
            tag=f"{_NS}MessageHeader",
            resolve_entities=False,
            no_network=True,
        ):
            sender = (header.findtext(f"{_NS}From/{_NS}OrganId") or "").strip()
            if header.find(f"{_NS}StatusCode") is not None:
                answered = (header.findtext(f"{_NS}ResponseFor/{_NS}OrganId") or "").strip()
                return "status", sender, (answered,) if answered else (), None
            to = (o.text or "" for o in header.iterfind(f"{_NS}To/{_NS}OrganId"))
            recipients = tuple(dict.fromkeys(r.strip() for r in to if r.strip()))
            document_id = (header.findtext(f"{_NS}DocumentId") or "").strip() or None
            return "document", sender, recipients, document_id
    except etree.LxmlError:
        pass
    # Unreadable here: let the hub refuse it with its own reason.
    return "document", "", (), None


class SdkHubClient:
    """The VXP client of one DMS system (``system_id``) on one hub."""

    def __init__(
        self,
        *,
        system_id: str,
        secret: str,
        base_url: UrlSource,
        timeout: float = 30.0,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.system_id = system_id
        self._secret = secret
        self._base_url = base_url
        self._now = now or (lambda: datetime.now(UTC))
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)
        self._waiting: dict[str, set[str]] = {}  # docId → recipients not acknowledged yet
        self._failed: set[str] = set()

    # -- the HubClient calls --------------------------------------------------------------------

    async def submit(self, package: bytes) -> Receipt:
        """``sendEdoc`` (messagetype from the package); a retry gets the first DocId."""
        kind, sender, recipients, document_id = _facts(package)
        params = {
            "from": sender,
            "servicetype": "eDoc",
            "messagetype": _MESSAGE_TYPES[kind],
            "hash-file": java_hex(package),
        }
        if kind == "document" and recipients:
            params["to"] = json.dumps(list(recipients))
        answer = await self._call(
            "POST", "/sendEdoc", params, body=package, content_type="application/octet-stream"
        )
        return Receipt(
            doc_id=str(answer.get("DocId") or ""),
            kind=kind,
            document_id=document_id,
            sender=sender or None,
            recipients=recipients,
        )

    async def inbox(
        self, organ_id: str | None = None, kind: PackageKind | None = None
    ) -> list[InboxItem]:
        """``getReceivedEdocList`` for each kind asked: one item per waiting recipient."""
        kinds: list[PackageKind] = [kind] if kind is not None else ["document", "status"]
        answers = await asyncio.gather(*(self._list(k) for k in kinds))
        items: list[InboxItem] = []
        waiting: dict[str, set[str]] = {}
        for listed_kind, data in zip(kinds, answers, strict=True):
            for entry in data:
                try:
                    doc_id = str(entry["docId"])
                    recipients = json.loads(entry.get("to") or "[]")
                    if not isinstance(recipients, list):
                        raise TypeError("to is not a JSON array")
                except (KeyError, TypeError, ValueError) as exc:
                    raise HubError(
                        "hub_protocol", f"unreadable getReceivedEdocList entry: {exc!r}", 502
                    ) from None
                waiting[doc_id] = {str(r) for r in recipients}
                for recipient in waiting[doc_id]:
                    if organ_id is not None and recipient != organ_id:
                        continue
                    items.append(
                        InboxItem(
                            doc_id=doc_id,
                            kind=listed_kind,
                            recipient=recipient,
                            sender=_opt(entry.get("from")),
                            received_at=_opt(entry.get("created_time")),
                            state=_opt(entry.get("status")),
                        )
                    )
        if kind is None and organ_id is None:
            self._waiting = waiting  # a full listing: forget packages no longer waiting
        else:
            self._waiting.update(waiting)
        return items

    async def fetch(self, doc_id: str) -> bytes:
        """``getEdoc``: the stored bytes, exactly as signed."""
        answer = await self._call("POST", "/getEdoc", {"docId": doc_id})
        try:
            return base64.b64decode(str(answer.get("data") or ""), validate=True)
        except ValueError:
            raise HubError(
                "hub_protocol", "getEdoc answered data that is not base64", 502
            ) from None

    async def ack(
        self, doc_id: str, organ_id: str, state: AckState, reason: str | None = None
    ) -> None:
        """``updateStatus`` done (or fail) once every listed recipient of the package is acked."""
        waiting = self._waiting.get(doc_id)
        if state == "failed":
            self._failed.add(doc_id)
        if waiting is not None:
            waiting.discard(organ_id)
            if waiting:
                return  # updateStatus would close it for the recipients still being handled
            del self._waiting[doc_id]
        failed = doc_id in self._failed
        self._failed.discard(doc_id)
        await self._call(
            "POST", "/updateStatus", {"docId": doc_id, "status": "fail" if failed else "done"}
        )

    async def close(self) -> None:
        """Close the shared HTTP client."""
        await self._http.aclose()

    # -- the one request path -------------------------------------------------------------------

    async def _list(self, kind: PackageKind) -> list[Mapping[str, Any]]:
        answer = await self._call(
            "POST",
            "/getReceivedEdocList",
            {"servicetype": "eDoc", "messagetype": _MESSAGE_TYPES[kind]},
        )
        data = answer.get("data")
        if not isinstance(data, list):
            raise HubError("hub_protocol", "getReceivedEdocList answered no data list", 502)
        return [entry for entry in data if isinstance(entry, Mapping)]

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        url = self._url(path)
        headers = signed_headers(
            self.system_id, self._secret, params, content_type=content_type, at=self._now()
        )
        try:
            response = await self._http.request(method, url, headers=headers, content=body)
        except httpx.TimeoutException as exc:
            raise HubError(
                "hub_timeout", f"{method} {url}: no answer in time ({exc!r})", 504
            ) from None
        except httpx.TransportError as exc:
            raise HubError("hub_unavailable", f"{method} {url}: {exc!r}", 503) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "status" not in answer:
            text = response.text.strip()[:300] or response.reason_phrase
            status = response.status_code if response.status_code >= 400 else 502
            raise HubError("hub_protocol", f"{method} {url}: HTTP {status}: {text}", status)
        if answer["status"] != "OK":
            raise _error_of(answer)
        return answer

    def _url(self, path: str) -> str:
        source = self._base_url
        base = source() if callable(source) else source
        if not base:
            raise HubError(
                "hub_unavailable", "the hub's address is not known yet (services.json)", 503
            )
        return base.rstrip("/") + path


def _error_of(answer: Mapping[str, Any]) -> HubError:
    """A FAIL answer as a `HubError`: the reason in front of ErrorDesc is the code."""
    error_code = str(answer.get("ErrorCode") or "")
    desc = str(answer.get("ErrorDesc") or "")
    reason, sep, message = desc.partition(": ")
    if not sep or not reason.replace("_", "").isalnum():
        reason, message = f"sdk_{error_code or 'error'}", desc
    status = _HTTP_OF.get(error_code) or _HTTP_OF.get(error_code[:1], 400)
    return HubError(reason, message or desc or f"ErrorCode {error_code}", status)


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
