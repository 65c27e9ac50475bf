"""The directory: where each recipient OrganId goes from this hub, and where peers listen.

An LGSP keeps its own agencies' packages (inbox) and sends everything else to the NDXP; the
NDXP keeps the ministries' and sends each other recipient to its province's LGSP. Peer
addresses come from ``DIR/services.json``, re-read when a peer is missing from it.
"""

from __future__ import annotations

from .errors import PeerUnknownError, RoutingError
from .service import Directory, Route

__all__ = ["Directory", "PeerUnknownError", "Route", "RoutingError"]
