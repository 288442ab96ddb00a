"""One interface over several deployments: compat.wrap([primary, secondary]) through the real
SDK against two fault servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")
if not hasattr(openai, "OpenAI"):
    pytest.skip("the v1+ SDK is not installed", allow_module_level=True)

import compat  # noqa: E402
from compat.testing import FaultServer, Outage, faults  # noqa: E402
from tests.conftest import track  # noqa: E402

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def secondary() -> Iterator[FaultServer]:
    """A second fault server: the deployment calls fail over to."""
    with FaultServer() as server:
        yield server


def openai_client(server: FaultServer, **options: Any) -> Any:
    return track(openai.OpenAI(base_url=server.openai_url, api_key="sk-test", **options))


def azure_client(server: FaultServer) -> Any:
    return track(
        openai.AzureOpenAI(
            azure_endpoint=server.azure_endpoint, api_key="azure-key-1234", api_version="2024-06-01"
        )
    )


def test_an_outage_on_the_primary_moves_calls_to_the_secondary(
    server: FaultServer, secondary: FaultServer
) -> None:
    """The primary answers 503s: a few calls find it down, the rest skip it while it is held,
    and every call is served by the secondary; once the primary is back, a probe finds it
    and calls return to it."""
    outage = Outage(1.0)
    server.add_rule(outage)
    client = compat.wrap([openai_client(server), openai_client(secondary)])
    for _ in range(20):
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert reply.choices[0].message.content
    during = len(server.requests)
    assert during <= 5  # three failures hold it; the rest skip it
    assert 20 <= len(secondary.requests)
    deadline = time.monotonic() + 30  # a hang guard; the probe comes within ~2 s
    while time.monotonic() < deadline:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        if server.answered and server.answered[-1] == 200:
            break
        time.sleep(0.05)
    assert 200 == server.answered[-1]
    before = len(secondary.requests)
    for _ in range(5):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert before == len(secondary.requests)  # traffic is back on the primary


def test_an_exhausted_quota_is_not_retried_until_a_probe(
    server: FaultServer, secondary: FaultServer
) -> None:
    """After the primary's quota error, no call tries the primary again (it is probed only
    every 30 s); all go to the secondary."""
    server.add_rule(lambda request: faults.quota_exceeded())
    seen: list[compat.Event] = []
    client = compat.wrap(
        [openai_client(server), openai_client(secondary)], compat.RetryPolicy(hooks=seen.append)
    )
    for _ in range(10):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 1 == len(server.requests)
    assert 10 == len(secondary.requests)
    moves = [e for e in seen if e.action == "failover"]
    assert "quota_exceeded" in moves[0].reason
    assert all(e.cause == "held" for e in moves[1:])


def test_a_request_error_is_not_failed_over(server: FaultServer, secondary: FaultServer) -> None:
    """An invalid request would fail everywhere: it is raised, the secondary never sees it."""
    body = {"error": {"message": "bad value for temperature", "type": "invalid_request_error"}}
    server.script(faults.answer(400, {}, body))
    client = compat.wrap([openai_client(server), openai_client(secondary)])
    with pytest.raises(compat.InvalidRequestError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert 0 == len(secondary.requests)


def test_deployments_declare_their_own_model_names(
    server: FaultServer, secondary: FaultServer
) -> None:
    """Azure first, under its deployment name; OpenAI second, under the model's name."""
    server.add_rule(lambda request: faults.overloaded())
    azure = compat.Deployment(azure_client(server), models={"gpt-4o": "gpt4o-eu-prod"}, name="eu")
    client = compat.wrap([azure, compat.Deployment(openai_client(secondary))])
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "gpt4o-eu-prod" == server.requests[0].model
    assert "gpt-4o" == secondary.requests[0].model
    assert "azure" == server.requests[0].flavour


def test_async_and_streams_fail_over_before_the_first_chunk(
    server: FaultServer, secondary: FaultServer
) -> None:
    """An async client fails over too, and a stream that fails before its first chunk is
    served by the next deployment."""
    server.add_rule(lambda request: faults.overloaded())

    async def main() -> tuple[str, list[Any]]:
        raw = [
            openai.AsyncOpenAI(base_url=s.openai_url, api_key="sk-test")
            for s in (server, secondary)
        ]
        client = compat.wrap(raw)
        try:
            reply = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            )
            chunks = [chunk async for chunk in stream]
        finally:
            await client.close()
        return reply.choices[0].message.content, chunks

    content, chunks = asyncio.run(main())
    assert content
    assert chunks
    assert 2 == len(secondary.requests)


def test_only_v1_clients_of_one_kind_fail_over() -> None:
    """Sync and async clients, or a gateway client, cannot stand behind one interface."""
    sync = track(openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(TypeError, match="sync and async"):
        compat.wrap([sync, openai.AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")])
    with pytest.raises(TypeError, match="v1\\+ SDK clients"):
        compat.wrap([sync, compat.GatewayClient("key", "secret")])
    with pytest.raises(TypeError, match="at least one"):
        compat.wrap([])
