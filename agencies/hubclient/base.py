"""What a fleet needs from its hub, whatever the wire protocol: the `HubClient` protocol.

The native REST API (`NativeHubClient`) is one implementation; an SDK-protocol client can be
another. Callers see plain dataclasses and one error type, `HubError`, never HTTP details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

PackageKind: TypeAlias = Literal["document", "status"]
AckState: TypeAlias = Literal["done", "failed"]


class HubError(Exception):
    """The hub refused a call or could not be reached: a stable ``code``, a ``message``, and
    the hub's ``http_status`` (503 when no answer came at all, 504 on a timeout)."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(code, message, http_status)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.code} (HTTP {self.http_status}): {self.message}"

    def as_dict(self) -> dict[str, str]:
        """The ``{"code", "message"}`` body of an error answer."""
        return {"code": self.code, "message": self.message}

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (no answer, timeout, 5xx, 429)."""
        return self.http_status >= 500 or self.http_status == 429


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """The hub's receipt for a submitted package (documents and statuses alike)."""

    doc_id: str
    kind: str
    document_id: str | None
    sender: str | None
    recipients: tuple[str, ...] = ()
    duplicate: bool = False
    received_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Receipt:
        """Read a receipt as the hub writes it; unknown fields are kept in ``extra``."""
        known = {"doc_id", "kind", "document_id", "sender", "recipients", "duplicate"}
        return cls(
            doc_id=str(data.get("doc_id", "")),
            kind=str(data.get("kind", "")),
            document_id=_opt_str(data.get("document_id")),
            sender=_opt_str(data.get("sender")),
            recipients=tuple(str(r) for r in data.get("recipients") or ()),
            duplicate=bool(data.get("duplicate", False)),
            received_at=_opt_str(data.get("received_at")),
            extra={k: v for k, v in data.items() if k not in known | {"received_at"}},
        )

    def as_dict(self) -> dict[str, Any]:
        """The receipt as JSON-ready data, in the hub's own shape."""
        return {
            **self.extra,
            "doc_id": self.doc_id,
            "kind": self.kind,
            "document_id": self.document_id,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "duplicate": self.duplicate,
            "received_at": self.received_at,
        }


@dataclass(frozen=True, kw_only=True)
class InboxItem:
    """One package waiting in the hub for one of the fleet's agencies (``recipient``)."""

    doc_id: str
    kind: str
    recipient: str
    sender: str | None = None
    document_id: str | None = None
    subject: str | None = None
    status_code: str | None = None
    response_for: str | None = None  # the DocumentId a status answers
    received_at: str | None = None
    state: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InboxItem:
        """Read an inbox item; ``response_for`` may be a DocumentId or a ResponseFor object."""
        response_for = data.get("response_for")
        if isinstance(response_for, Mapping):
            response_for = response_for.get("document_id")
        return cls(
            doc_id=str(data["doc_id"]),
            kind=str(data.get("kind", "document")),
            recipient=str(data["recipient"]),
            sender=_opt_str(data.get("sender")),
            document_id=_opt_str(data.get("document_id")),
            subject=_opt_str(data.get("subject")),
            status_code=_opt_str(data.get("status_code")),
            response_for=_opt_str(response_for),
            received_at=_opt_str(data.get("received_at")),
            state=_opt_str(data.get("state")),
        )


class HubClient(Protocol):
    """The calls a fleet makes on its hub, for all the agencies it hosts."""

    async def submit(self, package: bytes) -> Receipt:
        """Submit a signed document or status package; a duplicate gets the first receipt."""
        ...

    async def inbox(
        self, organ_id: str | None = None, kind: PackageKind | None = None
    ) -> list[InboxItem]:
        """What waits for the fleet's agencies (one agency with ``organ_id``; one kind)."""
        ...

    async def fetch(self, doc_id: str) -> bytes:
        """The exact bytes of a stored package."""
        ...

    async def ack(
        self, doc_id: str, organ_id: str, state: AckState, reason: str | None = None
    ) -> None:
        """Confirm (``done``) or refuse (``failed``) receipt of an inbox item for ``organ_id``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
