"""A stand-in for a hub or fleet process: parses the contract's command line, serves /health.

The supervisor tests run it through a fake ``python`` (see test_runtime_supervisor.py), so
they exercise the real command lines without the real services. ``FAKE_MODE`` in the
environment picks a misbehaviour: ``crash`` (exit 3 at once), ``mute`` (never answers),
``spawn`` (starts a grandchild that would outlive a careless stop; writes its pid).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    args = sys.argv[1:]
    if args[:1] != ["-m"]:
        sys.exit(f"expected -m MODULE, got {args}")
    module = args[1]
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--hub-id")
    parser.add_argument("--fleet-id")
    parser.add_argument("--data", required=True)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(args[2:])
    mode = os.environ.get("FAKE_MODE", "")
    name = options.fleet_id or options.hub_id or "ndxp"
    if os.environ.get("FAKE_ONLY", name) != name:
        mode = ""
    print(f"fake {module} {name} on {options.port} mode={mode!r}", flush=True)
    record = Path(options.data) / f"fake-{name}.json"
    record.write_text(
        json.dumps(
            {
                "module": module,
                "argv": args,
                "env": {
                    k: v
                    for k, v in os.environ.items()
                    if k.startswith(("LGSP_", "FLEET_", "DATABASE_URL"))
                },
            }
        )
    )
    if mode == "crash":
        print("Traceback: something went badly wrong", flush=True)
        sys.exit(3)
    if mode == "mute":
        time.sleep(3600)
    if mode == "spawn":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        (Path(options.data) / f"grandchild-{name}.pid").write_text(str(child.pid))
    key = "fleet_id" if module == "agencies" else "hub_id"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({key: name, "status": "ok"}).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
