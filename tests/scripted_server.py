"""A loopback HTTP server that answers each request from a script.

Tests push answers (status, headers, body) and point a real client at ``url``;
the server records every request it received so tests can count them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes, float, bool]


def encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected: no traceback on stderr."""


class ScriptedServer:
    """Serves pushed answers in order; when the script is empty, the default answer."""

    def __init__(self) -> None:
        self.script: deque[Answer] = deque()
        self.default: Answer = (200, {"content-type": "application/json"}, b"{}", 0.0, False)
        self.requests: list[dict[str, Any]] = []
        self.answered: list[int] = []
        #: Optional rule ``(server) -> Answer | None`` consulted before the script.
        self.rule: Any = None
        self._lock = threading.Lock()
        handler = self._handler()
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def push(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body: Any = None,
        *,
        delay: float = 0.0,
        reset: bool = False,
    ) -> None:
        """Queue one answer. A dict or list body is sent as JSON.

        *delay* holds the answer back that many seconds; *reset* closes the
        connection without answering.
        """
        headers = dict(headers or {})
        if not any(k.lower() == "content-type" for k in headers) and body is not None:
            is_json = isinstance(body, (dict, list))
            headers["content-type"] = "application/json" if is_json else "text/html"
        with self._lock:
            self.script.append((status, headers, encode(body), delay, reset))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next(self) -> Answer:
        with self._lock:
            if self.rule is not None:
                answer = self.rule(self)
                if answer is not None:
                    return answer  # type: ignore[no-any-return]
            return self.script.popleft() if self.script else self.default

    @staticmethod
    def answer(status: int, headers: dict[str, str] | None = None, body: Any = None) -> Answer:
        """An answer as a rule returns it."""
        headers = dict(headers or {})
        if body is not None:
            headers.setdefault("content-type", "application/json")
        return (status, headers, encode(body), 0.0, False)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                payload = self.rfile.read(length) if length else b""
                with server._lock:
                    server.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "at": time.monotonic(),
                            "headers": dict(self.headers),
                            "body": payload,
                        }
                    )
                status, headers, body, delay, reset = server._next()
                server.answered.append(status)
                if delay:
                    time.sleep(delay)
                if reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
