"""Reading a sample's token logprobs (hostile server output) into a search prior.

An OpenAI-compatible endpoint asked for logprobs answers, per choice, either the chat shape
``{"content": [{"token": ..., "logprob": -0.1, ...}, ...]}`` or the completions shape
``{"tokens": [...], "token_logprobs": [-0.1, ...], ...}``. Anything else (absent, another
shape, a value that is not a finite number at most 0, more than :data:`MAX_LOGPROB_TOKENS`
entries) is *no logprob*: a search then falls back to a uniform prior. Nothing here raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: The most per-token entries read from one choice (a longer list counts as garbled).
MAX_LOGPROB_TOKENS = 65_536
#: Rounding slack: a logprob a little above 0 is read as 0.
_SLACK = 1e-6


def mean_logprob(raw: Any) -> float | None:
    """The mean token logprob of one choice, or None when ``raw`` is not a readable list of
    finite logprobs (at most 0, at most :data:`MAX_LOGPROB_TOKENS` of them)."""
    if not isinstance(raw, dict):
        return None
    content = raw.get("content")
    if isinstance(content, list):
        values: list[Any] = []
        if len(content) > MAX_LOGPROB_TOKENS:
            return None
        for entry in content:
            if not isinstance(entry, dict):
                return None
            values.append(entry.get("logprob"))
        return _mean(values, allow_leading_none=False)
    token_logprobs = raw.get("token_logprobs")
    if isinstance(token_logprobs, list):
        if len(token_logprobs) > MAX_LOGPROB_TOKENS:
            return None
        # the completions API gives None for the first token of an echoed prompt
        return _mean(token_logprobs, allow_leading_none=True)
    return None


def _mean(values: list[Any], *, allow_leading_none: bool) -> float | None:
    total, count = 0.0, 0
    for i, value in enumerate(values):
        if value is None and allow_leading_none and i == 0:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        try:
            number = float(value)
        except OverflowError:  # an integer of 400 digits is valid JSON
            return None
        if not math.isfinite(number) or number > _SLACK:
            return None
        total += min(number, 0.0)
        count += 1
    return total / count if count else None


def priors(logprobs: Sequence[float | None]) -> list[float]:
    """Probabilities (summing to 1) for sibling options from their mean logprobs:
    proportional to ``exp(logprob)``; uniform when any of them has none."""
    if not logprobs:
        return []
    if any(lp is None for lp in logprobs):
        return [1.0 / len(logprobs)] * len(logprobs)
    known = [lp for lp in logprobs if lp is not None]
    top = max(known)
    weights = [math.exp(lp - top) for lp in known]  # the largest is 1: no underflow to 0
    total = sum(weights)
    return [w / total for w in weights]
