"""A VXP client for tests, written from shared/reference/vxp-protocol.md alone.

It imports nothing of ``lgsp`` or ``agencies``: it is the outside DMS. Like the vendor SDK it
sends every parameter as a header ``XroadVnpt-<name>``, lists the names in
``XroadVnpt-sign-header-key``, signs the JSON of ``XroadVnpt-<name>`` → value pairs (built
from a hash map: here, in shuffled order) with HMAC-SHA256 under the UTF-8 secret, writes
``hash-file`` the Java way (``Integer.toHexString(b & 0xff)``: no leading zeros), and sets
its timestamp (``ddMMyyyy'T'HHmmss+SSSS``, local time, no zone) once, reusing it for every
call, so two identical calls are byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

PREFIX = "XroadVnpt-"
VERSION = "3.0.201608"
USER_AGENT = "JAVASDKAgent/1.0.0 XRoad/VPCP"
VIETNAM = timezone(timedelta(hours=7))  # the DMS's local time: the hub assumes UTC+7


def sdk_timestamp(moment: datetime | None = None) -> str:
    """``ddMMyyyy'T'HHmmss+SSSS`` in Vietnam local time; the last part is milliseconds."""
    local = (moment or datetime.now(VIETNAM)).astimezone(VIETNAM)
    return local.strftime("%d%m%YT%H%M%S") + f"+{local.microsecond // 1000:04d}"


def java_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as the SDK writes it: each byte's hex without a leading zero."""
    return "".join(format(byte & 0xFF, "x") for byte in hashlib.sha256(data).digest())


@dataclass(frozen=True)
class Prepared:
    """One request, ready to send (and to send again, byte for byte)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


class VxpClient:
    """One "service object" of the SDK: a system, its secret, one timestamp for every call."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        system_id: str,
        secret: str,
        base_url: str = "",
        timestamp: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.system_id = system_id
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.timestamp = timestamp or sdk_timestamp()
        self._random = random.Random(seed)

    # -- the wire ---------------------------------------------------------------------------

    def prepare(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        body: bytes = b"",
        content_type: str = "application/json",
        tamper: Mapping[str, str] | None = None,
    ) -> Prepared:
        """Headers and body of a call; ``tamper`` overrides headers after signing."""
        values: dict[str, str] = {"systemid": self.system_id, "timestamp": self.timestamp}
        values.update(params or {})
        values["Content-Type"] = content_type
        names = list(values)
        self._random.shuffle(names)  # a Java HashMap: any order at all
        signed = {PREFIX + name: values[name] for name in names}
        sign_header = json.dumps(signed, separators=(",", ":"), ensure_ascii=False)
        digest = hmac.new(
            self.secret.encode("utf-8"), sign_header.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        headers = [("Content-Type", content_type)]
        headers += [(PREFIX + name, values[name]) for name in names]
        headers += [
            (PREFIX + "sign-header-key", ";".join(names)),
            (PREFIX + "sign-header", sign_header),
            (PREFIX + "hash-header", digest),
            (PREFIX + "version", VERSION),
            ("User-Agent", USER_AGENT),
        ]
        if tamper:
            lowered = {k.lower(): (k, v) for k, v in tamper.items()}
            headers = [
                (name, lowered.pop(name.lower())[1]) if name.lower() in lowered else (name, value)
                for name, value in headers
            ]
            headers += list(lowered.values())
        return Prepared(method=method, path=path, headers=headers, body=body)

    async def send(self, prepared: Prepared) -> httpx.Response:
        """Send a prepared request as is."""
        return await self.client.request(
            prepared.method,
            self.base_url + prepared.path,
            headers=[(k.encode("utf-8"), v.encode("utf-8")) for k, v in prepared.headers],
            content=prepared.body if prepared.body else None,
        )

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        body: bytes = b"",
        content_type: str = "application/json",
        tamper: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Make a call; the answer's JSON (the SDK answers HTTP 200 whatever happens)."""
        prepared = self.prepare(
            method, path, params, body=body, content_type=content_type, tamper=tamper
        )
        response = await self.send(prepared)
        assert response.status_code == 200, (response.status_code, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    # -- the calls --------------------------------------------------------------------------

    def send_params(
        self,
        body: bytes,
        sender: str,
        *,
        messagetype: str = "edoc",
        to: Sequence[str] | None = None,
    ) -> dict[str, str]:
        """The parameters of a sendEdoc call."""
        params = {
            "from": sender,
            "servicetype": "eDoc",
            "messagetype": messagetype,
            "hash-file": java_hex(body),
        }
        if to is not None:
            params["to"] = json.dumps(list(to))
        return params

    async def send_edoc(
        self,
        body: bytes,
        sender: str,
        *,
        messagetype: str = "edoc",
        to: Sequence[str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``sendEdoc``: the raw edXML as application/octet-stream."""
        values = self.send_params(body, sender, messagetype=messagetype, to=to)
        values.update(params or {})
        return await self.call(
            "POST", "/sendEdoc", values, body=body, content_type="application/octet-stream"
        )

    async def received(self, messagetype: str = "edoc") -> dict[str, Any]:
        """``getReceivedEdocList``."""
        return await self.call(
            "POST", "/getReceivedEdocList", {"servicetype": "eDoc", "messagetype": messagetype}
        )

    async def get_edoc(self, doc_id: str) -> dict[str, Any]:
        """``getEdoc`` (``filePath`` is the SDK's own: where it writes the file)."""
        return await self.call("POST", "/getEdoc", {"docId": doc_id, "filePath": "xml"})

    async def fetch(self, doc_id: str) -> bytes:
        """``getEdoc``, decoded."""
        answer = await self.get_edoc(doc_id)
        assert answer["status"] == "OK", answer
        return base64.b64decode(answer["data"])

    async def update_status(self, doc_id: str, status: str) -> dict[str, Any]:
        """``updateStatus``."""
        return await self.call("POST", "/updateStatus", {"docId": doc_id, "status": status})

    async def sent(self, doc_id: str) -> dict[str, Any]:
        """``getSentEdocList``."""
        return await self.call(
            "POST",
            "/getSentEdocList",
            {"servicetype": "eDoc", "messagetype": "edoc", "docId": doc_id},
        )

    async def count(self, what: str = "Edoc") -> dict[str, Any]:
        """``countReceiveEdoc`` or ``countReceiveStatus`` (GET)."""
        messagetype = "edoc" if what == "Edoc" else "status"
        return await self.call(
            "GET", f"/countReceive{what}", {"servicetype": "eDoc", "messagetype": messagetype}
        )

    async def agencies(self) -> dict[str, Any]:
        """``getAgenciesList``."""
        return await self.call("POST", "/getAgenciesList")

    async def agencies_qd20(self, level: str) -> dict[str, Any]:
        """``getAgenciesListQD20``."""
        return await self.call("POST", "/getAgenciesListQD20", {"level": level})

    async def synchronize(self) -> dict[str, Any]:
        """``getSynchronizeUnit``."""
        return await self.call("POST", "/getSynchronizeUnit")

    async def register(self, agency: Mapping[str, str]) -> dict[str, Any]:
        """``registerAgency``: the agency as a JSON body."""
        body = json.dumps(dict(agency), ensure_ascii=False).encode("utf-8")
        return await self.call("POST", "/registerAgency", body=body)

    async def delete(self, code: str) -> dict[str, Any]:
        """``deleteAgency``."""
        return await self.call("POST", "/deleteAgency", {"AgencyCode": code})
