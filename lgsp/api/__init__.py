"""The HTTP face of a hub: routers per resource (``routes/``), dependencies (``deps``),
the running hub's services (``state``) and the error envelope (``errors``)."""

from __future__ import annotations

from .errors import ApiError, install_error_handlers
from .main import api_router
from .rejections import log_refusal
from .state import Hub

__all__ = ["ApiError", "Hub", "api_router", "install_error_handlers", "log_refusal"]
