"""What the fault server received (:class:`Request`), what it sent (:class:`Answer`), and
the failures it can send (:class:`Fault` and the functions that make them).

A fault is rendered for the request it answers: the same ``rate_limited()`` is an
OpenAI 429 with ``retry-after-ms`` and ``x-ratelimit-*`` headers on ``/v1/...``, an
Azure 429 with ``apim-request-id`` and its own message on
``/openai/deployments/...``, and code 4008 in an envelope under HTTP 200 on the
gateway's ``/openai/custom``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from compat.testing import _bodies

OPENAI, AZURE, GATEWAY = "openai", "azure", "gateway"
SIGNALS = ("precise", "integer", "ms", "message", "none")


@attrs.define(eq=False)
class Request:
    """One request the server received, and (once sent) its :class:`Answer`."""

    index: int
    method: str
    path: str
    route: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    at: float
    flavour: str
    endpoint: str
    model: str | None
    stream: bool
    #: Headers a rule adds to whatever answer is sent (a token bucket's ``x-ratelimit-*``).
    extra_headers: dict[str, str] = attrs.Factory(dict)
    #: The tokens a rule charged, (prompt, completion): a success reports them as its usage.
    usage: tuple[int, int] | None = None
    #: Seconds a rule holds a success back (a model's time to answer); failures are not.
    latency: float = 0.0
    answer: Answer | None = None

    @property
    def request_id(self) -> str:
        return f"compat{self.index:010d}"

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers.items():
            if key.lower() == name:
                return value
        return None


@attrs.frozen
class Answer:
    """What the server sends: a status, headers and a body, or streamed chunks.

    *delay* holds it back; *reset* closes the connection without answering;
    *chunks* are sent with chunked transfer encoding, and *cut* closes the
    connection after them instead of ending the stream; *truncate* sends the status
    line and headers (announcing the whole body) but only that many bytes of the
    body as framed on the wire, then resets the connection. *fault* names what made
    it and *summary* says what it is in a few words.
    """

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    chunks: tuple[bytes, ...] | None = None
    delay: float = 0.0
    reset: bool = False
    cut: bool = False
    truncate: int | None = None
    fault: str = "success"
    summary: str = ""


@attrs.frozen
class Fault:
    """A failure (or a success) to send, rendered for the request it answers."""

    name: str
    render: Callable[[Request], Answer] = attrs.field(repr=False)

    def __call__(self, request: Request) -> Answer:
        return self.render(request)


def encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def _json(
    request: Request,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    fault: str,
    summary: str,
    delay: float = 0.0,
) -> Answer:
    out = {"content-type": "application/json", **_ids(request), **(headers or {})}
    return Answer(status, out, encode(body), delay=delay, fault=fault, summary=summary)


def _ids(request: Request) -> dict[str, str]:
    if request.flavour == AZURE:
        return {"apim-request-id": request.request_id, "x-ms-region": "East US"}
    if request.flavour == OPENAI:
        return {"x-request-id": f"req_{request.request_id}", "openai-processing-ms": "12"}
    return {}


def envelope(request: Request, code: str, response: Any = None, reason: str = "") -> dict[str, Any]:
    """The seed gateway's envelope around *response* with *code*."""
    return {
        "response": response if response is not None else [],
        "error": "" if code == "0000" else reason,
        "reason": reason,
        "error_code": code,
        "request_id": f"1.{request.request_id}",
    }


def _gateway(
    request: Request, code: str, reason: str, *, fault: str, response: Any = None
) -> Answer:
    body = envelope(request, code, response, reason)
    said = f": {reason}" if reason else " around the upstream's answer"
    return _json(request, 200, body, fault=fault, summary=f"200 envelope, code {code}{said}")


def _openai_error(
    message: str, type_: str | None, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _azure_error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


# ---------------------------------------------------------------------- success


def _success(request: Request, delay: float = 0.0) -> Answer:
    if request.flavour == GATEWAY:
        upstream = _bodies.success(request)
        answer = _gateway(request, "0000", "", fault="success", response=upstream)
        return attrs.evolve(answer, delay=delay, summary="200 envelope, code 0000 (success)")
    if request.stream:
        headers = {"content-type": "text/event-stream", **_ids(request)}
        chunks = tuple(_bodies.stream(request))
        return Answer(
            200,
            headers,
            chunks=chunks,
            delay=delay,
            fault="success",
            summary=f"200 stream of {len(chunks)} events",
        )
    body = _bodies.success(request)
    kind = body.get("object", "ok") if isinstance(body, dict) else "ok"
    return _json(request, 200, body, fault="success", summary=f"200 {kind}", delay=delay)


def success() -> Fault:
    """A realistic success for the request's endpoint (streamed when it asked to stream)."""
    return Fault("success", _success)


def slow(seconds: float, then: Fault | None = None) -> Fault:
    """*then* (a success by default), held back *seconds*: enough to trip a client's timeout."""

    def render(request: Request) -> Answer:
        answer = (then or success())(request)
        return attrs.evolve(
            answer, delay=answer.delay + seconds, summary=f"{answer.summary} after {seconds:g} s"
        )

    return Fault("slow", render)


def answer(
    status: int,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    *,
    delay: float = 0.0,
    reset: bool = False,
) -> Fault:
    """Exactly this answer. A dict or list body is sent as JSON, text as HTML."""
    out = dict(headers or {})
    if body is not None and not any(k.lower() == "content-type" for k in out):
        out["content-type"] = "application/json" if isinstance(body, (dict, list)) else "text/html"
    fixed = Answer(
        status,
        out,
        encode(body),
        delay=delay,
        reset=reset,
        fault="answer",
        summary="connection reset" if reset else f"{status} as scripted",
    )
    return Fault("answer", lambda request: fixed)


# ---------------------------------------------------------------------- rate limits and quota


def _duration(seconds: float) -> str:
    """A wait as OpenAI writes it in headers and messages: ``644ms``, ``3.89s``, ``18.642s``
    (rounded up to the millisecond, so that it never understates the wait)."""
    ms = max(1, math.ceil(seconds * 1000 - 1e-6))
    if ms < 1000:
        return f"{ms}ms"
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"


def _check_signal(signal: str) -> None:
    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")


def _told(retry_after: float, signal: str) -> tuple[dict[str, str], bool]:
    """The headers that tell *retry_after* as *signal* says, and whether the message does."""
    ms = str(max(1, math.ceil(retry_after * 1000 - 1e-6)))
    whole = str(max(1, math.ceil(retry_after - 1e-9)))
    headers = {
        "precise": {"retry-after-ms": ms, "retry-after": whole},
        "integer": {"retry-after": whole},
        "ms": {"retry-after-ms": ms},
    }.get(signal, {})
    return headers, signal in ("precise", "message")


def _azure_rate_limit(request: Request, retry_after: float, told: bool) -> dict[str, Any]:
    whole = max(1, math.ceil(retry_after - 1e-9))
    hint = f" Please retry after {whole} second{'s' if whole != 1 else ''}." if told else ""
    message = (
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        f"{request.query.get('api-version', '2024-06-01')} have exceeded token rate limit of your "
        f"current OpenAI S0 pricing tier.{hint} Please go here: https://aka.ms/oai/quotaincrease "
        "if you would like to further increase the default rate limit."
    )
    return _azure_error("429", message)


_RATE_LIMITS = "Visit https://platform.openai.com/account/rate-limits to learn more."


def rate_limited(retry_after: float = 1.0, signal: str = "precise", *, limit: int = 60) -> Fault:
    """A 429 rate limit asking to wait *retry_after* seconds, of a limit of *limit*
    requests per minute.

    *signal* says how the wait is told: ``precise`` (``retry-after-ms``,
    ``retry-after`` and ``x-ratelimit-*`` headers, and the message), ``integer``
    (``retry-after`` in whole seconds, rounded up, and no wait in the message),
    ``ms`` (only ``retry-after-ms``), ``message`` (only "Please try again in ..." in
    the message) or ``none``.
    """
    _check_signal(signal)
    headers, told = _told(retry_after, signal)
    if signal == "precise":
        headers.update(
            {
                "x-ratelimit-limit-requests": str(limit),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": _duration(retry_after),
            }
        )
    summary = f"429 rate limit, wait {retry_after:g} s ({signal})"

    def render(request: Request) -> Answer:
        if request.flavour == GATEWAY:
            return _gateway(
                request, "4008", "Rate limit reached, please slow down", fault="rate_limited"
            )
        if request.flavour == AZURE:
            body = _azure_rate_limit(request, retry_after, told)
        else:
            hint = f" Please try again in {_duration(retry_after)}." if told else ""
            message = (
                f"Rate limit reached for {request.model or 'gpt-4o'} in organization org-compat on requests "
                f"per min (RPM): Limit {limit}, Used {limit}, Requested 1.{hint} {_RATE_LIMITS}"
            )
            body = _openai_error(message, "requests", "rate_limit_exceeded")
        return _json(request, 429, body, headers, fault="rate_limited", summary=summary)

    return Fault("rate_limited", render)


def tokens_limited(
    retry_after: float, signal: str = "precise", *, limit: int, used: int, requested: int
) -> Fault:
    """OpenAI's 429 for a tokens-per-minute limit: "Rate limit reached for gpt-4o in
    organization org-... on tokens per min (TPM): Limit 30000, Used 29800, Requested
    1200. Please try again in 2.4s.", type ``tokens``, code ``rate_limit_exceeded``.

    *signal* tells the wait as for :func:`rate_limited` (without its made-up
    ``x-ratelimit-*`` headers: :class:`~compat.testing.TokenLimit` adds its own). Azure
    says it in its own words; the seed gateway delivers the upstream error under code
    2000, as its documentation shows.

    The wording is OpenAI's, as users quote it, e.g.
    https://github.com/BuilderIO/micro-agent/issues/86 ("... Limit 30000, Used 29937,
    Requested 385. Please try again in 644ms.") and
    https://github.com/continuedev/continue/issues/10502 ("... Please try again in 3.89s.").
    """
    _check_signal(signal)
    headers, told = _told(retry_after, signal)
    summary = f"429 tokens per min, {requested} asked, wait {retry_after:.3g} s ({signal})"

    def openai(request: Request) -> dict[str, Any]:
        hint = f" Please try again in {_duration(retry_after)}." if told else ""
        message = (
            f"Rate limit reached for {request.model or 'gpt-4o'} in organization org-compat on tokens "
            f"per min (TPM): Limit {limit}, Used {used}, Requested {requested}.{hint} {_RATE_LIMITS}"
        )
        return _openai_error(message, "tokens", "rate_limit_exceeded")

    def render(request: Request) -> Answer:
        if request.flavour == GATEWAY:
            return _gateway(request, "2000", "", fault="rate_limited", response=openai(request))
        body = (
            _azure_rate_limit(request, retry_after, told)
            if request.flavour == AZURE
            else openai(request)
        )
        return _json(request, 429, body, headers, fault="rate_limited", summary=summary)

    return Fault("rate_limited", render)


def request_too_large(limit: int, requested: int) -> Fault:
    """OpenAI's 429 for a request larger than a whole tokens-per-minute limit: "Request too
    large for gpt-4o in organization org-... on tokens per min (TPM): Limit 30000,
    Requested 45000. The input or output tokens must be reduced in order to run
    successfully." (type ``tokens``, code ``rate_limit_exceeded``; no wait: it can never
    pass). Through the seed gateway, code 2000 around it.

    The body is OpenAI's, as users quote it, e.g.
    https://github.com/DrShushen/climb/issues/13 and
    https://github.com/TheR1D/shell_gpt/issues/653."""

    def render(request: Request) -> Answer:
        body = _openai_error(
            f"Request too large for {request.model or 'gpt-4o'} in organization org-compat on tokens "
            f"per min (TPM): Limit {limit}, Requested {requested}. The input or output tokens must "
            f"be reduced in order to run successfully. {_RATE_LIMITS}",
            "tokens",
            "rate_limit_exceeded",
        )
        if request.flavour == GATEWAY:
            return _gateway(request, "2000", "", fault="request_too_large", response=body)
        return _json(
            request,
            429,
            body,
            fault="request_too_large",
            summary=f"429 request too large: {requested} tokens, limit {limit} per min",
        )

    return Fault("request_too_large", render)


def quota_exceeded() -> Fault:
    """The 429 that means the money is gone: ``insufficient_quota`` (gateway code 4013)."""

    def render(request: Request) -> Answer:
        if request.flavour == GATEWAY:
            return _gateway(request, "4013", "Insufficient balance", fault="quota_exceeded")
        if request.flavour == AZURE:
            body = _azure_error(
                "403",
                "Out of call volume quota for AzureOpenAI. Quota will be replenished in 2.01:55:44.",
            )
            return _json(
                request, 403, body, fault="quota_exceeded", summary="403 out of call volume quota"
            )
        body = _openai_error(
            "You exceeded your current quota, please check your plan and billing details. For more "
            "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            "insufficient_quota",
        )
        return _json(request, 429, body, fault="quota_exceeded", summary="429 insufficient_quota")

    return Fault("quota_exceeded", render)


# ---------------------------------------------------------------------- server failures


def _error(
    name: str,
    status: int,
    summary: str,
    gateway: tuple[str, str],
    azure: dict[str, Any],
    openai: dict[str, Any] | Callable[[Request], dict[str, Any]],
) -> Fault:
    """An error each flavour says its own way: the gateway's *(code, reason)* in an
    envelope under HTTP 200; Azure's and OpenAI's bodies (OpenAI's may depend on the
    request) under *status*."""

    def render(request: Request) -> Answer:
        if request.flavour == GATEWAY:
            code, reason = gateway
            return _gateway(request, code, reason, fault=name)
        body = azure if request.flavour == AZURE else openai
        if callable(body):
            body = body(request)
        return _json(request, status, body, fault=name, summary=summary)

    return Fault(name, render)


def server_error(status: int = 500) -> Fault:
    """A 500 (or *status*) from the service; gateway code 4000."""
    message = "The server had an error while processing your request. Sorry about that!"
    return _error(
        "server_error",
        status,
        f"{status} server error",
        ("4000", "Upstream server error"),
        _azure_error("InternalServerError", message),
        _openai_error(message, "server_error", None),
    )


def overloaded() -> Fault:
    """A 503 "engine overloaded"; gateway code 4009."""
    return _error(
        "overloaded",
        503,
        "503 overloaded",
        ("4009", "The upstream service is overloaded"),
        _azure_error(
            "ServiceUnavailable",
            "The service is temporarily unable to process your request. Please try again later.",
        ),
        _openai_error(
            "The engine is currently overloaded, please try again later.", "server_error", None
        ),
    )


HTML_PAGES = {
    502: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    503: "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>Service Temporarily Unavailable</h1><p>The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later.</p></body></html>",
    504: "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    520: '<!DOCTYPE html>\n<html lang="en-US"><head><title>api.openai.com | 520: Web server is returning an unknown error</title></head><body><div id="cf-wrapper"><h1>Web server is returning an unknown error <span class="code-label">Error code 520</span></h1><p>Cloudflare Ray ID: <strong>8a1b2c3d4e5f6a7b</strong></p></div></body></html>',
}


def html_page(status: int = 502) -> Fault:
    """An HTML error page from a proxy in front of the service (nginx, Cloudflare)."""
    page = HTML_PAGES.get(status, HTML_PAGES[502].replace("502 Bad Gateway", f"{status} Error"))

    def render(request: Request) -> Answer:
        headers = {
            "content-type": "text/html",
            "server": "nginx" if status != 520 else "cloudflare",
        }
        return Answer(
            status,
            headers,
            page.encode(),
            fault="html_page",
            summary=f"{status} HTML page from a proxy",
        )

    return Fault("html_page", render)


def reset(after_bytes: int | None = None) -> Fault:
    """Close the connection with a TCP reset: without answering, or with *after_bytes*,
    mid-answer: after the status line, the headers of a success (announcing its whole
    body) and the first *after_bytes* bytes of its body."""
    if after_bytes is None:
        return Fault(
            "reset",
            lambda request: Answer(0, reset=True, fault="reset", summary="connection reset"),
        )
    if after_bytes < 0:
        raise ValueError(f"after_bytes is a count of bytes, not {after_bytes}")

    def render(request: Request) -> Answer:
        return attrs.evolve(
            _success(request),
            truncate=after_bytes,
            fault="reset",
            summary=f"connection reset after {after_bytes} bytes of a 200",
        )

    return Fault("reset", render)


def stream_error(after: int = 2) -> Fault:
    """A stream that sends *after* events, then an error event; a 500 to a request that
    did not ask to stream."""

    def render(request: Request) -> Answer:
        if not request.stream or request.flavour == GATEWAY:
            return server_error()(request)
        good = _success(request)
        event = _bodies.sse(
            _openai_error(
                "The server had an error while processing your request.", "server_error", None
            )
        )
        chunks = (*(good.chunks or ())[:after], event)
        return attrs.evolve(
            good,
            chunks=chunks,
            fault="stream_error",
            summary=f"200 stream, error event after {after} events",
        )

    return Fault("stream_error", render)


def stream_reset(after: int = 2) -> Fault:
    """A stream cut off after *after* events; a reset to a request that did not ask to stream."""

    def render(request: Request) -> Answer:
        if not request.stream or request.flavour == GATEWAY:
            return reset()(request)
        good = _success(request)
        chunks = (good.chunks or ())[:after]
        return attrs.evolve(
            good,
            chunks=chunks,
            cut=True,
            fault="stream_reset",
            summary=f"200 stream, cut after {after} events",
        )

    return Fault("stream_reset", render)


# ---------------------------------------------------------------------- client errors


def unauthorized() -> Fault:
    """A 401 for a wrong key; gateway code 4005."""
    return _error(
        "unauthorized",
        401,
        "401 invalid key",
        ("4005", "Invalid authentication credentials"),
        _azure_error(
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
            "valid key for an active subscription and use a correct regional API endpoint for your resource.",
        ),
        _openai_error(
            "Incorrect API key provided: sk-test****. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
    )


def context_length() -> Fault:
    """A 400 ``context_length_exceeded``; through the gateway, code 2000 around the upstream error."""

    def render(request: Request) -> Answer:
        body = _openai_error(
            "This model's maximum context length is 128000 tokens. However, your messages resulted in "
            "130412 tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            "context_length_exceeded",
            "messages",
        )
        if request.flavour == GATEWAY:
            return _gateway(request, "2000", "", fault="context_length", response=body)
        return _json(
            request, 400, body, fault="context_length", summary="400 context_length_exceeded"
        )

    return Fault("context_length", render)


def content_filtered() -> Fault:
    """Azure's 400 ``content_filter`` with its per-category verdicts (for every flavour)."""

    def render(request: Request) -> Answer:
        body = {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                "management policy. Please modify your prompt and retry.",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                        "hate": {"filtered": False, "severity": "safe"},
                        "self_harm": {"filtered": False, "severity": "safe"},
                        "sexual": {"filtered": False, "severity": "safe"},
                        "violence": {"filtered": True, "severity": "high"},
                    },
                },
            }
        }
        if request.flavour == GATEWAY:
            return _gateway(request, "2000", "", fault="content_filtered", response=body)
        return _json(request, 400, body, fault="content_filtered", summary="400 content_filter")

    return Fault("content_filtered", render)


def not_found() -> Fault:
    """A 404 for a model or deployment that does not exist; gateway code 4010."""
    return _error(
        "not_found",
        404,
        "404 not found",
        ("4010", "Method not found"),
        _azure_error(
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. If you created the deployment within "
            "the last 5 minutes, please wait a moment and try again.",
        ),
        lambda request: _openai_error(
            f"The model `{request.model or 'gpt-5'}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
    )


def gateway_code(code: str, reason: str = "", response: Any = None) -> Fault:
    """The seed gateway's envelope with *code* under HTTP 200, whatever the request's flavour."""
    name = f"gateway_{code}"

    def render(request: Request) -> Answer:
        return _gateway(
            request, code, reason or f"gateway code {code}", fault=name, response=response
        )

    return Fault(name, render)


#: Every named fault with its default arguments: the standalone server's ``--faults`` choices.
NAMED: dict[str, Callable[[], Fault]] = {
    "rate_limited": lambda: rate_limited(0.05),
    "rate_limited_integer": lambda: rate_limited(1.0, "integer"),
    "rate_limited_message": lambda: rate_limited(0.05, "message"),
    "rate_limited_bare": lambda: rate_limited(0.05, "none"),
    "quota_exceeded": quota_exceeded,
    "server_error": server_error,
    "overloaded": overloaded,
    "html_page": html_page,
    "reset": reset,
    "reset_mid_answer": lambda: reset(after_bytes=64),
    "stream_error": stream_error,
    "stream_reset": stream_reset,
    "unauthorized": unauthorized,
    "context_length": context_length,
    "content_filtered": content_filtered,
    "not_found": not_found,
    "gateway_4017": lambda: gateway_code("4017", "Upstream request timed out"),
}
