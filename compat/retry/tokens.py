"""A request's token cost, estimated before it is sent and corrected by what answers say.

Token limits (tokens per minute) charge a request for its prompt and for the output it
may produce (``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens``, times
``n``) when it arrives. :class:`Estimator` estimates both from the request's arguments,
with no dependency: about four characters a token, plus a few tokens per message (with
``tiktoken`` installed, the prompt is counted exactly once its encoding is loaded, which
happens in the background: never on a call's path; ``compat.wrap`` asks for it only once
a target tells a token limit, before which no estimate is used). Each
answer's ``usage`` corrects it: the ratio of real prompt tokens to estimated ones, and,
for requests that set no output limit, the output they really produced, are kept as
slowly moving averages per model, so the estimate's error stays bounded over a run.

:func:`tpm_limit` reads a token limit from a 429's own words ("on tokens per min
(TPM): Limit 30000, Used 29800, Requested 1200"), for servers that send no headers.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

#: Characters per token of English text and code, as OpenAI's guides put it.
CHARS_PER_TOKEN = 4.0
#: Tokens each message adds beyond its text (role and separators), and each reply's priming.
PER_MESSAGE = 4.0
PER_REPLY = 3.0
#: Weight of one answer in the moving averages.
WEIGHT = 0.2
#: Output tokens assumed, before any answer, for a request that sets no limit.
DEFAULT_OUTPUT = 256.0

#: The request arguments whose text is prompt (besides ``messages``).
_PROMPT_FIELDS = ("prompt", "input", "instructions", "tools", "functions", "system")

_TPM = re.compile(
    r"tokens per min(?:ute)?\s*\(TPM\):\s*Limit\s*(\d{1,12}),\s*(?:Used\s*(\d{1,12}),\s*)?"
    r"Requested\s*(\d{1,12})",
    re.IGNORECASE,
)


def tpm_limit(message: str) -> tuple[float, float, float] | None:
    """``(limit, used, requested)`` tokens per minute from a TPM 429's message, else ``None``."""
    at = message.find("(TPM)")
    if at < 0:
        at = message.lower().find("(tpm)")
        if at < 0:
            return None
    match = _TPM.search(message, max(at - 40, 0), at + 200)
    if match is None:
        return None
    limit, used, requested = match.groups()
    return float(limit), float(used or 0), float(requested)


def _texts(value: Any, out: list[str], depth: int = 0) -> None:
    """Every string inside a request argument (message contents, parts, tool schemas)."""
    if isinstance(value, str):
        out.append(value)
    elif depth > 8:
        return
    elif isinstance(value, Mapping):
        for item in value.values():
            _texts(item, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _texts(item, out, depth + 1)


#: tiktoken's encodings by model, for the whole process: ``None`` while loading, or when
#: there is none to be had (not installed, an unknown model, no encoding offline).
_ENCODERS: dict[str, Any] = {}
_ENCODERS_LOCK = threading.Lock()


def _encoder(model: str) -> Any:
    """tiktoken's encoding for *model*, once it is loaded; ``None`` until then.

    Loading may download the encoding (tiktoken fetches it on first use, with no timeout
    of its own), so it never happens on a call's path: the first request for a model in
    the process starts one load in a background thread, and requests are estimated by
    characters until the encoding is at hand. A load that fails is not tried again.
    """
    try:
        return _ENCODERS[model]
    except KeyError:
        pass
    with _ENCODERS_LOCK:
        if model in _ENCODERS:
            return _ENCODERS[model]
        _ENCODERS[model] = None  # loading: estimated by characters meanwhile
    with contextlib.suppress(RuntimeError):  # no thread to be had: characters it is
        threading.Thread(target=_load, args=(model,), name="compat-tiktoken", daemon=True).start()
    return None


def _load(model: str) -> None:
    try:
        import tiktoken

        encoder = tiktoken.encoding_for_model(model)
    except Exception:  # noqa: BLE001 - not installed, unknown model, or no encoding offline
        return
    _ENCODERS[model] = encoder


class Measure(NamedTuple):
    """One request's estimate, kept to be corrected by its answer (:meth:`Estimator.learn`)."""

    #: The prompt's tokens as counted, before the learned correction.
    prompt: float
    #: Whether the prompt was counted exactly (with tiktoken) rather than by characters.
    exact: bool
    #: The request's whole estimated cost: the corrected prompt and the output.
    total: float


class Estimator:
    """Estimates requests' token costs, learning from answers (per model; thread-safe).

    With *exact* false, prompts are counted by characters until :meth:`count_exactly` is
    called (no tiktoken encoding is loaded before then), or until another estimator in
    the process asked for the model's encoding.
    """

    def __init__(self, *, exact: bool = True) -> None:
        # (model, counted exactly): the ratio of real prompt tokens to counted ones.
        self._ratio: dict[tuple[str, bool], float] = {}
        self._output: dict[str, float] = {}
        self._lock = threading.Lock()
        self._exact = exact

    @property
    def exact(self) -> bool:
        """Whether prompts are counted with tiktoken (once its encoding is loaded)."""
        return self._exact

    def count_exactly(self) -> None:
        """Count prompts with tiktoken from now on, once its encoding is loaded."""
        self._exact = True

    def prompt(self, kwargs: Mapping[str, Any]) -> float:
        """Estimated prompt tokens of a request (before the learned correction)."""
        return self._prompt(kwargs)[0]

    def _prompt(self, kwargs: Mapping[str, Any]) -> tuple[float, bool]:
        texts: list[str] = []
        messages = kwargs.get("messages")
        extra = 0.0
        if isinstance(messages, (list, tuple)):
            _texts(messages, texts)
            extra = PER_MESSAGE * len(messages) + PER_REPLY
        for name in _PROMPT_FIELDS:
            if name in kwargs:
                _texts(kwargs[name], texts)
        if not texts and not extra:
            return 0.0, False
        counted, exact = self._count(kwargs.get("model"), texts)
        return counted + extra, exact

    def _count(self, model: Any, texts: list[str]) -> tuple[float, bool]:
        if not isinstance(model, str):
            encoder = None
        elif self._exact or model in _ENCODERS:
            # An encoding another estimator asked for (told a limit on a target this one
            # may share) counts exactly here too; none is loaded for this one alone.
            encoder = _encoder(model)
        else:
            encoder = None
        if encoder is not None:
            return float(sum(len(encoder.encode(text)) for text in texts)), True
        return sum(len(text) for text in texts) / CHARS_PER_TOKEN, False

    @staticmethod
    def output_limit(kwargs: Mapping[str, Any]) -> float | None:
        """The most output tokens the request allows in all (times ``n``), if it says."""
        for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
            value = kwargs.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                n = kwargs.get("n")
                count = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
                return float(value) * count
        return None

    def estimate(self, kwargs: Mapping[str, Any]) -> float:
        """The tokens a token limit will charge this request: prompt and output."""
        return self.measure(kwargs).total

    def measure(self, kwargs: Mapping[str, Any]) -> Measure:
        """:meth:`estimate`, with the count it started from, for :meth:`learn`."""
        prompt, exact = self._prompt(kwargs)
        if not prompt:
            return Measure(0.0, exact, 0.0)
        model = str(kwargs.get("model"))
        corrected = prompt * self._ratio.get((model, exact), 1.0)
        if "input" in kwargs and "messages" not in kwargs and "max_output_tokens" not in kwargs:
            return Measure(prompt, exact, corrected)  # embeddings: the input is the whole cost
        limit = self.output_limit(kwargs)
        output = self._output.get(model, DEFAULT_OUTPUT) if limit is None else limit
        return Measure(prompt, exact, corrected + output)

    def learn(
        self, kwargs: Mapping[str, Any], usage: Any, measured: Measure | None = None
    ) -> float | None:
        """Correct the estimates from an answer's ``usage``; return the tokens it charged
        (prompt and output limit, as the request reserved them), when usage says.
        *measured* is the request's :meth:`measure`, if it was taken (else it is now)."""
        prompt_used = _field(usage, "prompt_tokens", "input_tokens")
        output_used = _field(usage, "completion_tokens", "output_tokens")
        if prompt_used is None:
            return None
        model = str(kwargs.get("model"))
        estimated, exact = self._prompt(kwargs) if measured is None else measured[:2]
        limit = self.output_limit(kwargs)
        with self._lock:
            if estimated > 0 and prompt_used > 0:
                ratio = self._ratio.get((model, exact), 1.0)
                self._ratio[model, exact] = ratio + WEIGHT * (prompt_used / estimated - ratio)
            if limit is None and output_used is not None:
                output = self._output.get(model, DEFAULT_OUTPUT)
                self._output[model] = output + WEIGHT * (output_used - output)
        return prompt_used + (limit if limit is not None else (output_used or 0.0))


def _field(usage: Any, *names: str) -> float | None:
    for name in names:
        value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None
