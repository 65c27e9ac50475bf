"""A fake hub for the fleet tests: the native REST endpoints of docs/exchange.md, in memory.

Just enough of a hub: OAuth2 client credentials, submit (parse, hosted sender, envelope
verification when a trust store is given, de-duplication), inbox, fetch, ack. Routing is
local: every recipient is an inbox item here. Tests read and steer it directly (`calls`,
`submitted`, `acks`, `revoke_tokens`, `deliver`).
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response

import edoc
import keys
from simtime import WallClock


@dataclass
class Stored:
    doc_id: str
    kind: str
    data: bytes
    sender: str
    document_id: str | None
    recipients: list[str]
    receipt: dict[str, Any]
    status_code: str | None = None
    response_for: str | None = None
    subject: str | None = None


@dataclass
class Item:
    doc_id: str
    recipient: str
    state: str = "pending"
    reason: str | None = None


class HubRefusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The system a bearer token belongs to (module level: FastAPI resolves it by name)."""
    token = (authorization or "").removeprefix("Bearer ")
    system = request.app.state.hub.tokens.get(token)
    if system is None:
        raise HubRefusal(401, "invalid_token", "unknown or expired token")
    return str(system)


System = Annotated[str, Depends(_caller)]


@dataclass
class FakeHub:
    systems: dict[str, tuple[str, frozenset[str]]]  # system_id -> (secret, agencies)
    trust: keys.TrustStore | None = None  # verify envelopes when set
    packages: dict[str, Stored] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    acks: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    submitted: list[Stored] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _seen: dict[tuple[str, str], Stored] = field(default_factory=dict)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def statuses(self) -> list[Stored]:
        return [s for s in self.submitted if s.kind == "status"]

    def deliver(self, data: bytes, *, recipient: str, sender: str = "?") -> str:
        """Put bytes straight into an agency's inbox, unchecked (hostile or broken input)."""
        doc_id = f"doc-{next(self._ids)}"
        self.packages[doc_id] = Stored(doc_id, "document", data, sender, None, [recipient], {})
        self.items.append(Item(doc_id, recipient))
        return doc_id

    def accept(self, data: bytes, system_id: str) -> tuple[int, dict[str, Any]]:
        try:
            package = edoc.parse(data)
        except edoc.EdocError as exc:
            raise HubRefusal(400, exc.code, exc.message) from None
        sender = package.header.from_.organ_id
        if sender not in self.systems[system_id][1]:
            raise HubRefusal(403, "organ_not_hosted", f"{system_id} does not host {sender}")
        if self.trust is not None:
            try:
                keys.verify_envelope(data, self.trust, at=WallClock().now())
            except (keys.KeysError, edoc.EdocError) as exc:
                raise HubRefusal(422, exc.code, exc.message) from None
        if isinstance(package, edoc.DocumentPackage):
            kind, document_id = "document", package.header.document_id
            recipients = [o.organ_id for o in package.header.to]
            dedup = (sender, f"doc:{document_id}")
        else:
            kind, document_id = "status", package.header.response_for.document_id
            recipients = [package.header.response_for.organ_id or ""]
            dedup = (sender, f"status:{hashlib.sha256(data).hexdigest()}")
        first = self._seen.get(dedup)
        if first is not None:
            return 200, {**first.receipt, "duplicate": True}
        doc_id = f"doc-{next(self._ids)}"
        receipt = {
            "doc_id": doc_id,
            "kind": kind,
            "document_id": document_id,
            "sender": sender,
            "recipients": recipients,
            "duplicate": False,
            "received_at": WallClock().now().isoformat(),
        }
        stored = Stored(doc_id, kind, data, sender, document_id, recipients, receipt)
        if isinstance(package, edoc.StatusPackage):
            code = package.header.status_code
            stored.status_code = code.value if isinstance(code, edoc.StatusCode) else code
            stored.response_for = package.header.response_for.document_id
        else:
            stored.subject = package.header.subject
        self._seen[dedup] = stored
        self.packages[doc_id] = stored
        self.submitted.append(stored)
        self.items.extend(Item(doc_id, r) for r in recipients)
        return 201, receipt

    @cached_property
    def app(self) -> FastAPI:
        hub = self
        app = FastAPI()
        app.state.hub = hub

        @app.exception_handler(HubRefusal)
        async def refused(request: Request, exc: HubRefusal) -> JSONResponse:
            body = {"error": {"code": exc.code, "message": exc.message}}
            return JSONResponse(body, status_code=exc.status)

        @app.post("/api/v1/token")
        async def token(request: Request) -> dict[str, Any]:
            hub.calls["token"] += 1
            if request.headers.get("content-type", "").startswith("application/json"):
                body = await request.json()
            else:
                body = dict(await request.form())
            system = hub.systems.get(str(body.get("client_id")))
            if system is None or system[0] != body.get("client_secret"):
                raise HubRefusal(401, "invalid_client", "wrong client id or secret")
            value = secrets.token_hex(8)
            hub.tokens[value] = str(body["client_id"])
            return {"access_token": value, "token_type": "bearer", "expires_in": 3600}

        @app.post("/api/v1/packages")
        async def submit(request: Request, system: System) -> JSONResponse:
            hub.calls["submit"] += 1
            status, receipt = hub.accept(await request.body(), system)
            return JSONResponse(receipt, status_code=status)

        @app.get("/api/v1/inbox")
        async def inbox(
            system: System, organ_id: str | None = None, kind: str | None = None, limit: int = 500
        ) -> dict[str, Any]:
            hub.calls["inbox"] += 1
            mine = hub.systems[system][1]
            found = []
            for item in hub.items:
                stored = hub.packages.get(item.doc_id) or Stored(
                    item.doc_id, "document", b"", "?", None, [], {}
                )
                if item.state != "pending" or item.recipient not in mine:
                    continue
                if (organ_id and item.recipient != organ_id) or (kind and stored.kind != kind):
                    continue
                found.append(
                    {
                        "doc_id": item.doc_id,
                        "kind": stored.kind,
                        "sender": stored.sender,
                        "recipient": item.recipient,
                        "document_id": stored.document_id,
                        "subject": stored.subject,
                        "status_code": stored.status_code,
                        "response_for": stored.response_for,
                        "received_at": stored.receipt.get("received_at"),
                        "state": item.state,
                    }
                )
            return {"items": found[:limit]}

        @app.get("/api/v1/packages/{doc_id}")
        async def fetch(doc_id: str, system: System) -> Response:
            hub.calls["fetch"] += 1
            stored = hub.packages.get(doc_id)
            if stored is None:
                raise HubRefusal(404, "unknown_package", doc_id)
            return Response(stored.data, media_type="application/xml")

        @app.post("/api/v1/inbox/{doc_id}/ack")
        async def ack(doc_id: str, request: Request, system: System) -> dict[str, Any]:
            hub.calls["ack"] += 1
            body = await request.json()
            for item in hub.items:
                if item.doc_id == doc_id and item.recipient == body["organ_id"]:
                    item.state = body["state"]
                    item.reason = body.get("reason")
                    hub.acks.append((doc_id, item.recipient, item.state, item.reason))
                    return {"doc_id": doc_id, "organ_id": item.recipient, "state": item.state}
            raise HubRefusal(404, "unknown_item", f"no inbox item {doc_id} for {body['organ_id']}")

        return app
