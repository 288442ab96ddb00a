"""The standalone server's options: ``python -m compat serve --...`` and the JSON object of
``POST /_compat/config``, checked and turned into rules.

Every bad option is refused with a :class:`ValueError` of one line that names it as the
caller wrote it (``--fault-rate`` on the command line, ``fault_rate`` in JSON).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from compat.testing import _faults
from compat.testing._rules import (
    Latency,
    Noise,
    Outage,
    Quota,
    RandomFaults,
    Rule,
    TokenBucket,
    TokenLimit,
)

#: The options, in the order their rules judge a request.
OPTIONS = (
    "outage",
    "quota",
    "fault_rate",
    "faults",
    "noise",
    "seed",
    "rate",
    "burst",
    "tpm",
    "rpm",
    "period",
    "signal",
    "latency",
)

Spell = Callable[[str], str]


def json_name(name: str) -> str:
    """An option as ``POST /_compat/config`` spells it: ``fault_rate``."""
    return name


def flag_name(name: str) -> str:
    """An option as the command line spells it: ``--fault-rate``."""
    return "--" + name.replace("_", "-")


def _shown(value: Any) -> str:
    """*value* as the caller wrote it, near enough: ``0`` rather than ``0.0``."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return str(value) if isinstance(value, int) else repr(value)


class _Reader:
    """Reads options one at a time, refusing each bad one in one line."""

    def __init__(self, options: Mapping[str, Any], spell: Spell) -> None:
        self.options, self.spell = options, spell

    def given(self, name: str) -> bool:
        return self.options.get(name) is not None

    def refuse(self, name: str, what: str) -> ValueError:
        return ValueError(f"{self.spell(name)} {what}")

    def number(
        self,
        name: str,
        *,
        above: float | None = None,
        at_least: float | None = None,
        at_most: float | None = None,
        integer: bool = False,
    ) -> float | None:
        """The option as a finite number within its bounds, or None when it is absent."""
        value = self.options.get(name)
        if value is None:
            return None
        kind = "a whole number" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.refuse(name, f"must be {kind}, not {_shown(value)}")
        try:
            number = float(value)
        except ValueError:
            raise self.refuse(name, f"must be {kind}, not {value!r}") from None
        if not math.isfinite(number) or (integer and number != int(number)):
            raise self.refuse(name, f"must be {kind}, not {_shown(value)}")
        if above is not None and number <= above:
            raise self.refuse(name, f"must be above {above:g}, not {_shown(value)}")
        if at_least is not None and number < at_least:
            raise self.refuse(name, f"must be {at_least:g} or more, not {_shown(value)}")
        if at_most is not None and number > at_most:
            raise self.refuse(name, f"must be at most {at_most:g}, not {_shown(value)}")
        return number

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.options.get(name)
        if value is None:
            return None
        if value not in choices:
            raise self.refuse(name, f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    def needs(self, name: str, *others: str) -> None:
        """Refuse *name* given without any of *others*, which it shapes."""
        if self.given(name) and not any(self.given(other) for other in others):
            wanted = " or ".join(self.spell(other) for other in others)
            raise self.refuse(name, f"shapes {wanted}, which is not given")

    def names(self, name: str, known: Mapping[str, Any]) -> list[str] | None:
        value = self.options.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            names = [n.strip() for n in value.split(",") if n.strip()]
        elif isinstance(value, list) and all(isinstance(n, str) for n in value):
            names = list(value)
        else:
            raise self.refuse(name, f"must be fault names, separated by commas; not {value!r}")
        missing = [n for n in names if n not in known]
        if missing:
            raise self.refuse(
                name, f"names unknown fault(s) {', '.join(missing)}; known: {', '.join(known)}"
            )
        if not names:
            raise self.refuse(name, "names no fault")
        return names


def rules_from_options(options: Mapping[str, Any], *, spell: Spell = json_name) -> list[Rule]:
    """Rules from the standalone command's options (also ``POST /_compat/config``).

    Keys, in the order their rules judge a request: ``outage`` (seconds of 503 from
    now); ``quota`` (requests before the money runs out); ``fault_rate`` with
    ``faults`` (names from :data:`compat.testing.faults.NAMED`) and ``seed``;
    ``noise`` (the share of requests that get a stray 429, :class:`Noise`, with
    ``seed``); ``rate`` and ``burst`` (a :class:`TokenBucket`); ``tpm`` with ``rpm``
    and ``period`` (a :class:`TokenLimit`); ``signal`` for both limits; ``latency``
    (seconds every success is held back, :class:`Latency`). An absent or
    ``None`` option is not set. A bad option raises :class:`ValueError` in one line
    that names it as *spell* writes it.
    """
    read = _Reader(options, spell)
    unknown = [name for name in options if name not in OPTIONS]
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(spell(n) for n in sorted(unknown))}")

    outage = read.number("outage", at_least=0)
    quota = read.number("quota", at_least=0, integer=True)
    fault_rate = read.number("fault_rate", at_least=0, at_most=1)
    names = read.names("faults", _faults.NAMED)
    noise = read.number("noise", at_least=0, at_most=1)
    seed = read.number("seed", integer=True)
    rate = read.number("rate", above=0)
    burst = read.number("burst", at_least=1)
    tpm = read.number("tpm", at_least=1)
    rpm = read.number("rpm", at_least=1)
    period = read.number("period", above=0, at_most=60)
    signal = read.choice("signal", _faults.SIGNALS)
    latency = read.number("latency", at_least=0)
    read.needs("faults", "fault_rate")
    read.needs("seed", "fault_rate", "noise")
    read.needs("burst", "rate")
    read.needs("rpm", "tpm")
    read.needs("period", "tpm")
    read.needs("signal", "rate", "tpm")
    first = 0 if seed is None else int(seed)

    rules: list[Rule] = []
    if outage:
        rules.append(Outage(outage))
    if quota is not None:
        rules.append(Quota(int(quota)))
    if fault_rate:
        chosen = [_faults.NAMED[n]() for n in names or _faults.NAMED]
        rules.append(RandomFaults(fault_rate, chosen, seed=first))
    if noise:
        rules.append(Noise(noise, seed=first))
    if rate is not None:
        rules.append(TokenBucket(rate, burst or 1.0, signal=signal or "precise"))
    if tpm is not None:
        rules.append(
            TokenLimit(
                tpm, requests_per_minute=rpm, period=period or 60.0, signal=signal or "precise"
            )
        )
    if latency:
        rules.append(Latency(latency))
    return rules


__all__ = ["OPTIONS", "flag_name", "json_name", "rules_from_options"]
