"""The SDK-compatible front: the VXP protocol of the national SDK, on the hub's own services.

A document-management system built on the vendor SDK connects to a simulated hub unchanged:
its endpoint is the hub's URL (or ``LGSP_SDK_PREFIX`` under it), its ``systemid`` and secret
a DMS system of ``systems.json``. Calls go through the same intake, delivery and store as
the native REST API. ErrorCodes: docs/sdk-errors.md.

- :mod:`.protocol`: pure functions of the wire protocol (signed headers, HMAC, timestamps,
  Java-style ``hash-file``, answers).
- :mod:`.guard`: authentication, freshness and replay checks.
- :mod:`.hosting`: systems and registered agencies, reloaded while the hub runs.
- :mod:`.service`: what each call does; :mod:`.routes`: the router.
"""

from __future__ import annotations

from .errors import ErrorCode, SdkError
from .models import RegisteredAgency
from .routes import SdkFront, install_sdk

__all__ = ["ErrorCode", "RegisteredAgency", "SdkError", "SdkFront", "install_sdk"]
