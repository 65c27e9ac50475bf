"""``python -m lgsp serve --hub-id lgsp-h56 --data DIR --port P``: run one hub.

Options not given on the command line come from ``LGSP_*`` environment variables (and
``DATABASE_URL``), then defaults; see :class:`lgsp.settings.HubSettings`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from lgsp.settings import HubRole, HubSettings


def build_parser(
    prog: str = "python -m lgsp", *, national: bool = False
) -> argparse.ArgumentParser:
    """The command line of a hub process (``national``: the NDXP's, without --hub-id)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the hub's HTTP API and outbox worker")
    if not national:
        serve.add_argument("--hub-id", help="this hub's id, e.g. lgsp-h56 (LGSP_HUB_ID)")
    serve.add_argument("--data", type=str, help="the data directory (LGSP_DATA_DIR)")
    serve.add_argument("--host", help="listen address (LGSP_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (LGSP_PORT, default 8000)")
    serve.add_argument("--database-url", help="sqlite:///... or postgresql://... (DATABASE_URL)")
    serve.add_argument("--database-schema", help="PostgreSQL schema (LGSP_DATABASE_SCHEMA)")
    serve.add_argument("--topology", help="topology preset or file, overriding DIR/sim.json")
    serve.add_argument("--strict", action="store_true", default=None, help="refuse SHA-1")
    serve.add_argument(
        "--sdk-strict",
        action="store_true",
        default=None,
        help="SDK front: refuse stale timestamps and replays (LGSP_SDK_STRICT)",
    )
    serve.add_argument("--sdk-prefix", help="path of the SDK calls (LGSP_SDK_PREFIX, default /)")
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def settings_from(args: argparse.Namespace, **fixed: Any) -> HubSettings:
    """Settings from the parsed command line over the environment."""
    given = {
        "hub_id": getattr(args, "hub_id", None),
        "data_dir": args.data,
        "host": args.host,
        "port": args.port,
        "database_url": args.database_url,
        "database_schema": args.database_schema,
        "topology": args.topology,
        "strict": args.strict,
        "sdk_strict": args.sdk_strict,
        "sdk_prefix": args.sdk_prefix,
    }
    given.update(fixed)
    return HubSettings(**{key: value for key, value in given.items() if value is not None})


def serve(settings: HubSettings, *, log_level: str = "info", access_log: bool = False) -> None:
    """Run the hub under uvicorn (uvloop, httptools) until interrupted."""
    import uvicorn

    from lgsp.app import HubStartupError, check_startup, create_app

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        check_startup(settings)
    except HubStartupError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        access_log=access_log,
        # Event streams stay open; do not let them hold a shutdown forever.
        timeout_graceful_shutdown=5,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lgsp``."""
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ValidationError as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    if settings.role is HubRole.NDXP:
        print("error: the national axis runs as `python -m ndxp_mock serve`", file=sys.stderr)
        return 2
    serve(settings, log_level=args.log_level, access_log=args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
