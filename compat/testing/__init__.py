"""Test your error handling against the failures you fear, on demand.

:class:`FaultServer` is an HTTP server on 127.0.0.1 that answers like the OpenAI
API, Azure OpenAI and the seed gateway (chat completions, plain and streamed,
embeddings, responses) and fails by script or by rule::

    from compat.testing import FaultServer, TokenBucket, faults

    with FaultServer(rules=[TokenBucket(rate=20, burst=5)]) as server:
        server.script(faults.overloaded(), faults.rate_limited(0.2))
        client = openai.OpenAI(base_url=server.openai_url, api_key="sk-test")
        ...
        assert server.count(status=429) == 1

Rules model the limits of real services: :class:`TokenBucket` (requests per
second), :class:`TokenLimit` (tokens per minute, charged and told as OpenAI does),
:class:`Noise` (stray 429s that reveal no limit), :class:`Latency` (a model's time
to answer), :class:`Quota`, :class:`Outage` and :class:`RandomFaults`.

With pytest, the ``fault_server`` fixture gives a fresh server per test (compat
registers it as a pytest plugin). ``python -m compat serve`` runs one standalone.
"""

from __future__ import annotations

from compat.testing import faults
from compat.testing._faults import Answer, Fault, Request
from compat.testing._options import rules_from_options
from compat.testing._rules import (
    Latency,
    Noise,
    Outage,
    Quota,
    RandomFaults,
    Rule,
    TokenBucket,
    TokenLimit,
    estimate_tokens,
)
from compat.testing._server import FaultServer

__all__ = [
    "Answer",
    "Fault",
    "FaultServer",
    "Latency",
    "Noise",
    "Outage",
    "Quota",
    "RandomFaults",
    "Request",
    "Rule",
    "TokenBucket",
    "TokenLimit",
    "estimate_tokens",
    "faults",
    "rules_from_options",
]
