"""``python -m ndxp_mock serve --data DIR --port P``: run the national axis."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pydantic import ValidationError

from lgsp.__main__ import build_parser, serve, settings_from
from lgsp.settings import HubRole

from .app import NDXP_HUB_ID


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ndxp_mock``."""
    args = build_parser("python -m ndxp_mock", national=True).parse_args(argv)
    try:
        settings = settings_from(args, hub_id=NDXP_HUB_ID, role=HubRole.NDXP)
    except ValidationError as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    serve(settings, log_level=args.log_level, access_log=args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
