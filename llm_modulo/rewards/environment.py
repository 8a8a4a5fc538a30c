"""Any of our domains as a PrimeIntellect ``verifiers`` environment, for either API the
installed ``verifiers`` offers:

* ``verifiers`` >= 0.4 (its ``verifiers.v1`` Taskset API): :mod:`llm_modulo.rewards.verifiers_v1`
  builds the environment (taskset id ``llm-modulo-env``, the package in
  ``environments/llm_modulo_env``). UNKNOWN there fails the rollout's scoring (no reward)
  unless ``unknown_score`` is given.
* the older API (``SingleTurnEnv`` / ``MultiTurnEnv`` / ``Rubric`` at the package root):
  ``vf.load_environment("llm-modulo", ...)`` imports ``llm_modulo`` and calls
  :func:`llm_modulo.load_environment` (this function, loaded lazily).

``verifiers`` itself is imported only when this is called: it is no dependency of ours.

Old API, single-turn (default): a ``vf.SingleTurnEnv`` whose rubric is our verifier.
``multi_turn=True``: LLM-Modulo back-prompting as an RL environment. A ``vf.MultiTurnEnv``
that verifies each answer; a REJECT is answered with the domain's critique
(``Domain.render_feedback`` at ``feedback``, never the gold answer) and the model tries
again, up to ``max_turns`` answers; an ACCEPT or an UNKNOWN ends the rollout.

Old API rubric: ``llm_modulo_verified`` (weight 1) is 1.0 for a sound ACCEPT of the final
answer, 0.0 for a sound REJECT, and ``unknown_score`` (default 0.0 there) for UNKNOWN, since
that rubric must give a float; ``llm_modulo_decided`` (weight 0, a logged metric) is 1.0 when
the verdict was decided, so UNKNOWN rollouts can be told apart and masked.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from llm_modulo.errors import SetupError
from llm_modulo.rewards.backprompt import STATE_KEY, critique_of, record_of, verify_reply
from llm_modulo.rewards.core import Scored
from llm_modulo.rewards.rows import RowError, completion_text, problem_of
from llm_modulo.types import FeedbackLevel, Problem, Status, canonical_json

_STATE_KEY = STATE_KEY


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


async def _verify(completion: Any, info: Any, domain: str | None) -> tuple[Problem | None,
                                                                          str, Scored]:
    """The problem of ``info``, ``completion``'s last answer and its verdict."""
    try:
        problem = problem_of(info if isinstance(info, Mapping) else {}, domain)
        text = completion_text(completion)
    except RowError as exc:
        return None, "", Scored(None, None, str(exc))
    return problem, text, await verify_reply(problem, text)


def _record(state: Any, scored: Scored, text: str) -> None:
    if isinstance(state, dict):
        state[_STATE_KEY] = record_of(scored, text)


def _import_verifiers() -> Any:
    """The installed ``verifiers`` package (PrimeIntellect's)."""
    try:
        return importlib.import_module("verifiers")
    except ImportError:
        raise SetupError("load_environment needs PrimeIntellect's verifiers package "
                         "(pip install verifiers)") from None


def load_environment(domain: str = "game24", *, num_examples: int = 64, seed: int = 0,
                     problems: Iterable[Problem] | None = None,
                     verl_export: str | Path | None = None, multi_turn: bool = False,
                     max_turns: int = 4, feedback: str = "all",
                     unknown_score: float | None = None, **env_kwargs: Any) -> Any:
    """A ``verifiers`` environment for ``domain`` (see the module).

    Problems: ``problems``, else the rows of a ``verl_export`` parquet file, else
    ``num_examples`` problems the domain generates from ``seed``. Old API only:
    ``env_kwargs`` go to the environment's constructor (e.g. ``system_prompt``); with
    ``verifiers.v1``, configure the returned env's config instead."""
    vf = _import_verifiers()
    needed = ("SingleTurnEnv", "MultiTurnEnv", "Rubric")
    if not all(hasattr(vf, name) for name in needed):
        if env_kwargs:
            raise SetupError(f"verifiers.v1 environments take no {sorted(env_kwargs)}: set "
                             "them on the env config (llm_modulo.rewards.verifiers_v1)")
        from llm_modulo.rewards import verifiers_v1

        return verifiers_v1.load_environment(
            domain=domain, num_examples=num_examples, seed=seed, problems=problems,
            verl_export=verl_export, multi_turn=multi_turn, max_turns=max_turns,
            feedback=feedback, unknown_score=unknown_score)
    return _old_api_environment(vf, domain, num_examples=num_examples, seed=seed,
                                problems=problems, verl_export=verl_export,
                                multi_turn=multi_turn, max_turns=max_turns, feedback=feedback,
                                unknown_score=0.0 if unknown_score is None else unknown_score,
                                env_kwargs=env_kwargs)


def _old_api_environment(vf: Any, domain: str, *, num_examples: int, seed: int,
                         problems: Iterable[Problem] | None, verl_export: str | Path | None,
                         multi_turn: bool, max_turns: int, feedback: str,
                         unknown_score: float, env_kwargs: dict[str, Any]) -> Any:
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
        _problem, text, scored = await _verify(completion, info, domain)
        _record(state, scored, text)
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
            problem, text, scored = await _verify(messages, info, domain)
            _record(state, scored, text)
            reply = None if problem is None else critique_of(problem, text, scored, level)
            if reply is None:
                done = "Verified." if scored.status is Status.ACCEPT else "Undecided."
                state["final_env_response"] = [{"role": "user", "content": done}]
                return state["final_env_response"]
            return [{"role": "user", "content": reply}]

    return LLMModuloEnv(dataset=dataset, rubric=rubric, max_turns=max_turns, **env_kwargs)
