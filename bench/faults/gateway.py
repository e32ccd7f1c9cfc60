"""An SMS gateway on loopback: a small `http.server` that records the numbers it was
asked to text, answers with a message id, and can be told to fail."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackGateway:
    """`with LoopbackGateway() as gw:` serves on `gw.url` until the block ends."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        # Requests cut short (their sender killed mid-write): refused, never delivered.
        self.incomplete = 0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: dict[str, Any] = json.loads(raw) if len(raw) == length else {}
                except ValueError:
                    body = {}
                if not isinstance(body.get("to"), str):
                    # A dispatcher killed while writing its request leaves a short or
                    # empty body: a real gateway rejects it, and nothing is texted.
                    with gateway.lock:
                        gateway.incomplete += 1
                    self.send_error(400, "incomplete request")
                    return
                with gateway.lock:
                    gateway.received[body["to"]] += 1
                    number = sum(gateway.received.values())
                reply = json.dumps({"message_id": f"m{number}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.received)

    def __enter__(self) -> LoopbackGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
