"""The fault server itself: its rules' arithmetic, scripts, counts, flavours and the serve command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

import compat
from compat.testing import (
    FaultServer,
    Latency,
    Noise,
    Outage,
    Quota,
    RandomFaults,
    Request,
    TokenBucket,
    TokenLimit,
    estimate_tokens,
    faults,
    rules_from_options,
)
from compat.testing._faults import AZURE, GATEWAY, OPENAI

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
PATHS = {
    OPENAI: "/v1/chat/completions",
    AZURE: "/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01",
    GATEWAY: "/openai/custom?key=k&secret=s&method=v1/chat/completions&_o_args=" + json.dumps(CHAT),
}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def request(flavour: str = OPENAI, stream: bool = False, **fields: Any) -> Request:
    """A request as the server parses it, without sending one (*fields* join the body)."""
    body = json.dumps({**CHAT, "stream": stream, **fields}).encode()
    server = FaultServer.__new__(FaultServer)  # _parse reads nothing from the instance
    parsed = FaultServer._parse(server, "POST", PATHS[flavour], {}, body)
    parsed.index = 7
    return parsed


def test_parse_tells_the_flavours_apart() -> None:
    """OpenAI, Azure and gateway paths are told apart, with their endpoint and model."""
    assert (OPENAI, "chat", "gpt-4o") == (
        request(OPENAI).flavour,
        request(OPENAI).endpoint,
        request(OPENAI).model,
    )
    azure = request(AZURE)
    assert (AZURE, "chat", "gpt4o") == (azure.flavour, azure.endpoint, azure.model)
    gateway = request(GATEWAY)
    assert (GATEWAY, "chat", "gpt-4o") == (gateway.flavour, gateway.endpoint, gateway.model)
    assert request(OPENAI, stream=True).stream


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/openai/responses?api-version=2025-03-01-preview", "responses"),
        ("/openai/v1/chat/completions", "chat"),
    ],
)
def test_azure_routes_without_a_deployment(path: str, endpoint: str) -> None:
    """Azure's routes that name no deployment (AzureOpenAI's responses, the v1 API) are
    Azure's; the model comes from the body."""
    server = FaultServer.__new__(FaultServer)
    parsed = FaultServer._parse(server, "POST", path, {}, json.dumps(CHAT).encode())
    assert (AZURE, endpoint, "gpt-4o") == (parsed.flavour, parsed.endpoint, parsed.model)


# ---------------------------------------------------------------------- rules


def test_token_bucket_arithmetic() -> None:
    """The bucket passes its burst, then asks for the exact wait until the next token."""
    clock = Clock()
    bucket = TokenBucket(rate=20, burst=5, clock=clock)
    passed = [bucket(request()) is None for _ in range(6)]
    assert [True] * 5 + [False] == passed
    # Empty: the next token is 1/20 s away, and the 429 says so exactly.
    answer = bucket(request())(request())  # type: ignore[misc]
    assert 429 == answer.status
    assert "50" == answer.headers["retry-after-ms"]
    clock.now += 0.025  # half a token
    answer = bucket(request())(request())  # type: ignore[misc]
    assert "25" == answer.headers["retry-after-ms"]
    clock.now += 0.125  # 3 tokens
    assert [True, True, True, False] == [bucket(request()) is None for _ in range(4)]
    assert 4 == bucket.limited
    clock.now += 10  # refills to the burst, not beyond
    assert 5 == sum(bucket(request()) is None for _ in range(8))


def test_token_bucket_tells_its_limits_on_success() -> None:
    """With precise signals a pass carries the bucket's limits; otherwise nothing."""
    bucket = TokenBucket(rate=10, burst=3, clock=Clock())
    first = request()
    assert bucket(first) is None
    assert {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-reset-requests": "100ms",
    } == first.extra_headers
    quiet = TokenBucket(rate=10, burst=3, signal="integer", clock=Clock())
    second = request()
    assert quiet(second) is None
    assert {} == second.extra_headers


@pytest.mark.parametrize(
    ("signal", "retry_after", "headers"),
    [
        ("precise", 0.25, {"retry-after-ms", "retry-after", "x-ratelimit-remaining-requests"}),
        ("integer", 1.0, {"retry-after"}),
        ("ms", 0.25, {"retry-after-ms"}),
        ("message", 0.25, set()),
        ("none", None, set()),
    ],
)
def test_rate_limit_signals(signal: str, retry_after: float | None, headers: set[str]) -> None:
    """Each signal mode tells the wait its own way, and compat reads each."""
    answer = faults.rate_limited(0.25, signal)(request())
    assert headers == {h for h in answer.headers if "retry" in h or "ratelimit" in h} & headers
    assert not ({h for h in answer.headers if "retry" in h} - headers)
    error = compat.from_response(answer.status, answer.headers, answer.body)
    assert error is not None
    assert "rate_limited" == error.kind
    assert retry_after == error.retry_after


def test_unknown_signal_is_refused() -> None:
    """A signal that is not one of SIGNALS is refused by the fault and the bucket."""
    with pytest.raises(ValueError, match="signal"):
        faults.rate_limited(1, "loud")
    with pytest.raises(ValueError, match="signal"):
        TokenBucket(1, 1, signal="loud")


def test_quota_runs_out() -> None:
    """Quota lets its requests through, then answers quota_exceeded to every one."""
    quota = Quota(2)
    assert [None, None] == [quota(request()), quota(request())]
    for _ in range(3):
        fault = quota(request())
        assert fault is not None
        assert "quota_exceeded" == fault.name


def test_outage_window() -> None:
    """Outage answers 503 from *after* for *seconds*, and not before or after."""
    clock = Clock()
    outage = Outage(2.0, after=1.0, clock=clock)
    assert outage(request()) is None
    clock.now += 1.0
    fault = outage(request())
    assert fault is not None
    assert 503 == fault(request()).status
    clock.now += 1.999
    assert outage(request()) is not None
    clock.now += 0.001
    assert outage(request()) is None


def test_random_faults_share_and_seed() -> None:
    """RandomFaults fails about its share, with its faults, the same way for the same seed."""
    chosen = [faults.server_error(), faults.reset()]
    rule = RandomFaults(0.3, chosen, seed=1)
    hits = [rule(request()) for _ in range(2000)]
    share = sum(h is not None for h in hits) / len(hits)
    assert 0.26 < share < 0.34
    assert {"server_error", "reset"} == {h.name for h in hits if h is not None}
    again = RandomFaults(0.3, chosen, seed=1)
    assert [h and h.name for h in hits] == [(f := again(request())) and f.name for _ in range(2000)]
    assert all(RandomFaults(0.0, chosen)(request()) is None for _ in range(100))
    assert all(RandomFaults(1.0, chosen)(request()) is not None for _ in range(100))
    with pytest.raises(ValueError, match="share"):
        RandomFaults(1.5, chosen)
    with pytest.raises(ValueError, match="at least one"):
        RandomFaults(0.5, [])


def test_noise_is_sporadic_header_less_and_short() -> None:
    """About a tenth of requests get a 429 that reveals no limit: half tell 20 ms only in
    ``retry-after-ms``, half 15 ms only in the message; compat reads both waits."""
    rule = Noise(0.1, seed=3)
    hits = [rule(request()) for _ in range(4000)]
    noisy = [h(request()) for h in hits if h is not None]
    assert 0.08 < len(noisy) / len(hits) < 0.12
    waits = []
    for answer in noisy:
        assert 429 == answer.status
        assert not [h for h in answer.headers if "ratelimit" in h or h == "retry-after"]
        error = compat.from_response(answer.status, answer.headers, answer.body)
        assert error is not None
        assert "rate_limited" == error.kind
        waits.append(error.retry_after)
    assert {0.02, 0.015} == set(waits)
    assert 0.4 < waits.count(0.02) / len(waits) < 0.6
    assert any("Please try again in 15ms" in a.body.decode() for a in noisy)
    assert all(("retry-after-ms" in a.headers) != (b"try again" in a.body) for a in noisy)
    again = Noise(0.1, seed=3)
    assert [h and h.name for h in hits] == [(f := again(request())) and f.name for _ in hits]
    assert all(Noise(0.0)(request()) is None for _ in range(100))
    with pytest.raises(ValueError, match="share"):
        Noise(1.5)


@pytest.mark.parametrize(
    ("rules", "fault", "delay"),
    [
        ([Latency(0.3)], "success", 0.3),
        ([Noise(1.0), Latency(0.3)], "rate_limited", 0.0),
        ([Latency(0.3), Quota(0)], "quota_exceeded", 0.0),
        ([Latency(0.3), TokenBucket(10, 1)], "success", 0.3),
    ],
)
def test_latency_holds_back_successes_only(rules: list[Any], fault: str, delay: float) -> None:
    """Latency holds back the successes of the requests that reach it, never a failure."""
    with FaultServer(rules=rules) as server:
        answer = server._choose(request())
    assert (fault, delay) == (answer.fault, answer.delay)
    with pytest.raises(ValueError, match="latency"):
        Latency(-1)


def test_estimate_tokens_as_openai_charges() -> None:
    """The prompt at 4 characters a token (rounded up), plus the most the completion may
    take times n; per endpoint."""
    chat = {"messages": [{"role": "user", "content": "x" * 398, "name": "al"}], "max_tokens": 50}
    assert (100, 50) == estimate_tokens(chat)
    assert (100, 300) == estimate_tokens({**chat, "max_completion_tokens": 100, "n": 3})
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 9}]}]}
    assert (3, 0) == estimate_tokens(parts)
    assert (5, 32) == estimate_tokens(
        {"prompt": ["a" * 8, "b" * 12], "max_tokens": 16, "n": 2}, "completions"
    )
    assert (2, 0) == estimate_tokens({"input": "z" * 8, "max_tokens": 99}, "embeddings")
    assert (4, 64) == estimate_tokens(
        {"input": "q" * 10, "instructions": "r" * 6, "max_output_tokens": 64}, "responses"
    )
    assert (0, 0) == estimate_tokens(None)


def tokens(chars: int, max_tokens: int) -> Request:
    """A chat request charged ``chars / 4 + max_tokens`` tokens."""
    return request(messages=[{"role": "user", "content": "x" * chars}], max_tokens=max_tokens)


def test_token_limit_arithmetic() -> None:
    """A 6,000 TPM limit (100 tokens a second): five requests of 1,200 empty it; the sixth
    is told OpenAI's TPM message with the exact wait; refills count; a request above the
    whole limit is too large."""
    clock = Clock()
    limit = TokenLimit(6000, clock=clock)
    assert [None] * 5 == [limit(tokens(800, 1000)) for _ in range(5)]
    sixth = tokens(800, 1000)
    fault = limit(sixth)
    assert fault is not None
    answer = fault(sixth)
    assert 429 == answer.status
    error = json.loads(answer.body)["error"]
    assert ("tokens", "rate_limit_exceeded") == (error["type"], error["code"])
    assert error["message"] == (
        "Rate limit reached for gpt-4o in organization org-compat on tokens per min (TPM): "
        "Limit 6000, Used 6000, Requested 1200. Please try again in 12s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more."
    )
    assert "12000" == answer.headers["retry-after-ms"]
    assert {
        "x-ratelimit-limit-tokens": "6000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "60s",
    } == sixth.extra_headers
    clock.now += 6.5  # 650 tokens back
    again = tokens(800, 1000)
    answer = limit(again)(again)  # type: ignore[misc]
    assert "5500" == answer.headers["retry-after-ms"]
    assert "Used 5350, Requested 1200. Please try again in 5.5s." in answer.body.decode()
    clock.now += 5.5
    assert limit(tokens(800, 1000)) is None
    assert 2 == limit.limited
    huge = tokens(4 * 5000, 1001)
    answer = limit(huge)(huge)  # type: ignore[misc]
    assert "request_too_large" == answer.fault
    assert (
        "Request too large for gpt-4o in organization org-compat on tokens per min (TPM): "
        "Limit 6000, Requested 6001. The input or output tokens must be reduced in order to "
        "run successfully."
    ) in answer.body.decode()
    read = compat.from_response(answer.status, answer.headers, answer.body)
    assert read is not None
    assert ("rate_limited", False) == (read.kind, read.retryable)


def test_token_limit_over_a_short_period() -> None:
    """Enforced over 1 s, a 60,000 TPM limit holds 1,000 tokens: a request of 1,500 passes
    once the bucket is full, and the next waits for the debt to be paid back."""
    clock = Clock()
    limit = TokenLimit(60000, period=1, clock=clock)
    assert limit(tokens(4 * 1500, 0)) is None
    small = tokens(400, 0)
    answer = limit(small)(small)  # type: ignore[misc]
    assert "600" == answer.headers["retry-after-ms"]  # 500 owed + 100 asked, at 1,000 a second
    clock.now += 0.6
    assert limit(tokens(400, 0)) is None
    assert "TokenLimit(tokens_per_minute=60000, period=1, signal='precise')" == repr(limit)


def test_token_limit_with_a_request_limit() -> None:
    """With requests_per_minute, the RPM limit is kept too and told in its own headers."""
    clock = Clock()
    limit = TokenLimit(100000, requests_per_minute=2, clock=clock)
    first = tokens(4, 0)
    assert limit(first) is None
    assert "1" == first.extra_headers["x-ratelimit-remaining-requests"]
    assert "30s" == first.extra_headers["x-ratelimit-reset-requests"]
    assert limit(tokens(4, 0)) is None
    third = tokens(4, 0)
    answer = limit(third)(third)  # type: ignore[misc]
    assert "30000" == answer.headers["retry-after-ms"]
    assert "on requests per min (RPM): Limit 2, Used 2" in answer.body.decode()
    assert "0" == third.extra_headers["x-ratelimit-remaining-requests"]


def test_token_limit_signals_and_free_endpoints() -> None:
    """Without precise signals no x-ratelimit headers are told; listing models is free."""
    clock = Clock()
    quiet = TokenLimit(60, signal="message", clock=clock)
    assert quiet(tokens(4, 59)) is None
    blocked = tokens(4, 10)
    answer = quiet(blocked)(blocked)  # type: ignore[misc]
    assert {} == blocked.extra_headers
    assert not [h for h in answer.headers if "retry" in h]
    assert "Requested 11. Please try again in 11s." in answer.body.decode()
    models = FaultServer._parse(FaultServer.__new__(FaultServer), "GET", "/v1/models", {}, b"")
    assert quiet(models) is None
    with pytest.raises(ValueError, match="period"):
        TokenLimit(100, period=0)
    with pytest.raises(ValueError, match="signal"):
        TokenLimit(100, signal="loud")


def test_token_limit_over_http_reports_the_tokens_charged(fault_server: FaultServer) -> None:
    """A success through the server says the tokens charged in its usage and headers; a
    request over the limit gets the TPM 429, which compat reads with its wait."""
    fault_server.add_rule(TokenLimit(3000))
    body = {**CHAT, "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}
    with requests.Session() as session:
        answer = session.post(fault_server.openai_url + "/chat/completions", json=body, timeout=5)
        assert 200 == answer.status_code
        assert {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150} == (
            answer.json()["usage"]
        )
        assert "2850" == answer.headers["x-ratelimit-remaining-tokens"]
        assert "3000" == answer.headers["x-ratelimit-limit-tokens"]
        big = {**body, "max_tokens": 2900}
        refused = session.post(fault_server.openai_url + "/chat/completions", json=big, timeout=5)
    assert 429 == refused.status_code
    error = compat.from_response(refused.status_code, refused.headers, refused.content)
    assert error is not None
    assert "rate_limited" == error.kind
    assert error.retry_after is not None
    assert 2.9 < error.retry_after <= 3.0


# ---------------------------------------------------------------------- every fault, every flavour

# What compat must make of each fault, per flavour (None: the same for all three).
EXPECTED: dict[str, dict[str | None, str]] = {
    "rate_limited": {None: "rate_limited"},
    "rate_limited_integer": {None: "rate_limited"},
    "rate_limited_message": {None: "rate_limited"},
    "rate_limited_bare": {None: "rate_limited"},
    "quota_exceeded": {None: "quota_exceeded"},
    "server_error": {None: "server_error"},
    "overloaded": {None: "overloaded"},
    "html_page": {None: "server_error"},
    "stream_error": {None: "server_error"},
    "unauthorized": {None: "authentication"},
    "context_length": {None: "context_length_exceeded"},
    "content_filtered": {None: "content_filtered"},
    "not_found": {None: "not_found"},
    "gateway_4017": {None: "timeout"},
}


@pytest.mark.parametrize("flavour", [OPENAI, AZURE, GATEWAY])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fault_reads_as_its_kind(name: str, flavour: str) -> None:
    """Each named fault, rendered for each flavour, is what compat classifies it as, with the
    provider the flavour implies."""
    answer = faults.NAMED[name]()(request(flavour))
    error = compat.from_response(answer.status, answer.headers, answer.body)
    assert error is not None, answer
    expected = EXPECTED[name].get(flavour) or EXPECTED[name][None]
    assert expected == error.kind, (answer.status, answer.body[:300])
    if name != "html_page":
        provider = {OPENAI: "openai", AZURE: "azure", GATEWAY: "gateway"}[flavour]
        if name == "gateway_4017":
            provider = "gateway"  # an envelope whatever the path
        if name == "content_filtered" and flavour == OPENAI:
            provider = "azure"  # only Azure filters this way, and its body says so
        assert provider == error.provider


def test_each_named_fault_has_one_name() -> None:
    """The gateway's timeout goes by one name, in ``--faults`` and in the counts alike."""
    assert "gateway_timeout" not in faults.NAMED
    assert "gateway_4017" == faults.NAMED["gateway_4017"]().name
    with FaultServer(rules=[RandomFaults(1.0, [faults.NAMED["gateway_4017"]()])]) as server:
        post(server)
        assert 1 == server.count(fault="gateway_4017")


@pytest.mark.parametrize("flavour", [OPENAI, AZURE, GATEWAY])
def test_success_reads_as_success(flavour: str) -> None:
    """A success in each flavour is no error to compat."""
    answer = faults.success()(request(flavour))
    assert 200 == answer.status
    assert compat.from_response(answer.status, answer.headers, answer.body) is None


# ---------------------------------------------------------------------- over HTTP


def post(server: FaultServer, flavour: str = OPENAI, **kwargs: Any) -> requests.Response:
    with requests.Session() as session:
        return session.post(server.url + PATHS[flavour], json=CHAT, timeout=5, **kwargs)


def test_script_then_success_and_counts(fault_server: FaultServer) -> None:
    """Scripted faults come in order, then successes; the counts say so."""
    fault_server.script(faults.overloaded(), faults.rate_limited(0.1), times=2)
    assert 4 == fault_server.pending
    statuses = [post(fault_server).status_code for _ in range(6)]
    assert [503, 429, 503, 429, 200, 200] == statuses
    assert statuses == fault_server.answered
    assert 2 == fault_server.count(status=429)
    assert 2 == fault_server.count(fault="overloaded")
    assert 2 == fault_server.count(fault="success", flavour=OPENAI)
    assert {
        "requests": 6,
        "kept": 6,
        "by_status": {"503": 2, "429": 2, "200": 2},
        "by_fault": {"overloaded": 2, "rate_limited": 2, "success": 2},
    } == fault_server.stats()
    assert [r.index for r in fault_server.requests] == list(range(6))


def test_rules_come_before_the_script(fault_server: FaultServer) -> None:
    """A rule's fault is sent before the script's next fault."""
    fault_server.add_rule(Quota(1))
    fault_server.script(faults.server_error())
    assert [500, 429] == [post(fault_server).status_code for _ in range(2)]
    assert 0 == fault_server.pending


def test_realistic_successes(fault_server: FaultServer) -> None:
    """Chat, embeddings, responses, the gateway and Azure answer as the real services do."""
    chat = post(fault_server).json()
    assert "chat.completion" == chat["object"]
    assert chat["choices"][0]["message"]["content"]
    with requests.Session() as session:
        embedding = session.post(
            fault_server.openai_url + "/embeddings", json={"input": ["a", "b"], "model": "m"}
        ).json()
        assert 2 == len(embedding["data"])
        response = session.post(
            fault_server.openai_url + "/responses", json={"input": "hi", "model": "gpt-4o"}
        ).json()
        assert "completed" == response["status"]
        gateway = session.get(fault_server.url + PATHS[GATEWAY]).json()
        assert "0000" == gateway["error_code"]
        assert "chat.completion" == gateway["response"]["object"]
        azure = post(fault_server, AZURE)
        assert "apim-request-id" in azure.headers
        assert "prompt_filter_results" in azure.json()


def test_stream_is_server_sent_events(fault_server: FaultServer) -> None:
    """A streamed chat is server-sent events ending with [DONE]."""
    with requests.Session() as session:
        answer = session.post(
            fault_server.openai_url + "/chat/completions", json={**CHAT, "stream": True}
        )
    assert "text/event-stream" == answer.headers["content-type"]
    events = [line for line in answer.text.split("\n\n") if line]
    assert "data: [DONE]" == events[-1]
    assert all(event.startswith("data: {") for event in events[:-1])


def test_reset_slow_and_html(fault_server: FaultServer) -> None:
    """reset, slow and html_page reach the client as a reset, a timeout and a 502 page."""
    fault_server.script(faults.reset(), faults.slow(2.0), faults.html_page(502))
    with pytest.raises(requests.ConnectionError):
        post(fault_server)
    with requests.Session() as session, pytest.raises(requests.Timeout):
        session.post(fault_server.openai_url + "/chat/completions", json=CHAT, timeout=0.3)
    page = post(fault_server)
    assert 502 == page.status_code
    assert page.text.startswith("<html>")
    assert [0, 200, 502] == fault_server.answered


def test_reset_mid_answer(fault_server: FaultServer) -> None:
    """The status line and headers of a success arrive, announcing the whole body; after
    at most *after_bytes* of it the connection is reset."""
    fault_server.script(faults.reset(after_bytes=10), faults.reset(after_bytes=10))
    with requests.Session() as session:
        answer = session.post(
            fault_server.openai_url + "/chat/completions", json=CHAT, stream=True, timeout=5
        )
        assert 200 == answer.status_code
        assert int(answer.headers["content-length"]) > 10
        received = bytearray()

        def read_all() -> None:
            for piece in answer.iter_content(1):
                received.extend(piece)

        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            read_all()
        assert len(received) <= 10
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            session.post(
                fault_server.openai_url + "/chat/completions",
                json={**CHAT, "stream": True},
                timeout=5,
            )
    assert ["reset", "reset"] == [r.answer.fault for r in fault_server.requests if r.answer]
    with pytest.raises(ValueError, match="count of bytes"):
        faults.reset(after_bytes=-1)


def test_stream_reset_cuts_the_body(fault_server: FaultServer) -> None:
    """stream_reset cuts the stream off after its events."""
    fault_server.script(faults.stream_reset(after=2))
    with requests.Session() as session:
        answer = session.post(
            fault_server.openai_url + "/chat/completions",
            json={**CHAT, "stream": True},
            stream=True,
        )
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(answer.iter_content(None))


def test_api_key_is_checked(fault_server: FaultServer) -> None:
    """With api_key set, a wrong key gets 401 and the right one (bearer or api-key) passes."""
    fault_server.api_key = "sk-right"
    assert 401 == post(fault_server, headers={"authorization": "Bearer sk-wrong"}).status_code
    assert 200 == post(fault_server, headers={"authorization": "Bearer sk-right"}).status_code
    assert 200 == post(fault_server, AZURE, headers={"api-key": "sk-right"}).status_code


def test_close_wakes_a_held_answer() -> None:
    """close() does not wait for an answer held back by slow(): the client sees it fail."""
    server = FaultServer()
    server.script(faults.slow(30))
    session = requests.Session()
    try:
        started = time.monotonic()
        import threading

        failed: list[BaseException] = []

        def call() -> None:
            try:
                session.post(server.openai_url + "/chat/completions", json=CHAT, timeout=10)
            except requests.RequestException as exc:
                failed.append(exc)

        worker = threading.Thread(target=call)
        worker.start()
        assert server.wait_for(1)
        server.close()
        worker.join(5)
        assert not worker.is_alive()
        assert time.monotonic() - started < 5
        assert failed
    finally:
        session.close()
        server.close()


def test_control_endpoints(fault_server: FaultServer) -> None:
    """POST /_compat/config reconfigures, GET /_compat/stats counts, unknown options are 400."""
    with requests.Session() as session:
        configured = session.post(
            fault_server.url + "/_compat/config", json={"rate": 1, "burst": 1, "signal": "integer"}
        )
        assert 200 == configured.status_code
        assert ["TokenBucket(rate=1, burst=1, signal='integer')"] == configured.json()["rules"]
        assert [200, 429] == [post(fault_server).status_code for _ in range(2)]
        stats = session.get(fault_server.url + "/_compat/stats").json()
        assert {"200": 1, "429": 1} == stats["by_status"]
        refused = session.post(fault_server.url + "/_compat/config", json={"colour": "red"})
        assert 400 == refused.status_code
        assert "colour" in refused.json()["error"]
        assert 404 == session.get(fault_server.url + "/_compat/nothing").status_code


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"rate": 5, "burst": 0}, "burst"),
        ({"burst": 3}, "burst"),
        ({"rate": 0}, "rate"),
        ({"rate": "fast"}, "rate"),
        ({"rate": True}, "rate"),
        ({"outage": -5}, "outage"),
        ({"quota": -1}, "quota"),
        ({"quota": 1.5}, "quota"),
        ({"faults": "nosuch"}, "nosuch"),
        ({"faults": "reset"}, "faults"),
        ({"fault_rate": 2}, "fault_rate"),
        ({"fault_rate": 0.1, "faults": ["reset", 7]}, "faults"),
        ({"signal": "loud", "rate": 1}, "signal"),
        ({"seed": "abc", "fault_rate": 0.1}, "seed"),
        ({"seed": 1}, "seed"),
        ({"noise": 1.1}, "noise"),
        ({"tpm": 0}, "tpm"),
        ({"rpm": 100}, "rpm"),
        ({"tpm": 1000, "period": 61}, "period"),
        ({"signal": "integer"}, "signal"),
        ({"latency": -0.5}, "latency"),
    ],
)
def test_config_refuses_bad_options_with_a_one_line_reason(
    fault_server: FaultServer, options: dict[str, Any], named: str
) -> None:
    """``POST /_compat/config`` with a bad option answers 400 with one line naming it, and
    the server keeps the configuration it had."""
    fault_server.configure({"quota": 1})
    with requests.Session() as session:
        refused = session.post(fault_server.url + "/_compat/config", json=options, timeout=5)
    assert 400 == refused.status_code
    reason = refused.json()["error"]
    assert "\n" not in reason
    assert named in reason
    assert ["Quota(left=1)"] == [repr(r) for r in fault_server.rules]


def test_config_that_is_not_a_json_object_is_refused(fault_server: FaultServer) -> None:
    """A configuration that is not JSON, or not an object, is a 400 that says so in one line."""
    with requests.Session() as session:
        for body in (b"{not json", b"[1, 2]"):
            refused = session.post(fault_server.url + "/_compat/config", data=body, timeout=5)
            assert 400 == refused.status_code
            reason = refused.json()["error"]
            assert "\n" not in reason
            assert "JSON" in reason


def test_rules_from_options() -> None:
    """Each option makes its rule, in the documented order; unknown fault names are refused."""
    rules = rules_from_options(
        {
            "rate": 5,
            "burst": 2,
            "quota": 10,
            "outage": 1,
            "fault_rate": 0.3,
            "faults": "reset,html_page",
        }
    )
    assert [Outage, Quota, RandomFaults, TokenBucket] == [type(r) for r in rules]
    rules = rules_from_options(
        {"noise": 0.1, "tpm": 30000, "rpm": 500, "period": 1, "latency": 0.1}
    )
    assert [Noise, TokenLimit, Latency] == [type(r) for r in rules]
    assert (
        "TokenLimit(tokens_per_minute=30000, requests_per_minute=500, period=1, signal='precise')"
        == repr(rules[1])
    )
    assert [] == rules_from_options({})
    with pytest.raises(ValueError, match="unknown fault"):
        rules_from_options({"fault_rate": 0.1, "faults": "meteor"})


def test_serve_command() -> None:
    """``python -m compat serve`` prints its URL, serves by its options and stops on a signal."""
    process = subprocess.Popen(
        [sys.executable, "-m", "compat", "serve", "--port", "0", "--rate", "1", "--burst", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with requests.Session() as session:
            statuses = [
                session.post(url + "/v1/chat/completions", json=CHAT, timeout=5).status_code
                for _ in range(2)
            ]
            assert [200, 429] == statuses
            assert 2 == session.get(url + "/_compat/stats", timeout=5).json()["requests"]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_refuses_bad_options() -> None:
    """serve with an unknown fault name exits 2 and says so."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "compat",
            "serve",
            "--port",
            "0",
            "--fault-rate",
            "0.1",
            "--faults",
            "meteor",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert 2 == done.returncode
    assert "unknown fault" in done.stderr


# ---------------------------------------------------------------------- the request log


def test_the_log_keeps_a_window_and_the_counts_stay_exact() -> None:
    """With ``keep=5``, twelve requests: the last five are kept, each under its own number;
    ``len``, ``answered``, ``count`` and ``stats`` still speak of all twelve."""
    with FaultServer(keep=5) as server:
        server.script(faults.server_error(), times=3)
        statuses = [post(server).status_code for _ in range(12)]
        kept = list(server.requests)
        assert list(range(7, 12)) == [r.index for r in kept]
        assert 12 == len(server.requests) == server.received
        assert [500, 500, 500] + [200] * 9 == statuses == server.answered
        assert 3 == server.count(status=500)
        assert 9 == server.count(fault="success", flavour=OPENAI)
        assert {
            "requests": 12,
            "kept": 5,
            "by_status": {"500": 3, "200": 9},
            "by_fault": {"server_error": 3, "success": 9},
        } == server.stats()
        assert kept[-1] is server.requests[11] is server.requests[-1]
        assert kept[3:] == server.requests[10:]
        with pytest.raises(IndexError, match="no longer kept"):
            server.requests[0]
        server.clear()
        assert (0, [], 0) == (len(server.requests), list(server.requests), server.count())


def test_the_log_keeps_bodies_within_a_byte_bound() -> None:
    """300 bodies of 100 KB: the log keeps no more of them than ``keep_bytes`` allows, and
    the memory the server holds grows by that, not by the 30 MB it received."""
    import tracemalloc

    body = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * 100_000}]})
    tracemalloc.start()
    try:
        with FaultServer(keep_bytes=2_000_000) as server, requests.Session() as session:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(300):
                session.post(
                    server.openai_url + "/chat/completions",
                    data=body,
                    headers={"content-type": "application/json"},
                    timeout=10,
                )
            grown = tracemalloc.get_traced_memory()[0] - before
            assert 300 == server.count(status=200)
            assert sum(len(r.body) for r in server.requests) <= 2_000_000
            assert 0 < len(list(server.requests)) < 300
            assert grown < 15_000_000, grown
    finally:
        tracemalloc.stop()


def test_the_log_can_be_read_while_requests_arrive() -> None:
    """Reading the log (iterating, indexing, slicing) while four threads send requests
    never fails, and the counts come out exact."""
    import threading

    errors: list[BaseException] = []
    with FaultServer(keep=20) as server:

        def send() -> None:
            with requests.Session() as session:
                for _ in range(60):
                    session.post(server.openai_url + "/chat/completions", json=CHAT, timeout=10)

        senders = [threading.Thread(target=send) for _ in range(4)]
        for thread in senders:
            thread.start()
        while any(thread.is_alive() for thread in senders):
            try:
                kept = list(server.requests)
                if kept:
                    assert kept[-1].index >= kept[0].index
                    assert len(server.requests[-5:]) <= 5
                    try:
                        found = server.requests[kept[-1].index]
                    except IndexError as exc:  # evicted since: said so
                        found = kept[-1] if "no longer kept" in str(exc) else None
                    assert found is kept[-1]
            except BaseException as exc:
                errors.append(exc)
                break
        for thread in senders:
            thread.join(60)
        assert [] == errors
        assert 240 == len(server.requests) == server.count(status=200)
        assert 20 == len(list(server.requests))


def test_the_default_window_is_bounded() -> None:
    """A server made without arguments keeps at most 1,000 requests and 16 MiB of bodies."""
    with FaultServer() as server:
        assert (1000, 16 * 2**20) == (server.keep, server.keep_bytes)
    with pytest.raises(ValueError, match="keep"):
        FaultServer(keep=0)
