"""The national axis (NDXP): the axis engine of :mod:`lgsp` with role ``ndxp``.

Same engine, national directory: the ministries are its own agencies, and every other
recipient is handed to the LGSP of its province (``topology.hub_of``). It imports only the
public face of :mod:`lgsp` (settings and app factory).
"""

from __future__ import annotations

from .app import NDXP_HUB_ID, create_app, ndxp_settings

__all__ = ["NDXP_HUB_ID", "create_app", "ndxp_settings"]
