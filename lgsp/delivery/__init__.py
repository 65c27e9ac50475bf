"""Delivery: pushing packages to the next hub (outbox callback) and handing them to DMSs.

- :class:`HubClient` is the hub's one HTTP client; :class:`Forwarder` is the outbox
  worker's ``deliver`` callback built on it.
- :func:`list_waiting`, :func:`fetch_package` and :func:`acknowledge` serve a hub's own
  DMS systems (pull, then confirm).
"""

from __future__ import annotations

from .errors import InboxError, PermanentDeliveryError, RetryableDeliveryError
from .forward import HUB_PACKAGES_PATH, Forwarder, HubClient
from .inbox import acknowledge, fetch_package, list_waiting
from .schemas import AckIn, AckOut, AckState, InboxEntryOut, InboxPage

__all__ = [
    "HUB_PACKAGES_PATH",
    "AckIn",
    "AckOut",
    "AckState",
    "Forwarder",
    "HubClient",
    "InboxEntryOut",
    "InboxError",
    "InboxPage",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "acknowledge",
    "fetch_package",
    "list_waiting",
]
