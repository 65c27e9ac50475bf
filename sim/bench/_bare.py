"""The bare endpoint of `bench exchange`: the HTTP ceiling a hub's submission path runs under.

``python -m sim.bench._bare --port P`` serves one FastAPI route shaped like the hub's
``POST /api/v1/packages`` (reads the whole body, answers 201 with a small JSON object) under
uvicorn with the hubs' options (uvloop, httptools, one worker, no access log). Nothing else
happens per request: no authentication, parsing, verification or storage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SUBMIT_PATH = "/api/v1/packages"


def create_bare_app() -> FastAPI:
    """The bare app: ``GET /health`` and a submission route that only reads the body."""
    app = FastAPI(title="bare submission endpoint", openapi_url=None, docs_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"hub_id": "bare", "status": "ok"}

    @app.post(SUBMIT_PATH, status_code=201)
    async def submit(request: Request) -> JSONResponse:
        body = await request.body()
        # As small as a hub receipt's framing, built by the same JSON response class.
        return JSONResponse({"received": len(body), "duplicate": False}, status_code=201)

    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the bare app on 127.0.0.1 with the hubs' uvicorn options."""
    parser = argparse.ArgumentParser(prog="python -m sim.bench._bare", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    import uvicorn

    # The options of lgsp.__main__.serve, so the two rates differ only by what the hub does.
    uvicorn.run(
        create_bare_app(),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
