"""Our reward inside TRL's real GRPOTrainer: the signature it calls, and one training step
with a tiny randomly initialised model on CPU (skipped without trl or the embedded model's
tokenizer; no network)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.domains.game24 import Game24Domain, solve24
from llm_modulo.embedded import model_dir
from llm_modulo.rewards.trl import LLMModuloReward, reward_function
from llm_modulo.types import canonical_json

trl = pytest.importorskip("trl")

G24 = Game24Domain()


def rows(n: int) -> list[dict[str, Any]]:
    """Rows as our ``verl`` export writes them (TRL takes the conversational prompt)."""
    out = []
    for p in G24.generate_problems(n, seed=3):
        out.append({
            "prompt": [m.model_dump() for m in G24.initial_messages(p)],
            "data_source": "llm_modulo/game24",
            "reward_model": {"style": "rule", "ground_truth": canonical_json(p.payload)},
            "extra_info": {"problem_hash": p.hash, "domain": "game24"},
        })
    return out


def test_grpo_trainer_takes_our_reward_and_calls_it_as_trl_does() -> None:
    from trl.trainer.utils import get_callable_name, is_async_callable

    reward = reward_function("game24")
    assert get_callable_name(reward) == "llm_modulo_game24"
    assert not is_async_callable(reward)
    assert is_async_callable(reward_function("game24", asynchronous=True))
    params = inspect.signature(trl.GRPOTrainer.__init__).parameters
    assert "reward_funcs" in params
    # the keywords TRL's _calculate_rewards passes: prompts, completions, completion_ids,
    # every other column as a list, and its own extras
    data = rows(2)
    p = G24.parse_problem(json.loads(data[0]["reward_model"]["ground_truth"]))
    right = json.dumps({"expression": solve24(tuple(p.payload["numbers"]))})
    kwargs = {k: [r[k] for r in data] for k in data[0] if k != "prompt"}
    got = reward(prompts=[r["prompt"] for r in data],
                 completions=[[{"role": "assistant", "content": right}],
                              [{"role": "assistant", "content": "no idea"}]],
                 completion_ids=[[1], [2]], trainer_state=object(), log_extra=print,
                 log_metric=print, **kwargs)
    assert got == [1.0, 0.0]


def test_one_grpo_step_with_a_tiny_model(tmp_path: Path) -> None:
    folder = model_dir()
    if not (folder / "tokenizer.json").exists():
        pytest.skip("the embedded model's tokenizer is not here (llm-modulo fetch-model)")
    from datasets import Dataset
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    model = LlamaForCausalLM(config)
    calls: list[list[float | None]] = []

    class Recording(LLMModuloReward):
        def __call__(self, prompts: Any = None, completions: Any = None,
                     **kwargs: Any) -> list[float | None]:
            got = super().__call__(prompts, completions, **kwargs)
            calls.append(got)
            return got

    args = trl.GRPOConfig(output_dir=str(tmp_path), use_cpu=True, max_steps=1,
                          per_device_train_batch_size=4, num_generations=4,
                          max_completion_length=8, logging_steps=1, report_to="none",
                          save_strategy="no", bf16=False)
    trainer = trl.GRPOTrainer(model=model, processing_class=tokenizer,
                              reward_funcs=[Recording("game24")], args=args,
                              train_dataset=Dataset.from_list(rows(4)))
    trainer.train()
    assert calls and all(len(c) == 4 for c in calls)
    # random tokens are no answer: proven wrong (REJECT), never left undecided as 0.0
    assert all(v in (0.0, 1.0, None) for c in calls for v in c)
    logged = [h for h in trainer.state.log_history if "rewards/llm_modulo_game24/mean" in h]
    assert logged
