"""The improve trainer with the real TRL on a tiny randomly initialised Llama (CPU, a few
steps), and one end-to-end improve on the real embedded vLLM (marked ``vllm``: CI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_modulo.domains.game24 import Game24Domain, solve24
from llm_modulo.embedded import model_dir
from llm_modulo.improve import ImproveConfig, TrainConfig, TrainJob, TRLTrainer, improve

pytest.importorskip("trl")
G24 = Game24Domain()


def sft_rows(path: Path, n: int = 4) -> Path:
    lines = []
    for p in G24.generate_problems(n, seed=5):
        prompt = [m.model_dump() for m in G24.initial_messages(p)]
        answer = json.dumps({"expression": solve24(tuple(p.payload["numbers"])) or "0"})
        lines.append(json.dumps({"prompt": prompt,
                                 "completion": [{"role": "assistant", "content": answer}]}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = model_dir()
    if not (folder / "tokenizer.json").exists():
        pytest.skip("the embedded model's tokenizer is not here (llm-modulo fetch-model)")
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    out = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("method", ["lora", "full"])
def test_trl_sft_writes_a_merged_servable_folder(tmp_path: Path, tiny_model: Path,
                                                 method: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    job = TrainJob(parent=tiny_model, sft=sft_rows(tmp_path / "sft.jsonl"), dpo=None,
                   out=tmp_path / "trained",
                   config=TrainConfig(method=method, max_steps=2, batch_size=2,
                                      learning_rate=1e-2, device="cpu"), seed=0)
    figures = TRLTrainer().train(job)
    assert figures["sft"]["steps"] == 2 and figures["sft"]["tokens"] > 0
    assert figures["tokens_per_s"] > 0
    files = {p.name for p in job.out.iterdir()}
    assert "config.json" in files and "model.safetensors" in files
    assert not any(name.startswith("adapter") for name in files)  # LoRA merged
    assert "chat_template.jinja" in files or "tokenizer_config.json" in files
    before = AutoModelForCausalLM.from_pretrained(tiny_model)
    after = AutoModelForCausalLM.from_pretrained(job.out)
    assert set(before.state_dict()) == set(after.state_dict())  # a plain Llama again
    changed = [k for k, v in after.state_dict().items()
               if not torch.equal(v, before.state_dict()[k])]
    assert changed  # the optimizer steps moved the weights


def test_trl_dpo_after_sft(tmp_path: Path, tiny_model: Path) -> None:
    sft = sft_rows(tmp_path / "sft.jsonl", 2)
    dpo = tmp_path / "dpo.jsonl"
    rows = []
    for line in sft.read_text().splitlines():
        row = json.loads(line)
        rows.append(json.dumps({"prompt": row["prompt"], "chosen": row["completion"],
                                "rejected": [{"role": "assistant",
                                              "content": '{"expression": "1+1"}'}]}))
    dpo.write_text("\n".join(rows) + "\n")
    job = TrainJob(parent=tiny_model, sft=sft, dpo=dpo, out=tmp_path / "trained",
                   config=TrainConfig(method="lora", dpo=True, max_steps=1, batch_size=2,
                                      device="cpu"), seed=0)
    figures = TRLTrainer().train(job)
    assert figures["dpo_result"]["steps"] == 1
    assert (job.out / "config.json").is_file()


@pytest.mark.vllm
def test_tiny_improve_on_game24_with_the_real_embedded_vllm(tmp_path: Path) -> None:
    """A few training rows, two optimizer steps of SmolLM2 (LoRA, merged), the real embedded
    vLLM restarted on the new checkpoint, which answers the evaluation requests."""
    notes: list[str] = []
    config = ImproveConfig(run_dir=tmp_path / "run", corpus=tmp_path / "corpus.sqlite",
                           domain="game24", iterations=1, train_problems=4, eval_problems=2,
                           budget={"rounds": 2, "samples": 8}, temperature=1.5,
                           max_tokens=64, train=TrainConfig(method="lora", max_steps=2,
                                                            batch_size=2, device="cpu"))
    table = improve(config, say=notes.append)
    assert [r.iteration for r in table] == [0, 1]
    state: dict[str, Any] = json.loads((config.run_dir / "state.json").read_text())
    last = state["iterations"]["1"]["results"]
    if last["train"].get("skipped"):
        pytest.skip("SmolLM2 solved no training puzzle in this budget: nothing to train")
    checkpoint = last["save"]["checkpoint"]
    assert (Path(last["save"]["path"]) / "lineage.json").is_file()
    assert last["serve"]["model"] == checkpoint  # vLLM serves the new folder under its name
    s1 = last["evaluate"]["system1"]
    assert s1["checkpoint"] == checkpoint and s1["errors"] == 0
    assert s1["requests"] == 2 and s1["completion_tokens"] > 0  # it answered
    assert (config.run_dir / "report.md").is_file()
