"""The simulator's HTTP side: a threaded HTTP/1.1 server in front of `Api`.

One thread per connection with keep-alive, so a `requests.Session` (one per `ovh.Client`)
reuses its connection and concurrent clients overlap their latencies as on the real API.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from audit.simulator.api import API_PREFIX, Api, Request, SimulatorConfig, SimulatorStats
from audit.simulator.fleet import Fleet

logger = logging.getLogger(__name__)


class _HttpServer(ThreadingHTTPServer):
    """Daemon threads and a deep accept queue: a burst of clients must not be refused."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, simulator: Simulator, address: tuple[str, int], ipv6: bool) -> None:
        self.address_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def close_connections(self) -> None:
        """End idle keep-alive connections so their threads exit and clients see EOF."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _HttpServer
    timeout = 120  # idle keep-alive connections are dropped after this many seconds

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        simulator = self.server.simulator
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        body = self.rfile.read(length) if length > 0 else b""
        if simulator.config.latency_ms:
            time.sleep(simulator.config.latency_ms / 1000)
        request = Request(
            method=self.command,
            target=self.path,
            host=self.headers.get("Host", ""),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        response = simulator.api.handle(request)
        # ASCII escapes, as a JSON API may send: a lone surrogate from vCenter stays "\ud800".
        payload = json.dumps(response.body).encode("ascii")
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class Simulator:
    """A local OVHcloud API v1 for the dedicatedCloud routes, serving `fleet`.

    Use as a context manager (or `start()`/`stop()`); `url` ends in `/1.0` and can be
    registered in `ovh.client.ENDPOINTS`. `fleet` reflects finished licence tasks.
    """

    def __init__(self, fleet: Fleet, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.api = Api(fleet, self.config)
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def fleet(self) -> Fleet:
        return self.api.fleet

    @property
    def stats(self) -> SimulatorStats:
        return self.api.stats

    def issue_bill(self, year: int, month: int) -> str:
        """Issue a usage month's bill from its recorded usage or the fleet as it is now (see
        `Api.issue_bill`)."""
        return self.api.issue_bill(year, month)

    def record_usage(self, year: int, month: int) -> None:
        """Record the VMs billed now as one day of a month's usage (see `Api.record_usage`)."""
        self.api.record_usage(year, month)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{API_PREFIX}"

    def start(self) -> Simulator:
        """Bind and listen (connections are accepted from here on), then serve in a thread."""
        if self._server is not None:
            raise RuntimeError("the simulator is already started")
        host = self.config.host
        self._server = _HttpServer(self, (host, self.config.port), ipv6=":" in host)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close open connections and wait for the serving thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
