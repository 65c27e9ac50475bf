"""Who may call a hub: DMS systems (client credentials → bearer tokens) and other hubs.

- DMS systems come from ``systems.json``; their secrets are stored Fernet-encrypted under a
  key derived from the hub secret (:mod:`.systems`).
- Bearer tokens are HMAC-signed and expiring, nothing stored (:mod:`.tokens`).
- Hub-to-hub requests carry a certificate of kind ``hub`` and a signature over the routing
  headers and the body digest (:mod:`.hubsign`).
"""

from __future__ import annotations

from .errors import AuthError, hub_auth_failed
from .hubsign import HubSigner, HubVerifier, PeerHub, body_digest
from .models import DmsSystem
from .systems import (
    System,
    SystemEntry,
    SystemRegistry,
    derive_key,
    read_systems_file,
    secret_cipher,
    sync_systems,
)
from .tokens import IssuedToken, TokenService

__all__ = [
    "AuthError",
    "DmsSystem",
    "HubSigner",
    "HubVerifier",
    "IssuedToken",
    "PeerHub",
    "System",
    "SystemEntry",
    "SystemRegistry",
    "TokenService",
    "body_digest",
    "derive_key",
    "hub_auth_failed",
    "read_systems_file",
    "secret_cipher",
    "sync_systems",
]
