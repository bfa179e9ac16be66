"""A stand-in for Rasa or the gateway under `refundbot run`: ``python fake_service.py PORT DIR``.

It answers ``GET /health`` on 127.0.0.1:PORT and appends its pid to ``DIR/pids``. Files in DIR
steer it, so a test can change how its next start behaves: ``crash`` makes it exit with code 3
at once, ``hang`` makes ``/health`` answer 503.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

port, control = int(sys.argv[1]), Path(sys.argv[2])
with (control / "pids").open("a") as pids:
    pids.write(f"{os.getpid()}\n")
print(f"fake service {os.getpid()} on port {port}", flush=True)
if (control / "crash").exists():
    print("crashing on purpose", flush=True)
    sys.exit(3)


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if (control / "hang").exists() else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


HTTPServer(("127.0.0.1", port), Health).serve_forever()
