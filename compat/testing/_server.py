"""The fault server: an HTTP server on 127.0.0.1 that answers like OpenAI, Azure OpenAI
and the seed gateway, and fails on demand."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, overload
from urllib.parse import parse_qsl, urlsplit

import attrs

from compat.testing import _faults
from compat.testing._faults import AZURE, GATEWAY, OPENAI, Answer, Fault, Request
from compat.testing._options import rules_from_options
from compat.testing._rules import Rule

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


#: How many requests, and how many bytes of their bodies, a server keeps by default.
KEEP, KEEP_BYTES = 1000, 16 * 2**20
_PENDING = 0xFFFF  # no answer decided yet, in the log's table of statuses


class RequestLog(Sequence[Request]):
    """The requests a server received: the most recent ones in full, and exact counts of all.

    ``len()`` is the number of requests received since the server started (or was
    cleared). A request is found by its number (:attr:`Request.index`, from 0), as in
    a list of them all, but only the last *keep* requests, and no more of them than
    *keep_bytes* bytes of bodies, are kept: reading an older one raises
    :class:`IndexError`. Iterating and slicing give the kept requests, oldest first.
    The server's counts (:meth:`FaultServer.count`, :attr:`FaultServer.answered`,
    :meth:`FaultServer.stats`) cover every request, kept or not.
    """

    def __init__(
        self, keep: int = KEEP, keep_bytes: int = KEEP_BYTES, lock: threading.Lock | None = None
    ) -> None:
        if keep < 1 or keep_bytes < 0:
            raise ValueError(
                f"the log must keep at least one request and no negative number of bytes"
                f" (keep={keep}, keep_bytes={keep_bytes})"
            )
        self.keep, self.keep_bytes = keep, keep_bytes
        # Held by the writer (the server, around _add, _answered and _clear) and by
        # readers while they copy the kept requests.
        self._lock = lock or threading.Lock()
        self._kept: deque[Request] = deque()
        self._bytes = 0
        self._received = 0
        # Per request number, the status of its answer (2 bytes each): answered stays
        # exact over every request without keeping them.
        self._statuses = array("H")
        self._counts: Counter[tuple[int, str, str]] = Counter()
        self._epoch = 0  # clearing starts a new one: answers to older requests are not counted

    # -------------------------------------------------------------- writing (under the server's lock)

    def _add(self, request: Request) -> int:
        request.index = self._received
        self._received += 1
        self._statuses.append(_PENDING)
        self._kept.append(request)
        self._bytes += len(request.body)
        while len(self._kept) > self.keep or (
            self._bytes > self.keep_bytes and len(self._kept) > 1
        ):
            self._bytes -= len(self._kept.popleft().body)
        return self._epoch

    def _answered(self, request: Request, answer: Answer, epoch: int) -> None:
        if epoch != self._epoch:
            return
        self._statuses[request.index] = min(max(answer.status, 0), _PENDING - 1)
        self._counts[(answer.status, answer.fault, request.flavour)] += 1

    def _clear(self) -> None:
        self._epoch += 1
        self._kept.clear()
        self._bytes = self._received = 0
        self._statuses = array("H")
        self._counts.clear()

    # -------------------------------------------------------------- reading

    def __len__(self) -> int:
        return self._received

    @property
    def kept(self) -> int:
        """How many requests are kept in full."""
        return len(self._kept)

    @overload
    def __getitem__(self, index: int) -> Request: ...

    @overload
    def __getitem__(self, index: slice) -> list[Request]: ...

    def __getitem__(self, index: int | slice) -> Request | list[Request]:
        with self._lock:  # a snapshot: the server appends from other threads
            kept = list(self._kept)
            first = self._received - len(kept)
        if isinstance(index, slice):
            numbers = range(first + len(kept))[index]
            return [kept[n - first] for n in numbers if n >= first]
        number = index + first + len(kept) if index < 0 else index
        if not 0 <= number < first + len(kept):
            raise IndexError(f"no request {index}: {first + len(kept)} received")
        if number < first:
            raise IndexError(
                f"request {number} is no longer kept: the log keeps the last {self.keep}"
                f" requests and at most {self.keep_bytes} bytes of bodies (requests {first}"
                f" to {first + len(kept) - 1} now)"
            )
        return kept[number - first]

    def __iter__(self) -> Iterator[Request]:
        with self._lock:
            return iter(list(self._kept))

    def __reversed__(self) -> Iterator[Request]:
        with self._lock:
            return reversed(list(self._kept))

    def __repr__(self) -> str:
        return f"<RequestLog: {self._received} received, the last {len(self._kept)} kept>"


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
    fault, else by a success. :attr:`requests` keeps the most recent requests and
    what each was answered (*keep* of them, with at most *keep_bytes* bytes of
    bodies: see :class:`RequestLog`); the counts (:meth:`count`, :attr:`answered`,
    :meth:`stats`) cover every request.

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
        keep: int = KEEP,
        keep_bytes: int = KEEP_BYTES,
    ) -> None:
        self.rules: list[Rule] = list(rules)
        self.api_key = api_key
        self.gateway_credentials = gateway_credentials
        self._lock = threading.Lock()
        self.requests = RequestLog(keep, keep_bytes, self._lock)
        self._script: deque[Fault] = deque()
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
            self.requests._clear()

    @property
    def pending(self) -> int:
        """Scripted answers not sent yet."""
        return len(self._script)

    # ------------------------------------------------------------------ counting

    @property
    def keep(self) -> int:
        """How many of the most recent requests :attr:`requests` keeps."""
        return self.requests.keep

    @property
    def keep_bytes(self) -> int:
        """How many bytes of request bodies :attr:`requests` keeps at most."""
        return self.requests.keep_bytes

    @property
    def received(self) -> int:
        """How many requests arrived (every one, kept or not)."""
        return len(self.requests)

    @property
    def answered(self) -> list[int]:
        """The status of each answer sent, in the order the requests arrived (0 for a
        connection reset); every request's, kept or not."""
        with self._lock:
            return [s for s in self.requests._statuses if s != _PENDING]

    def count(
        self, *, status: int | None = None, fault: str | None = None, flavour: str | None = None
    ) -> int:
        """How many requests were answered with *status* and/or *fault*, from *flavour*
        (every request, kept or not)."""
        with self._lock:
            return sum(
                n
                for (s, f, fl), n in self.requests._counts.items()
                if (status is None or s == status)
                and (fault is None or f == fault)
                and (flavour is None or fl == flavour)
            )

    def stats(self) -> dict[str, Any]:
        """Counts of requests received and kept, and of answers by status and by fault."""
        with self._lock:
            by_status: Counter[str] = Counter()
            by_fault: Counter[str] = Counter()
            for (status, fault, _), n in self.requests._counts.items():
                by_status[str(status)] += n
                by_fault[fault] += n
            return {
                "requests": len(self.requests),
                "kept": self.requests.kept,
                "by_status": dict(by_status),
                "by_fault": dict(by_fault),
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
            self.requests._clear()

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
            epoch = self.requests._add(request)
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
        if request.latency and answer.fault == "success":
            answer = attrs.evolve(answer, delay=answer.delay + request.latency)
        if request.extra_headers and not answer.reset:
            # The rule knows its limits better than a fault's generic headers.
            answer = attrs.evolve(answer, headers={**answer.headers, **request.extra_headers})
        request.answer = answer
        with self._lock:
            self.requests._answered(request, answer, epoch)
        return answer

    def _control(self, handler: BaseHTTPRequestHandler, route: str, body: bytes) -> tuple[int, Any]:
        if route == CONTROL + "stats":
            return 200, self.stats()
        if route == CONTROL + "config" and handler.command == "POST":
            try:
                options = json.loads(body or b"{}")
            except ValueError as exc:
                return 400, {"error": f"the configuration is not JSON: {exc}"}
            if not isinstance(options, dict):
                kind = {list: "an array", str: "a string", bool: "a boolean"}.get(
                    type(options), "null" if options is None else "a number"
                )
                return 400, {"error": f"the configuration is a JSON object, not {kind}"}
            try:
                self.configure(options)
            except ValueError as exc:
                return 400, {"error": " ".join(str(exc).split())}
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
