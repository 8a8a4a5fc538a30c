"""Any of our domains as a PrimeIntellect ``verifiers`` environment.

``verifiers`` finds an environment by importing the module named after its id and calling
its ``load_environment(**args)``: ``vf.load_environment("llm-modulo", domain="game24")``
imports ``llm_modulo`` and calls :func:`llm_modulo.load_environment` (this function, loaded
lazily). ``verifiers`` itself is imported only when it is called: it is no dependency of ours.

* Single-turn (default): a ``vf.SingleTurnEnv`` whose rubric is our verifier.
* ``multi_turn=True``: LLM-Modulo back-prompting as an RL environment. A ``vf.MultiTurnEnv``
  that verifies each answer; a REJECT is answered with the domain's critique
  (``Domain.render_feedback`` at ``feedback``, never the gold answer) and the model tries
  again, up to ``max_turns`` answers; an ACCEPT or an UNKNOWN ends the rollout.

Rubric: ``llm_modulo_verified`` (weight 1) is 1.0 for a sound ACCEPT of the final answer, 0.0
for a sound REJECT, and ``unknown_score`` (default 0.0) for UNKNOWN, since a rubric must give
a float; ``llm_modulo_decided`` (weight 0, a logged metric) is 1.0 when the verdict was
decided, so UNKNOWN rollouts can be told apart and masked.

Written against the documented ``verifiers`` interface of ``SingleTurnEnv`` /
``MultiTurnEnv`` (``env_response(messages, state) -> messages``,
``state["final_env_response"]``) / ``Rubric(funcs, weights)``. The ``verifiers`` 0.4 line,
whose root package exports only its ``verifiers.v1`` Taskset API, has no such classes, and
this function says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from llm_modulo.errors import SetupError
from llm_modulo.rewards.core import Scored, default_scorer
from llm_modulo.rewards.rows import RowError, completion_text, problem_of
from llm_modulo.types import (
    Attempt,
    FeedbackLevel,
    Message,
    Problem,
    Status,
    canonical_json,
)

_STATE_KEY = "llm_modulo"


def problem_rows(domain: str, problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """Dataset rows for ``problems``: the domain's first prompt, an empty ``answer`` (the
    reward is the verifier; no gold answer is given out), the problem in ``info``."""
    from llm_modulo.registry import default_registry

    dom = default_registry.domain(domain)
    rows = []
    for p in problems:
        rows.append({
            "prompt": [m.model_dump() for m in dom.initial_messages(p)],
            "answer": "",
            "task": f"llm_modulo/{domain}",
            "info": {"domain": domain, "problem": canonical_json(p.payload),
                     "problem_hash": p.hash},
        })
    return rows


def verl_rows(path: str | Path) -> list[dict[str, Any]]:
    """Dataset rows from our ``verl`` export (its prompt, its problem in ``info``)."""
    import pyarrow.parquet as pq

    rows = []
    for r in pq.read_table(path).to_pylist():
        extra = r.get("extra_info") or {}
        rows.append({"prompt": r["prompt"], "answer": "", "task": r["data_source"],
                     "info": {"domain": extra.get("domain"),
                              "problem": r["reward_model"]["ground_truth"],
                              "problem_hash": extra.get("problem_hash")}})
    return rows


def _last_reply(completion: Any) -> str:
    return completion_text(completion)


async def _verify(completion: Any, info: Any, domain: str | None) -> tuple[Problem | None,
                                                                          Scored]:
    """The problem of ``info`` and the verdict of ``completion``'s last answer."""
    try:
        problem = problem_of(info if isinstance(info, Mapping) else {}, domain)
        from llm_modulo.rewards.core import Pair

        pair = Pair(problem, _last_reply(completion))
    except RowError as exc:
        return None, Scored(None, None, str(exc))
    return problem, (await default_scorer().ascore([pair]))[0]


def _record(state: Any, scored: Scored) -> None:
    if isinstance(state, dict):
        state[_STATE_KEY] = {"status": scored.status.value,
                             "critiques": [c.message for c in
                                           (scored.verdict.critiques if scored.verdict else [])],
                             "detail": scored.detail}


def load_environment(domain: str = "game24", *, num_examples: int = 64, seed: int = 0,
                     problems: Iterable[Problem] | None = None,
                     verl_export: str | Path | None = None, multi_turn: bool = False,
                     max_turns: int = 4, feedback: str = "all", unknown_score: float = 0.0,
                     **env_kwargs: Any) -> Any:
    """A ``verifiers`` environment for ``domain`` (see the module).

    Problems: ``problems``, else the rows of a ``verl_export`` parquet file, else
    ``num_examples`` problems the domain generates from ``seed``. ``env_kwargs`` go to the
    environment's constructor (e.g. ``system_prompt``)."""
    try:
        vf: Any = importlib.import_module("verifiers")
    except ImportError:
        raise SetupError("load_environment needs PrimeIntellect's verifiers package "
                         "(pip install verifiers)") from None
    needed = ("SingleTurnEnv", "MultiTurnEnv", "Rubric")
    if not all(hasattr(vf, name) for name in needed):
        raise SetupError(f"the verifiers module found ({getattr(vf, '__file__', '?')}, "
                         f"version {getattr(vf, '__version__', '?')}) has no "
                         f"{'/'.join(needed)}; its v1 Taskset API is not supported")
    from datasets import Dataset

    level = FeedbackLevel(feedback)
    if verl_export is not None:
        rows = verl_rows(verl_export)
    else:
        from llm_modulo.registry import default_registry

        chosen = (list(problems) if problems is not None else
                  default_registry.domain(domain).generate_problems(num_examples, seed))
        rows = problem_rows(domain, chosen)
    dataset = Dataset.from_list(rows)

    async def llm_modulo_verified(completion: Any, info: Any = None, state: Any = None,
                                  **kwargs: Any) -> float:
        _problem, scored = await _verify(completion, info, domain)
        _record(state, scored)
        if scored.status is Status.ACCEPT:
            return 1.0
        if scored.status is Status.REJECT:
            return 0.0
        return float(unknown_score)

    def llm_modulo_decided(state: Any = None, **kwargs: Any) -> float:
        found = state.get(_STATE_KEY) if isinstance(state, dict) else None
        return 1.0 if found and found["status"] != Status.UNKNOWN.value else 0.0

    rubric = vf.Rubric(funcs=[llm_modulo_verified, llm_modulo_decided], weights=[1.0, 0.0])
    if not multi_turn:
        return vf.SingleTurnEnv(dataset=dataset, rubric=rubric, **env_kwargs)

    class LLMModuloEnv(vf.MultiTurnEnv):  # type: ignore[misc]
        """Back-prompting: each REJECTed answer gets the verifier's critique as the reply."""

        async def env_response(self, messages: Any, state: Any, **kwargs: Any) -> Any:
            info = state.get("info") if isinstance(state, dict) else None
            problem, scored = await _verify(messages, info, domain)
            _record(state, scored)
            if problem is None or scored.status is not Status.REJECT or scored.verdict is None:
                done = "Verified." if scored.status is Status.ACCEPT else "Undecided."
                state["final_env_response"] = [{"role": "user", "content": done}]
                return state["final_env_response"]
            text = _last_reply(messages)
            attempt = Attempt(round=1, sample=0, prompt=[Message(role="user", content="")],
                              completion=text,
                              candidate=scored.candidate or _unread(text),
                              verdict=scored.verdict)
            from llm_modulo.registry import default_registry

            reply = default_registry.domain(problem.domain).render_feedback(problem, attempt,
                                                                             level)
            return [{"role": "user", "content": reply}]

    return LLMModuloEnv(dataset=dataset, rubric=rubric, max_turns=max_turns, **env_kwargs)


def _unread(text: str) -> Any:
    from llm_modulo.types import Candidate

    return Candidate(raw=text, parse_error="the reply could not be read")
