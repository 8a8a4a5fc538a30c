"""The PrimeIntellect ``verifiers`` environment, against a stand-in ``verifiers`` module that
implements the documented interface (``Rubric(funcs, weights)``, ``SingleTurnEnv``,
``MultiTurnEnv`` with ``env_response(messages, state) -> messages`` and
``state["final_env_response"]``, ``load_environment(env_id)`` importing the module named
after the id). A ``verifiers`` with neither that API nor ``verifiers.v1`` is refused with one
clear error (checked too); the real ``verifiers.v1`` is tested in test_rewards_env_v1.py."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from llm_modulo.domains.game24 import Game24Domain, solve24
from llm_modulo.errors import SetupError

G24 = Game24Domain()


class Rubric:
    def __init__(self, funcs: list[Callable[..., Any]], weights: list[float]) -> None:
        self.funcs, self.weights = funcs, weights

    async def score(self, completion: Any, info: Any, state: dict[str, Any]) -> dict[str, Any]:
        metrics = {}
        for f in self.funcs:  # in order, as the documented rubric does by default
            value = f(completion=completion, info=info, state=state, answer="", prompt=None)
            metrics[f.__name__] = await value if inspect.isawaitable(value) else value
        reward = sum(w * metrics[f.__name__] for f, w in zip(self.funcs, self.weights,
                                                            strict=True))
        return {"reward": reward, "metrics": metrics}


class Environment:
    def __init__(self, dataset: Any, rubric: Rubric, **kwargs: Any) -> None:
        self.dataset, self.rubric, self.kwargs = dataset, rubric, kwargs


class SingleTurnEnv(Environment):
    async def rollout(self, row: dict[str, Any], model: Callable[[list[Any]], str]
                      ) -> dict[str, Any]:
        state: dict[str, Any] = {"info": row["info"], "prompt": row["prompt"]}
        completion = [{"role": "assistant", "content": model(row["prompt"])}]
        return {**await self.rubric.score(completion, row["info"], state),
                "completion": completion, "state": state}


class MultiTurnEnv(Environment):
    def __init__(self, max_turns: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_turns = max_turns

    async def env_response(self, messages: Any, state: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def rollout(self, row: dict[str, Any], model: Callable[[list[Any]], str]
                      ) -> dict[str, Any]:
        state: dict[str, Any] = {"info": row["info"], "prompt": row["prompt"], "turn": 0}
        completion: list[Any] = []
        while True:
            messages = row["prompt"] + completion
            completion.append({"role": "assistant", "content": model(messages)})
            state["turn"] += 1
            if 0 < self.max_turns <= state["turn"]:
                break
            reply = await self.env_response(row["prompt"] + completion, state)
            if state.get("final_env_response") is not None:
                break
            completion.extend(reply)
        return {**await self.rubric.score(completion, row["info"], state),
                "completion": completion, "state": state}


def loader(env_id: str, **env_args: Any) -> Any:
    """The documented loader: import the module named after the id, call its function."""
    module = importlib.import_module(env_id.replace("-", "_").split("/")[-1])
    return module.load_environment(**env_args)


@pytest.fixture()
def vf(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    pytest.importorskip("datasets", reason="the old verifiers API's datasets are datasets.Dataset")
    fake = types.ModuleType("verifiers")
    for obj in (Rubric, Environment, SingleTurnEnv, MultiTurnEnv):
        setattr(fake, obj.__name__, obj)
    fake.load_environment = loader  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "verifiers", fake)
    return fake


def answer_for(row: dict[str, Any]) -> str:
    numbers = tuple(json.loads(row["info"]["problem"])["numbers"])
    return json.dumps({"expression": solve24(numbers)})


def test_single_turn_rubric_is_our_verifier(vf: types.ModuleType) -> None:
    env = vf.load_environment("llm-modulo", domain="game24", num_examples=3, seed=1)
    assert isinstance(env, SingleTurnEnv)
    rows = list(env.dataset)
    assert len(rows) == 3 and all(r["answer"] == "" for r in rows)  # no gold answer given out
    row = rows[0]
    good = asyncio.run(env.rollout(row, lambda _m: answer_for(row)))
    bad = asyncio.run(env.rollout(row, lambda _m: json.dumps({"expression": "1+1"})))
    undecided = asyncio.run(env.rollout(row, lambda _m: answer_for(row) + "\nWait, actually: 1+1"))
    assert (good["reward"], good["metrics"]["llm_modulo_decided"]) == (1.0, 1.0)
    assert (bad["reward"], bad["metrics"]["llm_modulo_decided"]) == (0.0, 1.0)
    assert (undecided["reward"], undecided["metrics"]["llm_modulo_decided"]) == (0.0, 0.0)
    assert undecided["state"]["llm_modulo"]["status"] == "unknown"
    assert good["state"]["llm_modulo"]["status"] == "accept"


def test_multi_turn_back_prompts_with_the_critique(vf: types.ModuleType) -> None:
    env = vf.load_environment("llm-modulo", domain="game24", num_examples=1, seed=2,
                              multi_turn=True, max_turns=4)
    row = next(iter(env.dataset))
    solution = answer_for(row)
    replies = iter([json.dumps({"expression": "1+1"}), solution])
    out = asyncio.run(env.rollout(row, lambda _m: next(replies)))
    roles = [m["role"] for m in out["completion"]]
    assert roles == ["assistant", "user", "assistant"]
    critique = out["completion"][1]["content"]
    assert "not correct" in critique
    assert json.loads(solution)["expression"] not in critique  # never the answer
    assert out["reward"] == 1.0 and out["state"]["llm_modulo"]["status"] == "accept"
    # always wrong: stops at max_turns with reward 0.0
    stubborn = asyncio.run(env.rollout(row, lambda _m: json.dumps({"expression": "1+1"})))
    assert [m["role"] for m in stubborn["completion"]].count("assistant") == 4
    assert stubborn["reward"] == 0.0


def test_verl_export_rows_and_a_verifiers_without_either_api(vf: types.ModuleType, tmp_path: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from llm_modulo.corpus.formats import VERL_SCHEMA
    from llm_modulo.types import canonical_json

    p = G24.parse_problem("4 4 6 8")
    path = tmp_path / "rl.parquet"
    pq.write_table(pa.Table.from_pylist([{
        "data_source": "llm_modulo/game24",
        "prompt": [m.model_dump() for m in G24.initial_messages(p)], "ability": "game24",
        "reward_model": {"style": "rule", "ground_truth": canonical_json(p.payload)},
        "extra_info": {"split": "train", "index": 0, "problem_hash": p.hash,
                       "domain": "game24", "verifier": "game24", "verifier_version": "1",
                       "solved": True}}], schema=VERL_SCHEMA), path)
    env = vf.load_environment("llm-modulo", domain="game24", verl_export=str(path))
    row = next(iter(env.dataset))
    assert asyncio.run(env.rollout(row, lambda _m: answer_for(row)))["reward"] == 1.0
    v1 = types.ModuleType("verifiers")
    v1.__version__ = "0.4.0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "verifiers", v1)
    from llm_modulo import load_environment

    with pytest.raises(SetupError, match=r"verifiers\.v1 cannot be imported"):
        load_environment(domain="game24")
