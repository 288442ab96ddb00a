"""The fault server: an HTTP server on 127.0.0.1 that answers like OpenAI, Azure OpenAI
and the seed gateway, and fails on demand."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from compat.testing import _faults
from compat.testing._faults import AZURE, GATEWAY, OPENAI, Answer, Fault, Request
from compat.testing._rules import Outage, Quota, RandomFaults, Rule, TokenBucket

CONTROL = "/_compat/"
_ENDPOINTS = (
    ("/chat/completions", "chat"),
    ("/completions", "completions"),
    ("/embeddings", "embeddings"),
    ("/responses", "responses"),
    ("/models", "models"),
)


def _endpoint(path: str) -> str:
    for suffix, name in _ENDPOINTS:
        if path.rstrip("/").endswith(suffix):
            return name
    return "other"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout, a cancelled call) is expected: no traceback."""


class FaultServer:
    """An HTTP server on 127.0.0.1 that answers like the OpenAI API, Azure OpenAI and the
    seed gateway, with realistic successes, and fails by script or by rule.

    Point clients at :attr:`openai_url` (``OpenAI(base_url=...)``, legacy
    ``openai.api_base``), :attr:`azure_endpoint` (``AzureOpenAI(azure_endpoint=...)``)
    or :attr:`gateway_url` (``GatewayClient(base_url=...)``). Each request is
    answered by the first rule that returns a fault, else by the next scripted
    fault, else by a success. Every request and what it was answered is kept in
    :attr:`requests`.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rules: Iterable[Rule] = (),
        api_key: str | None = None,
        gateway_credentials: tuple[str, str] | None = None,
    ) -> None:
        self.rules: list[Rule] = list(rules)
        self.api_key = api_key
        self.gateway_credentials = gateway_credentials
        self.requests: list[Request] = []
        self._script: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd = _HTTPServer((host, port), self._handler())
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="compat-fault-server", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------------ addresses

    @property
    def openai_url(self) -> str:
        """The base URL of the OpenAI flavour (``.../v1``)."""
        return self.url + "/v1"

    @property
    def azure_endpoint(self) -> str:
        """The endpoint of the Azure flavour (deployments live under ``/openai/deployments/``)."""
        return self.url

    @property
    def gateway_url(self) -> str:
        """The seed gateway's call URL (``.../openai/custom``)."""
        return self.url + "/openai/custom"

    # ------------------------------------------------------------------ scripting

    def script(self, *faults: Fault, times: int = 1) -> None:
        """Answer the next requests with *faults*, in order (the whole list *times* times)."""
        with self._lock:
            for _ in range(times):
                self._script.extend(faults)

    def push(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        delay: float = 0.0,
        reset: bool = False,
    ) -> None:
        """Script one exact answer (see :func:`compat.testing.faults.answer`)."""
        self.script(_faults.answer(status, headers, body, delay=delay, reset=reset))

    def add_rule(self, rule: Rule) -> Rule:
        """Ask *rule* about every request from now on (after the rules already there)."""
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget rules, script and counts."""
        with self._lock:
            self.rules.clear()
            self._script.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        """Scripted answers not sent yet."""
        return len(self._script)

    # ------------------------------------------------------------------ counting

    @property
    def answered(self) -> list[int]:
        """The status of each answer sent, in order (0 for a connection reset)."""
        with self._lock:
            return [r.answer.status for r in self.requests if r.answer is not None]

    def count(
        self, *, status: int | None = None, fault: str | None = None, flavour: str | None = None
    ) -> int:
        """How many requests were answered with *status* and/or *fault*, from *flavour*."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.answer is not None
                and (status is None or r.answer.status == status)
                and (fault is None or r.answer.fault == fault)
                and (flavour is None or r.flavour == flavour)
            )

    def stats(self) -> dict[str, Any]:
        """Counts of requests, and of answers by status and by fault."""
        with self._lock:
            sent = [r.answer for r in self.requests if r.answer is not None]
            return {
                "requests": len(self.requests),
                "by_status": dict(Counter(str(a.status) for a in sent)),
                "by_fault": dict(Counter(a.fault for a in sent)),
            }

    def wait_for(self, requests: int, timeout: float = 5.0) -> bool:
        """Wait until *requests* requests have arrived; whether they did in *timeout* s."""
        end = time.monotonic() + timeout
        while len(self.requests) < requests:
            if time.monotonic() > end:
                return False
            time.sleep(0.005)
        return True

    # ------------------------------------------------------------------ life

    def close(self) -> None:
        """Stop serving, drop open connections and wake answers held back by a delay."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FaultServer({self.url}, rules={self.rules!r}, scripted={self.pending})"

    def serve_forever(self) -> None:
        """Block until interrupted (the standalone command)."""
        with contextlib.suppress(KeyboardInterrupt):
            while not self._closing.wait(0.5):
                pass
        self.close()

    def configure(self, options: Mapping[str, Any]) -> None:
        """Replace rules and script by the standalone command's *options*, and clear counts."""
        rules = rules_from_options(options)
        with self._lock:
            self.rules[:] = rules
            self._script.clear()
            self.requests.clear()

    # ------------------------------------------------------------------ answering

    def _parse(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Request:
        split = urlsplit(raw_path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        document: Any = None
        if body:
            with contextlib.suppress(ValueError):
                document = json.loads(body)
        route = split.path
        if route.rstrip("/").endswith("/openai/custom") or ("method" in query and "key" in query):
            flavour = GATEWAY
            endpoint = _endpoint("/" + query.get("method", ""))
            document = None
            with contextlib.suppress(ValueError):
                document = json.loads(query.get("_o_args") or "{}")
            model = None
        elif "/openai/deployments/" in route or route.startswith("/openai/"):
            # Azure: /openai/deployments/{name}/..., and routes that name no deployment
            # (/openai/responses, /openai/v1/...), whose model is in the body.
            flavour = AZURE
            endpoint = _endpoint(route)
            _, deployments, rest = route.partition("/openai/deployments/")
            model = (rest.split("/")[0] or None) if deployments else None
        else:
            flavour = OPENAI
            endpoint = _endpoint(route)
            model = None
        if isinstance(document, dict):
            if isinstance(document.get("model"), str):
                model = model or document["model"]
            stream = document.get("stream") is True
        else:
            stream = False
        return Request(
            index=-1,
            method=method,
            path=raw_path,
            route=route,
            query=query,
            headers=headers,
            body=body,
            json=document,
            at=time.monotonic(),
            flavour=flavour,
            endpoint=endpoint,
            model=model,
            stream=stream,
        )

    def _authorized(self, request: Request) -> bool:
        if request.flavour == GATEWAY:
            if self.gateway_credentials is None:
                return True
            key, secret = self.gateway_credentials
            return request.query.get("key") == key and request.query.get("secret") == secret
        if self.api_key is None:
            return True
        given = request.header("api-key") or (request.header("authorization") or "").removeprefix(
            "Bearer "
        )
        return given == self.api_key

    def _choose(self, request: Request) -> Answer:
        with self._lock:
            request.index = len(self.requests)
            self.requests.append(request)
            fault: Fault | None = None
            if not self._authorized(request):
                fault = _faults.unauthorized()
            for rule in self.rules:
                if fault is not None:
                    break
                fault = rule(request)
            if fault is None and self._script:
                fault = self._script.popleft()
        answer = (fault or _faults.success())(request)
        if request.extra_headers and not answer.reset:
            # The rule knows its limits better than a fault's generic headers.
            answer = attrs.evolve(answer, headers={**answer.headers, **request.extra_headers})
        request.answer = answer
        return answer

    def _control(self, handler: BaseHTTPRequestHandler, route: str, body: bytes) -> tuple[int, Any]:
        if route == CONTROL + "stats":
            return 200, self.stats()
        if route == CONTROL + "config" and handler.command == "POST":
            try:
                options = json.loads(body or b"{}")
                if not isinstance(options, dict):
                    raise ValueError("the configuration is a JSON object")
                self.configure(options)
            except (ValueError, TypeError, KeyError) as exc:
                return 400, {"error": str(exc)}
            return 200, {"rules": [repr(r) for r in self.rules]}
        return 404, {"error": f"no control endpoint {route}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "compat-fault-server"
            # Headers and body leave in two writes; with Nagle's algorithm the body
            # would wait for the client's delayed ACK, 40 ms on Linux.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                payload = self.rfile.read(length) if length > 0 else b""
                if self.path.startswith(CONTROL):
                    status, document = server._control(self, urlsplit(self.path).path, payload)
                    self._send(
                        Answer(
                            status, {"content-type": "application/json"}, _faults.encode(document)
                        )
                    )
                    return
                request = server._parse(
                    self.command, self.path, dict(self.headers.items()), payload
                )
                answer = server._choose(request)
                if answer.delay and server._closing.wait(answer.delay):
                    self._drop()
                    return
                if answer.reset:
                    self._drop()
                    return
                self._send(answer)

            def _drop(self) -> None:
                """Close with a TCP reset (SO_LINGER 0): the client sees the connection die."""
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.close()

            def _send(self, answer: Answer) -> None:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.chunks is None:
                    self.send_header("content-length", str(len(answer.body)))
                    framed = [answer.body]
                else:
                    self.send_header("transfer-encoding", "chunked")
                    self.send_header("cache-control", "no-cache")
                    framed = [f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in answer.chunks]
                    if not answer.cut:
                        framed.append(b"0\r\n\r\n")
                self.end_headers()
                if answer.truncate is not None:
                    self.wfile.write(b"".join(framed)[: answer.truncate])
                    self.wfile.flush()
                    self._drop()
                    return
                for piece in framed:
                    self.wfile.write(piece)
                    self.wfile.flush()
                if answer.cut:
                    self._drop()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler


def rules_from_options(options: Mapping[str, Any]) -> list[Rule]:
    """Rules from the standalone command's options (also ``POST /_compat/config``).

    Keys: ``rate`` and ``burst`` (a token bucket) with ``signal``; ``quota``
    (requests before the money runs out); ``outage`` (seconds of 503 from now);
    ``fault_rate`` with ``faults`` (names from :data:`compat.testing.faults.NAMED`)
    and ``seed``.
    """
    known = {"rate", "burst", "signal", "quota", "outage", "fault_rate", "faults", "seed"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
    rules: list[Rule] = []
    if options.get("outage"):
        rules.append(Outage(float(options["outage"])))
    if options.get("quota") is not None:
        rules.append(Quota(int(options["quota"])))
    if options.get("fault_rate"):
        names = options.get("faults") or list(_faults.NAMED)
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        missing = [n for n in names if n not in _faults.NAMED]
        if missing:
            raise ValueError(
                f"unknown fault(s): {', '.join(missing)}; known: {', '.join(_faults.NAMED)}"
            )
        chosen = [_faults.NAMED[n]() for n in names]
        rules.append(
            RandomFaults(float(options["fault_rate"]), chosen, seed=options.get("seed", 0))
        )
    if options.get("rate"):
        rules.append(
            TokenBucket(
                float(options["rate"]),
                float(options.get("burst") or 1),
                signal=str(options.get("signal") or "precise"),
            )
        )
    return rules
