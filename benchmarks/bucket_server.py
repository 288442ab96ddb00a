"""A loopback token-bucket server that answers like the OpenAI chat completions API.

Run by benchmarks/retry_quality.py in its own process (so that the client under
test does not share a GIL with it):

    python benchmarks/bucket_server.py --rate 20 --burst 5 --mode precise

It prints its port, then serves until killed. ``GET /stats`` returns the counts
of answers by status; ``POST /reset?mode=...&outage=SECONDS`` refills the bucket,
sets the header mode and optionally starts a full outage (503) of that length.

Header modes of a 429: ``precise`` (``retry-after-ms`` and ``x-ratelimit-*`` on
every answer), ``integer`` (``retry-after`` in whole seconds, rounded up), and
``message`` (only "Please try again in N ms." in the error message).
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.lock = threading.Lock()
        self.reset("precise", 0.0)

    def reset(self, mode: str, outage: float) -> None:
        with self.lock:
            self.mode = mode
            self.tokens = self.burst
            self.stamp = time.monotonic()
            self.outage_until = self.stamp + outage
            self.counts: dict[int, int] = {}

    def take(self) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if now < self.outage_until:
                answer = (
                    503,
                    {},
                    json.dumps(
                        {"error": {"message": "The server is overloaded", "type": "server_error"}}
                    ).encode(),
                )
            elif self.tokens >= 1:
                self.tokens -= 1
                answer = (200, self._limits(), COMPLETION)
            else:
                wait = (1 - self.tokens) / self.rate
                answer = self._limited(wait)
            self.counts[answer[0]] = self.counts.get(answer[0], 0) + 1
            return answer

    def _limits(self) -> dict[str, str]:
        if self.mode != "precise":
            return {}
        full = (self.burst - self.tokens) / self.rate
        return {
            "x-ratelimit-limit-requests": str(int(self.burst)),
            "x-ratelimit-remaining-requests": str(int(self.tokens)),
            "x-ratelimit-reset-requests": f"{full * 1000:.0f}ms",
        }

    def _limited(self, wait: float) -> tuple[int, dict[str, str], bytes]:
        ms = max(1, math.ceil(wait * 1000))
        message = "Rate limit reached for requests."
        headers: dict[str, str] = {}
        if self.mode == "precise":
            headers = {"retry-after-ms": str(ms), **self._limits()}
        elif self.mode == "integer":
            headers = {"retry-after": str(max(1, math.ceil(wait)))}
        else:
            message += f" Please try again in {ms}ms."
        body = {"error": {"message": message, "type": "requests", "code": "rate_limit_exceeded"}}
        return 429, headers, json.dumps(body).encode()


def serve(rate: float, burst: float) -> tuple[ThreadingHTTPServer, Bucket]:
    bucket = Bucket(rate, burst)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with bucket.lock:
                counts = dict(bucket.counts)
            self._send(200, {}, json.dumps(counts).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            url = urlparse(self.path)
            if url.path == "/reset":
                query = parse_qs(url.query)
                bucket.reset(
                    query.get("mode", ["precise"])[0], float(query.get("outage", ["0"])[0])
                )
                self._send(200, {}, b"{}")
                return
            self._send(*bucket.take())

    server = _Server(("127.0.0.1", 0), Handler)
    return server, bucket


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=float, default=5.0)
    args = parser.parse_args()
    server, _ = serve(args.rate, args.burst)
    print(server.server_address[1], flush=True)
    server.serve_forever(0.05)


if __name__ == "__main__":
    main()
