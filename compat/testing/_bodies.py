"""Realistic success answers: chat completions (plain and streamed), embeddings, responses."""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compat.testing._faults import Request

REPLY = "Hello from the compat fault server."
_DIMENSIONS = 8


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _usage(request: Request) -> tuple[int, int]:
    """(prompt, completion) tokens: those a rule charged, else an estimate from the body."""
    if request.usage is not None:
        return request.usage
    prompt = max(1, len(request.body) // 4)
    return prompt, len(_words(REPLY))


def chat(request: Request) -> dict[str, Any]:
    prompt, completion = _usage(request)
    body: dict[str, Any] = {
        "id": f"chatcmpl-{request.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model or "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "system_fingerprint": "fp_compat",
    }
    if request.flavour == "azure":
        safe = {
            name: {"filtered": False, "severity": "safe"}
            for name in ("hate", "self_harm", "sexual", "violence")
        }
        body["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": safe}]
        body["choices"][0]["content_filter_results"] = safe
    return body


def completion(request: Request) -> dict[str, Any]:
    prompt, completion_tokens = _usage(request)
    return {
        "id": f"cmpl-{request.request_id}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": request.model or "gpt-3.5-turbo-instruct",
        "choices": [{"text": REPLY, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
    }


def embeddings(request: Request) -> dict[str, Any]:
    inputs = request.json.get("input") if isinstance(request.json, dict) else None
    count = (
        len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    )
    as_base64 = isinstance(request.json, dict) and request.json.get("encoding_format") == "base64"
    data = []
    for index in range(count):
        vector = [round((index + 1) * 0.01 * (d + 1), 4) for d in range(_DIMENSIONS)]
        embedding: Any = vector
        if as_base64:
            embedding = base64.b64encode(struct.pack(f"<{_DIMENSIONS}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    prompt = _usage(request)[0] if request.usage is not None else max(1, len(request.body) // 4)
    return {
        "object": "list",
        "data": data,
        "model": request.model or "text-embedding-3-small",
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }


def response(request: Request) -> dict[str, Any]:
    prompt, completion_tokens = _usage(request)
    return {
        "id": f"resp_{request.request_id}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": request.model or "gpt-4o",
        "output": [
            {
                "type": "message",
                "id": f"msg_{request.request_id}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": REPLY, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion_tokens,
        },
    }


def models(request: Request) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}
            for name in ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")
        ],
    }


def success(request: Request) -> Any:
    """The upstream success answer for *request*'s endpoint."""
    maker = {
        "chat": chat,
        "completions": completion,
        "embeddings": embeddings,
        "responses": response,
        "models": models,
    }.get(request.endpoint)
    return maker(request) if maker is not None else {"object": "ok"}


def sse(data: Any, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def chat_chunks(request: Request) -> list[bytes]:
    """A streamed chat completion: role, one chunk per word, finish, ``[DONE]``."""
    base = {
        "id": f"chatcmpl-{request.request_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model or "gpt-4o",
        "system_fingerprint": "fp_compat",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**base, "choices": [choice]})

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": word}) for word in _words(REPLY)]
    chunks.append(chunk({}, "stop"))
    chunks.append(sse("[DONE]"))
    return chunks


def response_events(request: Request) -> list[bytes]:
    """A streamed response, in the order the API sends one (its streaming guide): created,
    in progress, the message item and its text part added, one text delta per word, the
    text, part and item done, completed. (The SDK's ``responses.stream`` helper rebuilds
    the response from these and refuses a delta that comes before its item.)"""
    done = response(request)
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    message = done["output"][0]
    part = message["content"][0]
    where = {"item_id": message["id"], "output_index": 0}
    steps: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            **where,
            "content_index": 0,
            "part": {**part, "text": ""},
        },
    ]
    steps += [
        {
            "type": "response.output_text.delta",
            **where,
            "content_index": 0,
            "delta": word,
            "logprobs": [],
        }
        for word in _words(REPLY)
    ]
    steps += [
        {
            "type": "response.output_text.done",
            **where,
            "content_index": 0,
            "text": part["text"],
            "logprobs": [],
        },
        {"type": "response.content_part.done", **where, "content_index": 0, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": done},
    ]
    return [
        sse({**step, "sequence_number": number}, step["type"]) for number, step in enumerate(steps)
    ]


def stream(request: Request) -> list[bytes]:
    """The streamed success answer for *request*'s endpoint."""
    if request.endpoint == "responses":
        return response_events(request)
    return chat_chunks(request)
