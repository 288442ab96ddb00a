"""Lists and the async client's plain methods through compat.wrap: every page of a list is
fetched under the policy (the SDK's pages fetch the next one with the client's retries
off), ``async for`` over an async list works as it does without compat, and a method of
the async client that sends nothing (a webhook's signature check, a connection manager)
is called, not turned into a coroutine. Counted on the loopback fault server."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("needs the v1+ SDK", allow_module_level=True)

import compat  # noqa: E402
from compat.testing import FaultServer, faults  # noqa: E402
from tests.conftest import run_wrapped_async, track, wrapped_client  # noqa: E402

RATE_LIMIT = {"error": {"message": "Rate limit reached", "type": "requests", "code": None}}


def batches(*ids: str, more: bool) -> dict[str, Any]:
    """One page of ``GET /v1/batches`` (a cursor page: the next is asked for ``after`` the
    last id while ``has_more``)."""
    data = [{"id": id_, "object": "batch", "endpoint": "/v1/chat/completions"} for id_ in ids]
    return {"object": "list", "data": data, "has_more": more}


#: Two pages, and a 429 between them.
TWO_PAGES = (
    faults.answer(200, {}, batches("batch_1", "batch_2", more=True)),
    faults.answer(429, {"retry-after-ms": "1"}, RATE_LIMIT),
    faults.answer(200, {}, batches("batch_3", more=False)),
)


def after(server: FaultServer) -> list[str | None]:
    """The ``after`` cursor each list request was sent with."""
    return [request.query.get("after") for request in server.requests]


def test_a_sync_list_fetches_its_next_page_under_the_policy(server: FaultServer) -> None:
    """Iterating a list reads every page; the 429 that answers the second page's request is
    retried instead of raising the SDK's RateLimitError."""
    server.script(*TWO_PAGES)
    with compat.retry_testing():
        ids = [batch.id for batch in wrapped_client(server, max_attempts=3).batches.list()]
    assert ["batch_1", "batch_2", "batch_3"] == ids
    assert [None, "batch_2", "batch_2"] == after(server)
    assert 1 == server.count(status=429)


def test_a_failure_on_a_later_page_raises_the_common_error(server: FaultServer) -> None:
    """A 401 answering the next page's request raises compat's error, from iteration and
    from ``get_next_page``, never the SDK's own."""
    unauthorized = faults.answer(401, {}, {"error": {"message": "bad key"}})
    first = faults.answer(200, {}, batches("batch_1", more=True))
    server.script(first, unauthorized, first, unauthorized)
    client = wrapped_client(server)
    with pytest.raises(compat.AuthenticationError) as iterating:
        list(client.batches.list())
    page = client.batches.list()
    assert ["batch_1"] == [batch.id for batch in page.data]
    with pytest.raises(compat.AuthenticationError) as next_page:
        page.get_next_page()
    for caught in (iterating, next_page):
        assert not isinstance(caught.value, openai.APIError)
    assert 4 == len(server.requests)


def test_iter_pages_gives_each_page(server: FaultServer) -> None:
    """``iter_pages`` gives the pages one by one, the later ones fetched under the policy."""
    server.script(*TWO_PAGES)
    with compat.retry_testing():
        pages = list(wrapped_client(server, max_attempts=3).batches.list().iter_pages())
    assert [["batch_1", "batch_2"], ["batch_3"]] == [[b.id for b in p.data] for p in pages]


def test_async_for_over_an_async_list(server: FaultServer) -> None:
    """``async for`` over an async client's list (which raised TypeError: the call was made
    a coroutine) reads every page, the 429 between them retried; awaiting the list gives
    its first page, whose ``get_next_page`` is a coroutine under the policy."""
    server.script(*TWO_PAGES, *TWO_PAGES)

    async def body(client: Any) -> tuple[list[str], list[str], list[str]]:
        with compat.retry_testing():
            every = [batch.id async for batch in client.batches.list()]
            first = await client.batches.list()
            second = await first.get_next_page()
        return every, [b.id for b in first.data], [b.id for b in second.data]

    every, first, second = run_wrapped_async(server, body, max_attempts=3)
    assert ["batch_1", "batch_2", "batch_3"] == every
    assert (["batch_1", "batch_2"], ["batch_3"]) == (first, second)
    assert 2 == server.count(status=429)


def test_the_async_clients_signature_check_still_checks() -> None:
    """``webhooks.verify_signature`` of an async client is a plain method that sends
    nothing: through compat.wrap it still raises for a forged signature (it returned an
    unawaited coroutine, so a forged webhook passed unchecked)."""
    raw = openai.AsyncOpenAI(api_key="sk-test", webhook_secret="whsec_" + "c2VjcmV0" * 4)
    webhooks = getattr(raw, "webhooks", None)
    if webhooks is None or not hasattr(webhooks, "verify_signature"):
        pytest.skip("the SDK has no webhook signature check")
    headers = {"webhook-id": "wh_1", "webhook-timestamp": "1", "webhook-signature": "v1,forged"}
    wrapped = compat.wrap(raw)
    for client in (raw, wrapped):
        with pytest.raises(openai.InvalidWebhookSignatureError):
            client.webhooks.verify_signature('{"type": "batch.completed"}', headers)


def test_the_async_clients_plain_methods_are_not_made_coroutines() -> None:
    """A connection manager (``realtime.connect``) comes back as the SDK gives it, ready
    for ``async with``; nothing is sent by making it."""
    raw = openai.AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    realtime = getattr(raw, "realtime", None) or getattr(
        getattr(raw, "beta", None), "realtime", None
    )
    if realtime is None or not hasattr(realtime, "connect"):
        pytest.skip("the SDK has no realtime.connect")
    wrapped = compat.wrap(raw)
    made = (wrapped.realtime if hasattr(raw, "realtime") else wrapped.beta.realtime).connect(
        model="gpt-4o-realtime-preview"
    )
    assert type(made) is type(realtime.connect(model="gpt-4o-realtime-preview"))
    assert hasattr(made, "__aenter__")


def test_a_failover_clients_list_reads_later_pages_where_the_first_came_from(
    server: FaultServer,
) -> None:
    """Through ``compat.wrap([a, b])``, a list whose first page came from the second
    deployment (the first answered 503) reads its later pages there, under the policy
    (the 429 between the pages retried)."""
    with FaultServer() as other:
        server.script(faults.answer(503, {}, {"error": {"message": "down", "type": "server"}}))
        other.script(*TWO_PAGES)
        deployments = [
            track(openai.OpenAI(base_url=where.url + "/v1", api_key="sk-test"))
            for where in (server, other)
        ]
        client = compat.wrap(deployments, compat.RetryPolicy(max_attempts=4))
        with compat.retry_testing():
            ids = [batch.id for batch in client.batches.list()]
        assert ["batch_1", "batch_2", "batch_3"] == ids
        assert (1, 3) == (len(server.requests), len(other.requests))
        assert [None, "batch_2", "batch_2"] == after(other)


def test_a_page_keeps_its_type(server: FaultServer) -> None:
    """The page a wrapped client's list gives is the SDK's own page (its type, copies and
    fields), only its later pages fetched under the policy."""
    server.script(faults.answer(200, {}, batches("batch_1", more=False)))
    page = wrapped_client(server).batches.list()
    assert isinstance(page, openai.pagination.SyncCursorPage)
    assert ["batch_1"] == [batch.id for batch in copy.copy(page).data]
    assert not page.has_next_page()


def test_an_async_failover_clients_list_fails_over(server: FaultServer) -> None:
    """Through ``compat.wrap([a, b])`` of async clients, a list fails over like any call: the
    first deployment out of quota, its pages come from the second."""
    with FaultServer() as other:
        server.script(faults.quota_exceeded(), times=5)
        other.script(*TWO_PAGES)

        async def main() -> list[str]:
            deployments = [
                openai.AsyncOpenAI(base_url=where.url + "/v1", api_key="sk-test")
                for where in (server, other)
            ]
            try:
                client = compat.wrap(deployments, compat.RetryPolicy(max_attempts=4))
                with compat.retry_testing():
                    return [batch.id async for batch in client.batches.list()]
            finally:
                for deployment in deployments:
                    await deployment.close()

        assert ["batch_1", "batch_2", "batch_3"] == asyncio.run(main())
        assert [None, "batch_2", "batch_2"] == after(other)


def test_an_endpoint_that_streams_unasked_is_read_as_a_stream(server: FaultServer) -> None:
    """An endpoint whose answer the SDK reads as a stream without ``stream=True`` (openai
    3.x's ``beta.agents.sessions.events.stream``) gives its stream through compat.wrap,
    sync and async, as it does without compat (its body was read as a whole, which
    raised httpx's ResponseNotRead)."""
    events = getattr(
        getattr(getattr(openai.OpenAI(api_key="x").beta, "agents", None), "sessions", None),
        "events",
        None,
    )
    if events is None or not hasattr(events, "stream"):
        pytest.skip("the SDK has no beta.agents.sessions.events.stream")
    stream = wrapped_client(server).beta.agents.sessions.events.stream("sess_1")
    assert [] == list(stream)

    async def body(client: Any) -> list[Any]:
        return [event async for event in await client.beta.agents.sessions.events.stream("s")]

    assert [] == run_wrapped_async(server, body)
    assert 2 == len(server.requests)


def test_the_sync_clients_signature_check_is_called_as_it_is() -> None:
    """``webhooks.verify_signature`` of a sync client sends nothing: under a policy with a
    deadline it is called as it is (it was given the attempt's ``timeout`` argument,
    which it does not take)."""
    raw = track(openai.OpenAI(api_key="sk-test", webhook_secret="whsec_" + "c2VjcmV0" * 4))
    if not hasattr(getattr(raw, "webhooks", None), "verify_signature"):
        pytest.skip("the SDK has no webhook signature check")
    headers = {"webhook-id": "wh_1", "webhook-timestamp": "1", "webhook-signature": "v1,forged"}
    wrapped = compat.wrap(raw, compat.RetryPolicy(deadline=30.0))
    with pytest.raises(openai.InvalidWebhookSignatureError):
        wrapped.webhooks.verify_signature('{"type": "batch.completed"}', headers)


#: A proxy's error page, sent as a success.
HTML_PAGE = faults.answer(
    200,
    {"content-type": "text/html"},
    "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
)


def test_an_html_page_under_200_for_a_later_page_is_a_bad_response(server: FaultServer) -> None:
    """A proxy's HTML page answering the next page's request with HTTP 200 raises
    ``BadResponseError``, as it does for the first page, sync and async (the SDK's own
    parse raised ``AttributeError``: a str has no page attributes)."""
    first = faults.answer(200, {}, batches("batch_1", more=True))
    server.script(first, HTML_PAGE, first, HTML_PAGE)
    with pytest.raises(compat.BadResponseError) as sync:
        list(wrapped_client(server, max_attempts=1).batches.list())

    async def body(client: Any) -> list[str]:
        return [batch.id async for batch in client.batches.list()]

    with pytest.raises(compat.BadResponseError) as async_:
        run_wrapped_async(server, body, max_attempts=1)
    for caught in (sync, async_):
        assert "502 Bad Gateway" in caught.value.message
        assert 200 == caught.value.status
    assert 4 == len(server.requests)


def test_a_later_pages_rate_limit_headers_pace_the_next_call(server: FaultServer) -> None:
    """The next page's answer says one request per 100 s is left: the pacer learns it, and
    the list asked again with a 2 s deadline is refused at once, not sent."""
    limits = {
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "100s",
    }
    server.script(
        faults.answer(200, {}, batches("batch_1", more=True)),
        faults.answer(200, limits, batches("batch_2", more=False)),
    )
    client = wrapped_client(server, deadline=2.0)
    assert ["batch_1", "batch_2"] == [batch.id for batch in client.batches.list()]
    with pytest.raises(compat.RateLimitError) as info:
        client.batches.list()
    assert "client" == info.value.origin
    assert 2 == len(server.requests)
