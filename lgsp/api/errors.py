"""Errors to HTTP: ``{"error": {"code", "message"}}`` with the right status, never a trace.

Each concern raises its own typed error (``IntakeError``, ``AuthError``, ``InboxError``,
``RoutingError``, :class:`ApiError` for the API's own refusals); all carry ``code``,
``message`` and ``http_status`` and end here. Anything else is a bug: it is logged with its
traceback and the caller gets 500 ``internal_error`` and nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lgsp.auth import AuthError
from lgsp.delivery import InboxError
from lgsp.intake import IntakeError
from lgsp.routing import RoutingError

log = logging.getLogger("lgsp.api")

_HTTP_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A refusal of the API layer itself (not found, bad query, ...)."""

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


class CodedError(Protocol):
    """What every typed error of ours carries."""

    code: str
    message: str
    http_status: int


TYPED_ERRORS: Final = (ApiError, AuthError, InboxError, IntakeError, RoutingError)

RefusalHook = Callable[[Request, CodedError], Awaitable[None]]
"""Called with every typed error before it is answered (the rejection log)."""


def error_body(code: str, message: str) -> dict[str, Any]:
    """The error envelope of every 4xx/5xx answer."""
    return {"error": {"code": code, "message": message}}


def error_response(error: CodedError, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON answer for a typed error."""
    return JSONResponse(
        error_body(error.code, error.message), status_code=error.http_status, headers=headers
    )


def _typed_handler(on_refusal: RefusalHook | None) -> Callable[..., Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error: CodedError = exc  # type: ignore[assignment]  # registered for TYPED_ERRORS only
        if on_refusal is not None:
            await on_refusal(request, error)
        return _typed(request, error)

    return handle


def _typed(request: Request, error: CodedError) -> JSONResponse:
    headers = None
    if (
        isinstance(error, AuthError)
        and error.http_status == 401
        and error.code != "hub_auth_failed"
    ):
        headers = {"WWW-Authenticate": 'Bearer realm="lgsp"'}
    return error_response(error, headers=headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for that type only
        raise exc
    problems = []
    for problem in exc.errors()[:5]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        problems.append(f"{where or 'request'}: {problem.get('msg', 'invalid')}")
    return JSONResponse(
        error_body("invalid_request", "; ".join(problems) or "the request is not valid"),
        status_code=422,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # registered for that type only
        raise exc
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "the hub failed to process the request; see its log"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI, *, on_refusal: RefusalHook | None = None) -> None:
    """Register the handlers on ``app``; ``on_refusal`` sees every typed error first."""
    typed = _typed_handler(on_refusal)
    for error_type in TYPED_ERRORS:
        app.add_exception_handler(error_type, typed)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)
