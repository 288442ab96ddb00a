"""Checked by mypy in the `type` environment, never run: compat.wrap keeps the client's type.

A misspelt method must stay an error: the ``type: ignore`` below would be reported as
unused (``--strict`` warns on unused ignores) if compat.wrap ever returned ``Any`` again.
"""

from __future__ import annotations

from typing import assert_type

import openai

import compat

client = compat.wrap(openai.OpenAI(api_key="sk-test"))
assert_type(client, openai.OpenAI)
assert_type(compat.wrap(openai.AsyncOpenAI(api_key="sk-test")), openai.AsyncOpenAI)
azure = compat.wrap(
    openai.AzureOpenAI(api_key="k", api_version="2024-06-01", azure_endpoint="https://x")
)
assert_type(azure, openai.AzureOpenAI)
assert_type(
    compat.wrap(
        openai.AsyncAzureOpenAI(api_key="k", api_version="2024-06-01", azure_endpoint="https://x")
    ),
    openai.AsyncAzureOpenAI,
)
assert_type(compat.wrap(compat.GatewayClient("key", "secret")), compat.GatewayClient)
assert_type(compat.wrap(client, compat.RetryPolicy(max_attempts=2)), openai.OpenAI)

client.chat.completions.creat(model="gpt-4o", messages=[])  # type: ignore[attr-defined]

primary = openai.AzureOpenAI(api_key="k", api_version="2024-06-01", azure_endpoint="https://x")
# Deployments of an Azure and an OpenAI client: typed as their common type, OpenAI.
both = compat.wrap(
    [compat.Deployment(primary, models={"gpt-4o": "gpt4o-eu"}), compat.Deployment(client)]
)
assert_type(both, openai.OpenAI)
assert_type(compat.wrap([primary, primary]), openai.AzureOpenAI)
