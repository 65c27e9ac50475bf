"""``python -m agencies serve --fleet-id ID --data DIR [--host H] [--port P] [--profile P]``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .fleet import FleetError
from .profile import ProfileError
from .settings import FleetSettings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fleet's control API and its clerk until interrupted; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m agencies", description="Simulated DMS fleets of lgsp-sim."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one fleet (every agency of one hub)")
    serve.add_argument("--fleet-id", help="the fleet's system id, e.g. fleet-h56 (FLEET_ID)")
    serve.add_argument("--data", help="the data directory (FLEET_DATA, default .lgsp-data)")
    serve.add_argument("--host", help="address to listen on (FLEET_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (FLEET_PORT, default 8100)")
    serve.add_argument("--profile", help="behaviour profile: demo, realistic or a JSON file")
    serve.add_argument("--hub-url", help="the hub's URL (default: from DIR/services.json)")
    serve.add_argument(
        "--protocol",
        choices=("sdk", "native"),
        help="talk to the hub over the SDK's VXP protocol or the native REST API "
        "(FLEET_PROTOCOL, default sdk)",
    )
    serve.add_argument("--workers", type=int, help="signing threads (FLEET_WORKERS, default 2)")
    serve.add_argument("--log-level", help="uvicorn log level (default info)")
    args = parser.parse_args(argv)

    given: dict[str, Any] = {
        name: value for name, value in vars(args).items() if name != "command" and value is not None
    }
    try:
        settings = FleetSettings(**given)
        from .app import create_app  # FastAPI and the fleet load only once settings are valid

        app = create_app(settings)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _fail("bad_settings", problems)
    except (FleetError, ProfileError) as exc:
        return _fail(exc.code, exc.message)

    import uvicorn

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


def _fail(code: str, message: str) -> int:
    print(f"error: {code}: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
