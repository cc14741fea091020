"""A scripted stand-in for the OVHcloud API: each request answered by a function of its method
and path, for the answers the simulator never gives (429 for ever, "abc" for the time, an
HTML page, control characters in a credential's rules)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# (status, headers, body): a body that is not bytes is sent as JSON.
Answer = tuple[int, dict[str, str], Any]
Script = Callable[[str, str], Answer]


def server_time(method: str, path: str) -> Answer | None:
    """GET /auth/time as the API answers it; None for any other request."""
    if path == "/1.0/auth/time":
        return 200, {}, int(time.time())
    return None


@dataclass
class Seen:
    """The requests the scripted API received, as `METHOD path`."""

    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(request.endswith(f" {path}") for request in self.requests)


@contextmanager
def scripted_api(script: Script) -> Iterator[tuple[str, Seen]]:
    """Serve `script` on a free port; yields the endpoint URL (ending in /1.0) and what the
    server has seen."""
    seen = Seen()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            path = self.path.split("?")[0]
            with seen.lock:
                seen.requests.append(f"{self.command} {path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, headers, body = script(self.command, path)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            headers = {"Content-Type": "application/json", **headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/1.0", seen
    finally:
        server.shutdown()
        server.server_close()
