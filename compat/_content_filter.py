"""Azure OpenAI's content-filter results, read into structured data.

Azure reports, per category (hate, sexual, violence, self_harm, jailbreak,
protected_material_text, protected_material_code, profanity, ...), whether the
content was filtered and how severe it was. They arrive in three places:

* a 400 whose ``error.innererror`` (or ``inner_error``) carries
  ``content_filter_result(s)``: the prompt was filtered;
* a completion's ``prompt_filter_results[].content_filter_results``: the prompt;
* a completion's ``choices[].content_filter_results`` with ``finish_reason``
  ``content_filter``: the completion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class FilterCategory:
    """One category's verdict: filtered or not, and the severity or detection Azure gave."""

    name: str
    filtered: bool
    severity: str | None = None
    detected: bool | None = None


@attrs.frozen
class ContentFilterResult:
    """What a content filter said about the prompt or one completion choice."""

    source: str  # "prompt" or "completion"
    categories: tuple[FilterCategory, ...]
    index: int | None = None

    @property
    def filtered(self) -> tuple[str, ...]:
        """The names of the categories that were filtered."""
        return tuple(c.name for c in self.categories if c.filtered)


def _categories(results: Mapping[str, Any]) -> tuple[FilterCategory, ...]:
    found = []
    for name, verdict in results.items():
        if not isinstance(verdict, Mapping):
            continue
        severity = verdict.get("severity")
        detected = verdict.get("detected")
        found.append(
            FilterCategory(
                name=str(name),
                filtered=bool(verdict.get("filtered", False)),
                severity=None if severity is None else str(severity),
                detected=None if detected is None else bool(detected),
            )
        )
    return tuple(found)


def _results(holder: Any) -> Mapping[str, Any] | None:
    if not isinstance(holder, Mapping):
        return None
    for key in ("content_filter_result", "content_filter_results"):
        value = holder.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def read_content_filter(body: Any) -> tuple[ContentFilterResult, ...]:
    """Every content-filter result in an error or completion body, prompt first."""
    if not isinstance(body, Mapping):
        return ()
    found: list[ContentFilterResult] = []
    nested = body.get("error")
    error: Mapping[str, Any] = nested if isinstance(nested, Mapping) else body
    inner = error.get("innererror") or error.get("inner_error")
    results = _results(inner)
    if results is not None:
        found.append(ContentFilterResult("prompt", _categories(results)))
    prompts = body.get("prompt_filter_results") or body.get("prompt_annotations") or ()
    found.extend(_each(prompts, "prompt", "prompt_index"))
    found.extend(_each(body.get("choices") or (), "completion", "index"))
    return tuple(found)


def _each(items: Any, source: str, index_key: str) -> list[ContentFilterResult]:
    """The results of each item (a prompt or a choice) that carries any."""
    found = []
    for item in items if isinstance(items, list) else ():
        results = _results(item)
        if results is not None:
            index = item.get(index_key)
            found.append(
                ContentFilterResult(
                    source, _categories(results), index if isinstance(index, int) else None
                )
            )
    return found
