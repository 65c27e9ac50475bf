"""``POST /api/v1/token``: OAuth2 client credentials for DMS systems."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from pydantic import BaseModel

from lgsp.api.deps import HubDep
from lgsp.api.errors import ApiError
from lgsp.auth import AuthError

router = APIRouter(prefix="/api/v1", tags=["auth"])

_MAX_TOKEN_REQUEST: Final = 16 * 1024
_REQUEST_SCHEMA: Final = {
    "type": "object",
    "required": ["client_id", "client_secret"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {"type": "string", "description": "the system id (systems.json)"},
        "client_secret": {"type": "string"},
    },
}


class TokenOut(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105  # the OAuth2 token type, not a secret
    expires_in: int


@router.post(
    "/token",
    response_model=TokenOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _REQUEST_SCHEMA},
                "application/json": {"schema": _REQUEST_SCHEMA},
            },
        }
    },
)
async def issue_token(request: Request, hub: HubDep) -> TokenOut:
    """Exchange a system's client id and secret (form, JSON or HTTP Basic) for a token."""
    fields = await _credentials(request)
    grant = fields.get("grant_type")
    if grant is not None and grant != "client_credentials":
        raise ApiError(
            "unsupported_grant_type", f"grant_type {grant!r}: only client_credentials", 400
        )
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if not client_id or not secret:
        raise ApiError(
            "invalid_request", "client_id and client_secret are required (form or JSON)", 400
        )
    system = hub.systems.authenticate(client_id, secret)
    issued = hub.tokens.issue(system.system_id)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


async def _credentials(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_TOKEN_REQUEST:
            raise ApiError("body_too_large", "a token request is a few hundred bytes", 413)
    fields: dict[str, str] = {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body.strip():
        if content_type == "application/json":
            try:
                parsed = json.loads(body)
            except ValueError:
                raise ApiError("invalid_request", "the JSON body is malformed", 400) from None
            if not isinstance(parsed, dict):
                raise ApiError("invalid_request", "the JSON body must be an object", 400)
            fields = {k: v for k, v in parsed.items() if isinstance(v, str)}
        else:
            try:
                form = parse_qs(body.decode("utf-8"), strict_parsing=False)
            except UnicodeDecodeError:
                raise ApiError("invalid_request", "the form body is not UTF-8", 400) from None
            fields = {k: v[0] for k, v in form.items() if v}
    basic = request.headers.get("authorization", "")
    if basic[:6].lower() == "basic ":
        # client_secret_basic (RFC 6749 §2.3.1): the credentials in the Authorization header.
        try:
            client_id, _, secret = base64.b64decode(basic[6:]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError("invalid_client", "the Basic credentials are malformed") from None
        fields.setdefault("client_id", client_id)
        fields.setdefault("client_secret", secret)
    return fields
