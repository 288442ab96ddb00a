"""Content-filter verdicts as data: per category, filtered or not, and how severe.

These are the model's classes (``compat.ContentFilterResult``,
``compat.FilterCategory``); reading them out of an answer is the business of the
source that sends them (Azure OpenAI: :mod:`compat.adapters.azure`), found
through :func:`compat._sources.content_filter`.
"""

from __future__ import annotations

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
