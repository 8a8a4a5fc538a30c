"""veRL reward functions that score rows of our ``verl`` export directly.

Point veRL at this module (``custom_reward_function.path=pkg://llm_modulo.rewards.verl``):

* ``custom_reward_function.name=compute_score`` (the default name): veRL's ``naive`` reward
  manager (and the reward loop) call ``compute_score(data_source=..., solution_str=...,
  ground_truth=..., extra_info=...)`` once per response.
* ``custom_reward_function.name=compute_score_batch`` with ``reward_model.reward_manager=batch``:
  the ``batch`` manager calls ``compute_score_batch(data_sources=..., solution_strs=...,
  ground_truths=..., extra_infos=...)`` once per batch; the whole batch is verified at once.

Rows: ``data_source`` is ``llm_modulo/<domain>``, ``ground_truth`` the problem's payload
(canonical JSON, never an answer), ``extra_info.problem_hash`` its hash (checked).

UNKNOWN: veRL needs a float (it writes the score into a tensor; ``None`` raises). Each call
returns a dict: ``score``, and ``decided`` (1.0 for a sound ACCEPT or REJECT, 0.0 otherwise),
``accepted`` and ``unknown`` (1.0/0.0), which veRL keeps per response in
``reward_extra_info`` so UNKNOWN stays distinguishable (mask with ``decided``):

* ``compute_score``: the score of an UNKNOWN is ``unknown_score`` (default 0.0; set it with
  ``custom_reward_function.reward_kwargs.unknown_score``). One response alone has no
  neutral value: prefer the batch function.
* ``compute_score_batch``: an UNKNOWN scores the mean of the decided scores for the same
  problem in the batch (0.0 if none was decided). Under GRPO, whose groups are the responses
  to one prompt, that makes its advantage exactly 0: UNKNOWN pushes the policy neither way.
  It is not neutral for estimators with a learned baseline (PPO/GAE): use the mask there.

veRL itself is never imported (and need not be installed to use or test this module).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llm_modulo.rewards.core import Pair, Scored, default_scorer, reward_of, warn_unread
from llm_modulo.rewards.rows import RowError, completion_text, problem_of


def _row(data_source: Any, ground_truth: Any, extra_info: Any) -> dict[str, Any]:
    return {"data_source": data_source, "ground_truth": ground_truth,
            "extra_info": extra_info if isinstance(extra_info, Mapping) else None}


def _pair(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any) -> Pair:
    problem = problem_of(_row(data_source, ground_truth, extra_info), None)
    return Pair(problem, completion_text(solution_str))


def _result(scored: Scored, unknown_score: float) -> dict[str, float]:
    value = reward_of(scored)
    return {"score": float(unknown_score if value is None else value),
            "decided": 0.0 if value is None else 1.0,
            "accepted": 1.0 if value == 1.0 else 0.0,
            "unknown": 1.0 if value is None else 0.0}


def _pairs(data_sources: Sequence[Any], solution_strs: Sequence[Any],
           ground_truths: Sequence[Any], extra_infos: Sequence[Any] | None
           ) -> list[Pair | None]:
    n = len(solution_strs)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    if not len(data_sources) == len(ground_truths) == len(infos) == n:
        raise ValueError(f"compute_score_batch: {len(data_sources)} data sources, {n} "
                         f"solutions, {len(ground_truths)} ground truths, {len(infos)} "
                         f"extra infos: one each per response")
    pairs: list[Pair | None] = []
    errors: list[tuple[int, str]] = []
    for i in range(n):
        try:
            pairs.append(_pair(data_sources[i], solution_strs[i], ground_truths[i], infos[i]))
        except RowError as exc:
            errors.append((i, str(exc)))
            pairs.append(None)
        except Exception as exc:
            errors.append((i, f"{type(exc).__name__}: {exc}"))
            pairs.append(None)
    warn_unread(errors, n, "llm_modulo.rewards.verl")
    return pairs


def compute_score(data_source: Any, solution_str: Any, ground_truth: Any,
                  extra_info: Any = None, *, unknown_score: float = 0.0,
                  **kwargs: Any) -> dict[str, float]:
    """veRL's custom reward function: one response (see the module for UNKNOWN)."""
    pairs = _pairs([data_source], [solution_str], [ground_truth], [extra_info])
    return _result(default_scorer().score(pairs)[0], unknown_score)


async def acompute_score(data_source: Any, solution_str: Any, ground_truth: Any,
                         extra_info: Any = None, *, unknown_score: float = 0.0,
                         **kwargs: Any) -> dict[str, float]:
    """:func:`compute_score` as a coroutine (veRL's reward loop awaits async functions)."""
    pairs = _pairs([data_source], [solution_str], [ground_truth], [extra_info])
    return _result((await default_scorer().ascore(pairs))[0], unknown_score)


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[Any],
                        ground_truths: Sequence[Any], extra_infos: Sequence[Any] | None = None,
                        **kwargs: Any) -> list[dict[str, float]]:
    """veRL's ``batch`` reward manager function: the whole batch verified at once; an
    UNKNOWN scores the mean of its problem's decided scores (see the module)."""
    pairs = _pairs(data_sources, solution_strs, ground_truths, extra_infos)
    scored = default_scorer().score(pairs)
    decided: dict[str, list[float]] = {}
    for pair, s in zip(pairs, scored, strict=True):
        value = reward_of(s)
        if pair is not None and value is not None:
            decided.setdefault(pair.problem.hash, []).append(value)
    out = []
    for pair, s in zip(pairs, scored, strict=True):
        peers = decided.get(pair.problem.hash, []) if pair is not None else []
        neutral = sum(peers) / len(peers) if peers else 0.0
        out.append(_result(s, neutral))
    return out
