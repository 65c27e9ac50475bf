"""What each SDK call does, on the same service functions as the native API.

``sendEdoc`` goes through :func:`lgsp.intake.accept_from_system` (same checks, de-duplication
and storage); ``getEdoc`` through :func:`lgsp.delivery.fetch_package`; ``updateStatus`` done /
fail through :func:`lgsp.delivery.acknowledge`. Each function returns the call's answer
fields (without ``status`` / ``ErrorCode`` / ``ErrorDesc``) or raises :class:`SdkError`.

The SDK pulls per system, not per agency: ``getReceivedEdocList`` lists each waiting package
once with ``to`` = the caller's agencies it waits for, and ``updateStatus`` closes the
package for all of them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func
from sqlmodel import col, select

import edoc
from lgsp.api.state import Hub
from lgsp.delivery import AckState, InboxError, acknowledge, fetch_package
from lgsp.intake import IntakeError, StatusLink, accept_from_system
from lgsp.store import (
    InboxItem,
    InboxState,
    OutboxItem,
    OutboxState,
    PackageKind,
    StoredPackage,
    get_package,
    list_inbox,
    mark_fetched,
    package_meta,
)
from sim.topology import Topology

from . import protocol
from .errors import ErrorCode, SdkError, from_inbox, from_intake
from .guard import Caller
from .hosting import Hosting
from .models import RegisteredAgency

LIST_LIMIT: Final = 500  # packages listed per getReceivedEdocList (oldest first)
UPDATE_STATES: Final = ("processing", "done", "fail")
_KINDS: Final = {"edoc": PackageKind.DOCUMENT, "status": PackageKind.STATUS}
_WAITING: Final = (InboxState.PENDING, InboxState.FETCHED)
_LIST_STATUS: Final = {
    InboxState.PENDING: ("initial", "Văn bản mới, chưa lấy về"),
    InboxState.FETCHED: ("processing", "Đã lấy về, chưa xác nhận"),
}


def iso(moment: datetime | None) -> str:
    """A time as the SDK answers show it: ISO 8601 UTC to the second, "" when unknown."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def message_type(value: str) -> PackageKind:
    """The package kind a ``messagetype`` parameter names (``edoc`` or ``status``)."""
    kind = _KINDS.get(value.strip().lower())
    if kind is None:
        raise SdkError(
            ErrorCode.BAD_PARAMETER,
            "bad_parameter",
            f"messagetype must be edoc or status, not {value!r}",
        )
    return kind


def check_service_type(value: str) -> None:
    """``servicetype`` must be eDoc (the only service of the document axis)."""
    if value.strip().lower() != protocol.SERVICE_TYPE.lower():
        raise SdkError(
            ErrorCode.BAD_PARAMETER,
            "bad_parameter",
            f"servicetype must be {protocol.SERVICE_TYPE}, not {value!r}",
        )


# -- documents ----------------------------------------------------------------------------


async def send_edoc(*, hub: Hub, caller: Caller, body: bytes) -> dict[str, Any]:
    """``sendEdoc``: check the parameters against the body, then intake as the native API."""
    request = caller.request
    sender = request.require("from")
    check_service_type(request.require("servicetype"))
    kind = message_type(request.require("messagetype"))
    given_hash = request.require("hash-file")
    to_text = request.param("to")
    to = protocol.parse_to(to_text) if to_text and to_text.strip() else []
    size = len(body)
    if not protocol.hash_file_matches(body, given_hash):
        raise SdkError(
            ErrorCode.HASH_FILE_MISMATCH,
            "hash_file_mismatch",
            f"hash-file {given_hash!r} is not the SHA-256 of the {size}-byte body "
            "(Java hex: each byte without a leading zero)",
            sender=sender,
            size=size,
        )
    if not caller.system.hosts(sender):
        raise SdkError(
            ErrorCode.NOT_HOSTED,
            "organ_not_hosted",
            f"system {caller.system_id!r} does not host agency {sender!r} (from)",
            sender=sender,
            size=size,
        )
    facts = protocol.peek_header(body)
    if facts is not None:
        _check_against(facts, sender=sender, kind=kind, to=to, size=size)
    try:
        receipt = await accept_from_system(ctx=hub.intake, system=caller.system, body=body)
    except IntakeError as exc:
        raise from_intake(exc) from None
    return {"DocId": receipt.doc_id}


def _check_against(
    facts: protocol.HeaderFacts, *, sender: str, kind: PackageKind, to: Sequence[str], size: int
) -> None:
    if facts.sender and facts.sender != sender:
        raise SdkError(
            ErrorCode.FROM_MISMATCH,
            "from_mismatch",
            f"from is {sender!r} but the package's From/OrganId is {facts.sender!r}",
            sender=sender,
            size=size,
        )
    expected = "status" if kind is PackageKind.STATUS else "edoc"
    if facts.kind != expected:
        raise SdkError(
            ErrorCode.MESSAGETYPE_MISMATCH,
            "messagetype_mismatch",
            f"messagetype is {expected} but the body is a "
            f"{'status' if facts.kind == 'status' else 'document'} package",
            sender=sender,
            size=size,
        )
    strangers = [organ for organ in to if organ not in facts.recipients]
    if strangers:
        raise SdkError(
            ErrorCode.TO_MISMATCH,
            "to_mismatch",
            f"to names {', '.join(strangers)}, which the package does not address",
            sender=sender,
            size=size,
        )


async def received_list(*, hub: Hub, caller: Caller) -> dict[str, Any]:
    """``getReceivedEdocList``: the packages waiting for the caller's agencies, oldest first."""
    request = caller.request
    check_service_type(request.require("servicetype"))
    kind = message_type(request.require("messagetype"))
    agencies = sorted(caller.system.agencies)
    async with hub.db.session(readonly=True) as session:
        entries = await list_inbox(session, recipients=agencies, kind=kind, limit=LIST_LIMIT)
    grouped: dict[str, dict[str, Any]] = {}
    for entry in entries:
        package, item = entry.package, entry.item
        row = grouped.get(package.id)
        if row is None:
            row = grouped[package.id] = {
                "docId": package.id,
                "serviceType": protocol.SERVICE_TYPE,
                "messageType": "status" if package.kind is PackageKind.STATUS else "edoc",
                "created_time": iso(package.received_at),
                "updated_time": package.received_at,
                "from": package.sender,
                "to": [],
                "state": InboxState.PENDING,
            }
        row["to"].append(item.recipient)
        touched = item.fetched_at or item.created_at
        if touched is not None and _later(touched, row["updated_time"]):
            row["updated_time"] = touched
        if item.state is InboxState.FETCHED:
            row["state"] = InboxState.FETCHED
    data = []
    for row in grouped.values():
        state = row.pop("state")
        status, desc = _LIST_STATUS.get(state, ("initial", ""))
        row["to"] = json.dumps(row["to"])
        row["updated_time"] = iso(row["updated_time"])
        data.append({**row, "status": status, "status_desc": desc})
    return {"data": data}


def _later(a: datetime, b: datetime) -> bool:
    def aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    return aware(a) > aware(b)


async def count_received(*, hub: Hub, caller: Caller, kind: PackageKind) -> dict[str, Any]:
    """``countReceiveEdoc`` / ``countReceiveStatus``: how many packages wait (as listed)."""
    servicetype = caller.request.param("servicetype")
    if servicetype:
        check_service_type(servicetype)
    agencies = sorted(caller.system.agencies)
    if not agencies:
        return {"count": 0}
    statement = (
        select(func.count(func.distinct(InboxItem.package_id)))
        .join(StoredPackage, col(StoredPackage.id) == col(InboxItem.package_id))
        .where(
            col(InboxItem.recipient).in_(agencies),
            col(InboxItem.state).in_(_WAITING),
            StoredPackage.kind == kind,
        )
    )
    async with hub.db.session(readonly=True) as session:
        count = (await session.exec(statement)).one()
    return {"count": int(count)}


async def get_edoc(*, hub: Hub, caller: Caller) -> dict[str, Any]:
    """``getEdoc``: the exact stored edXML, base64 (its pending items become fetched)."""
    doc_id = caller.request.require("docId")
    try:
        package = await fetch_package(
            hub.writes,
            hub_id=hub.hub_id,
            system=caller.system,
            package_id=doc_id,
            now=hub.clock.now(),
        )
    except InboxError as exc:
        raise from_inbox(exc) from None
    return {"data": base64.b64encode(package.body).decode("ascii")}


async def update_status(*, hub: Hub, caller: Caller) -> dict[str, Any]:
    """``updateStatus``: processing marks the package taken; done / fail confirm it."""
    request = caller.request
    doc_id = request.require("docId")
    status = request.require("status").lower()
    if status not in UPDATE_STATES:
        raise SdkError(
            ErrorCode.BAD_PARAMETER,
            "bad_parameter",
            f"status must be one of {', '.join(UPDATE_STATES)}, not {status!r}",
        )
    system = caller.system
    async with hub.db.session(readonly=True) as session:
        items = list(
            await session.exec(
                select(InboxItem.recipient, InboxItem.state).where(InboxItem.package_id == doc_id)
            )
        )
        mine = [(recipient, state) for recipient, state in items if system.hosts(recipient)]
        if not mine:
            exists = await package_meta(session, package_id=doc_id) is not None
    if not mine:
        if not exists:
            raise SdkError(
                ErrorCode.UNKNOWN_DOC, "unknown_doc", f"no package {doc_id!r} at {hub.hub_id}"
            )
        raise SdkError(
            ErrorCode.NOT_ALLOWED,
            "not_allowed",
            f"package {doc_id!r} is not addressed to an agency of {system.system_id!r}",
        )
    now = hub.clock.now()
    if status == "processing":
        pending = [recipient for recipient, state in mine if state is InboxState.PENDING]
        if pending:
            async with hub.writes() as session:
                for recipient in pending:
                    await mark_fetched(
                        session, hub_id=hub.hub_id, package_id=doc_id, recipient=recipient, now=now
                    )
                await session.commit()
        return {}
    state = AckState.DONE if status == "done" else AckState.FAILED
    for recipient, _ in mine:
        try:
            await acknowledge(
                hub.writes,
                hub_id=hub.hub_id,
                system=system,
                package_id=doc_id,
                organ_id=recipient,
                state=state,
                reason=None,
                now=now,
                events=hub.events,
            )
        except InboxError as exc:
            raise from_inbox(exc) from None
    return {}


async def sent_list(*, hub: Hub, caller: Caller) -> dict[str, Any]:
    """``getSentEdocList``: one row per recipient of a package the caller's agency sent."""
    doc_id = caller.request.require("docId")
    async with hub.db.session(readonly=True) as session:
        package = await get_package(session, doc_id)
        if package is None:
            raise SdkError(
                ErrorCode.UNKNOWN_DOC, "unknown_doc", f"no package {doc_id!r} at {hub.hub_id}"
            )
        if not caller.system.hosts(package.sender):
            raise SdkError(
                ErrorCode.NOT_ALLOWED,
                "not_allowed",
                f"package {doc_id!r} was not sent by an agency of {caller.system_id!r}",
            )
        local = list(await session.exec(select(InboxItem).where(InboxItem.package_id == doc_id)))
        forwarded = list(
            await session.exec(select(OutboxItem).where(OutboxItem.package_id == doc_id))
        )
        links: list[StatusLink] = []
        if package.kind is PackageKind.DOCUMENT and package.document_id:
            links = list(
                await session.exec(
                    select(StatusLink).where(
                        StatusLink.document_sender == package.sender,
                        StatusLink.document_id == package.document_id,
                    )
                )
            )
    latest: dict[str, StatusLink] = {}
    first: dict[str, StatusLink] = {}
    for link in sorted(links, key=lambda s: (_utc(s.at), s.status_code)):
        latest[link.status_from] = link
        first.setdefault(link.status_from, link)
    common = {
        "serviceType": protocol.SERVICE_TYPE,
        "messageType": "status" if package.kind is PackageKind.STATUS else "edoc",
        "senderDocId": package.id,
        "fromCode": package.sender,
        "title": package.subject or "",
        "notation": _notation(package),
        "sentTime": iso(package.received_at),
    }
    rows: list[dict[str, Any]] = []
    for item in local:
        status, desc = _LOCAL_SEND.get(item.state, ("sent", ""))
        arrived = first.get(item.recipient)
        rows.append(
            {
                **common,
                "receiverDocId": package.id,
                "toCode": item.recipient,
                "receivedTime": iso(
                    item.fetched_at or item.confirmed_at or (arrived.at if arrived else None)
                ),
                "sendStatus": status,
                "sendStatusDesc": desc,
                **_receive(latest.get(item.recipient)),
            }
        )
    for row in forwarded:
        status, desc = _forward_status(row)
        for recipient in row.recipients:
            arrived = first.get(recipient)
            rows.append(
                {
                    **common,
                    "receiverDocId": "",
                    "toCode": recipient,
                    "receivedTime": iso(arrived.at if arrived else None),
                    "sendStatus": status,
                    "sendStatusDesc": desc,
                    **_receive(latest.get(recipient)),
                }
            )
    return {"data": rows}


_LOCAL_SEND: Final = {
    InboxState.PENDING: ("sent", "Đã chuyển vào hộp thư của đơn vị nhận"),
    InboxState.FETCHED: ("received", "Đơn vị nhận đã lấy văn bản về"),
    InboxState.DONE: ("done", "Đơn vị nhận đã xác nhận nhận văn bản"),
    InboxState.FAILED: ("fail", "Đơn vị nhận báo lỗi khi nhận văn bản"),
}


def _forward_status(row: OutboxItem) -> tuple[str, str]:
    if row.state is OutboxState.SENT:
        return "sent", f"Đã chuyển tiếp đến {row.destination}"
    if row.state is OutboxState.DEAD:
        return "fail", f"Không chuyển tiếp được đến {row.destination}: {row.last_error or ''}"
    return "pending", f"Đang chờ chuyển tiếp đến {row.destination}"


def _receive(link: StatusLink | None) -> dict[str, str]:
    if link is None:
        return {"receiveStatus": "", "receiveStatusDesc": ""}
    try:
        meaning = edoc.StatusCode(link.status_code).meaning_vi
    except ValueError:
        meaning = ""
    return {"receiveStatus": link.status_code, "receiveStatusDesc": meaning}


def _notation(package: StoredPackage) -> str:
    if package.kind is not PackageKind.DOCUMENT:
        return ""
    try:
        parsed = edoc.parse(package.body)
    except edoc.EdocError:
        return ""
    code = parsed.header.code if isinstance(parsed, edoc.DocumentPackage) else None
    return str(code) if code is not None else ""


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- agencies -----------------------------------------------------------------------------


def _units(topology: Topology, registered: dict[str, RegisteredAgency]) -> list[dict[str, Any]]:
    """Every agency of the directory: the topology's, then the ones registered here."""
    units: list[dict[str, Any]] = []
    for agency in topology.iter_agencies():
        row = registered.get(agency.organ_id)
        units.append(
            {
                "code": agency.organ_id,
                "pid": agency.parent or "",
                "name": agency.name,
                "mail": row.mail if row is not None and not row.deleted else "",
                "hub": agency.hub_id,
                "row": None,
            }
        )
    for code, row in registered.items():
        if code not in topology:
            units.append(
                {
                    "code": code,
                    "pid": row.pcode,
                    "name": row.name,
                    "mail": row.mail,
                    "hub": row.hub_id,
                    "row": row,
                }
            )
    return units


def agencies_list(topology: Topology, registered: dict[str, RegisteredAgency]) -> list[Any]:
    """``getAgenciesList`` rows (deleted registrations left out)."""
    return [
        {
            "id": unit["code"],
            "code": unit["code"],
            "pid": unit["pid"],
            "name": unit["name"],
            "mail": unit["mail"],
            "oldCode": "",
        }
        for unit in _units(topology, registered)
        if unit["row"] is None or not unit["row"].deleted
    ]


def agencies_qd20(
    topology: Topology, registered: dict[str, RegisteredAgency], level: int
) -> list[Any]:
    """``getAgenciesListQD20`` rows of one level of the QĐ 20/2020 code (1 to 4)."""
    rows = []
    for unit in _units(topology, registered):
        if unit["row"] is not None and unit["row"].deleted:
            continue
        try:
            tier = edoc.parse_organ_id(unit["code"]).tier
        except edoc.EdocError:
            continue
        if tier == level:
            rows.append(
                {
                    "id": unit["code"],
                    "code": unit["code"],
                    "name": unit["name"],
                    "mail": unit["mail"],
                    "code102": unit["code"],
                }
            )
    return rows


def synchronize_units(
    topology: Topology, registered: dict[str, RegisteredAgency], *, since: datetime
) -> list[Any]:
    """``getSynchronizeUnit`` rows: every unit, deleted registrations included."""
    rows = []
    for unit in _units(topology, registered):
        row: RegisteredAgency | None = unit["row"]
        rows.append(
            {
                "id": unit["code"],
                "code": unit["code"],
                "pid": unit["pid"],
                "name": unit["name"],
                "mail": unit["mail"],
                "version": row.version if row is not None else 1,
                "centerCode": unit["hub"],
                "deleted": bool(row.deleted) if row is not None else False,
                "modifyDate": iso(row.updated_at if row is not None else since),
                "isAgency": True,
            }
        )
    return rows


def parse_level(text: str) -> int:
    """The ``level`` parameter of getAgenciesListQD20: 1 to 4."""
    if text.strip() not in ("1", "2", "3", "4"):
        raise SdkError(
            ErrorCode.BAD_PARAMETER, "bad_parameter", f"level must be 1, 2, 3 or 4, not {text!r}"
        )
    return int(text)


_AGENCY_FIELDS: Final = ("pcode", "name", "mail", "mobile", "fax")


async def register_agency(
    *, hub: Hub, hosting: Hosting, caller: Caller, body: bytes
) -> dict[str, Any]:
    """``registerAgency``: the caller hosts the agency from now on; the hub routes to it."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SdkError(ErrorCode.BAD_BODY, "bad_json", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SdkError(
            ErrorCode.BAD_BODY,
            "bad_json",
            "the body must be a JSON object {id, pcode, code, name, mail, mobile, fax}",
        )
    code = str(data.get("code") or "").strip()
    try:
        canonical = str(edoc.parse_organ_id(code))
    except edoc.EdocError as exc:
        raise SdkError(ErrorCode.BAD_AGENCY, "bad_agency", exc.message) from None
    if canonical != code:
        raise SdkError(
            ErrorCode.BAD_AGENCY, "bad_agency", f"code {code!r} should be written {canonical!r}"
        )
    fields = {name: _text(data.get(name)) for name in _AGENCY_FIELDS}
    if not fields["name"]:
        raise SdkError(ErrorCode.BAD_AGENCY, "bad_agency", "name is required")
    topology = hub.directory.topology
    home = topology.home_hub(code)
    if home != hub.hub_id:
        where = f"it belongs to {home}: register it there" if home else "its code names no hub"
        raise SdkError(
            ErrorCode.AGENCY_WRONG_HUB,
            "agency_wrong_hub",
            f"agency {code} cannot be registered at {hub.hub_id}: {where}",
        )
    await hosting.register(
        system_id=caller.system_id, code=code, fields=fields, now=hub.clock.now()
    )
    return {}


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()[:500]


async def delete_agency(*, hub: Hub, hosting: Hosting, caller: Caller) -> dict[str, Any]:
    """``deleteAgency``: the caller stops hosting an agency it registered."""
    code = caller.request.require("AgencyCode")
    await hosting.unregister(system_id=caller.system_id, code=code, now=hub.clock.now())
    return {}
