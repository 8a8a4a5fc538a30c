"""Fine-tuning with TRL: ``SFTTrainer`` on the verified solutions, then ``DPOTrainer`` on
verified-vs-REJECTed pairs when asked; full or LoRA (peft), LoRA merged into the weights
before the folder is written. The device is accelerate's choice (a GPU when present, else
the CPU) unless ``device: cpu``. No training loop is written here: TRL's trainers run it.

The result is a complete Hugging Face folder (weights, config, tokenizer with its chat
template) that vLLM can serve, and ``train.json`` with the trainer's figures.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llm_modulo.errors import TrainingError
from llm_modulo.improve.config import TrainConfig
from llm_modulo.improve.state import write_atomically

DONE_MARKER = ".llm-modulo-trained"


@dataclass(frozen=True)
class TrainJob:
    parent: Path           # the checkpoint folder to start from
    sft: Path              # SFT rows (JSONL, conversational prompt/completion)
    dpo: Path | None       # DPO rows (prompt/chosen/rejected) when asked
    out: Path              # where the merged model goes
    config: TrainConfig
    seed: int


class Trainer(Protocol):
    def train(self, job: TrainJob) -> dict[str, Any]:
        """Write a complete model folder to ``job.out``; return the figures."""
        ...


def finished(out: Path) -> dict[str, Any] | None:
    """The figures of a training that completed into ``out`` (None: it did not)."""
    if not (out / DONE_MARKER).exists():
        return None
    result: dict[str, Any] = json.loads((out / "train.json").read_text())
    return result


def mark_finished(out: Path, figures: dict[str, Any]) -> None:
    write_atomically(out / "train.json", json.dumps(figures, indent=1, sort_keys=True))
    (out / DONE_MARKER).write_text("ok\n")


def versions() -> dict[str, str]:
    """The versions of the training stack (for the lineage manifest)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("trl", "transformers", "peft", "torch", "accelerate", "datasets"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [json.loads(line) for line in
                                  path.read_text(encoding="utf-8").splitlines() if line]
    return rows


class TRLTrainer:
    """The real trainer (needs the ``train`` extra: trl, peft, transformers, datasets)."""

    def train(self, job: TrainJob) -> dict[str, Any]:
        try:
            import torch
            from datasets import Dataset
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from trl import (  # type: ignore[attr-defined]
                DPOConfig,
                DPOTrainer,
                SFTConfig,
                SFTTrainer,
            )
        except ImportError as exc:
            raise TrainingError(f"training needs the train extra: pip install "
                                f"'llm-modulo[train]' ({exc})") from None
        cfg = job.config
        tmp = job.out.with_name(job.out.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        tokenizer = AutoTokenizer.from_pretrained(job.parent)
        model = AutoModelForCausalLM.from_pretrained(job.parent, dtype=torch.float32)
        figures: dict[str, Any] = {"method": cfg.method, "dpo": cfg.dpo}
        start = time.monotonic()
        common: dict[str, Any] = dict(
                      output_dir=str(tmp / "trainer"), learning_rate=cfg.learning_rate,
                      num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
                      per_device_train_batch_size=cfg.batch_size,
                      gradient_accumulation_steps=cfg.gradient_accumulation,
                      logging_steps=1, save_strategy="no", report_to="none", seed=job.seed,
                      bf16=False, fp16=False, use_cpu=cfg.device == "cpu",
                      disable_tqdm=True)
        sft_rows = _read_rows(job.sft)
        if sft_rows:
            args = SFTConfig(max_length=cfg.max_length, **common)
            trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                                 train_dataset=Dataset.from_list(sft_rows),
                                 peft_config=self._lora(cfg))
            figures["sft"] = self._run(trainer)
            model = self._merged(trainer.model)
        dpo_rows = _read_rows(job.dpo) if job.dpo is not None else []
        if cfg.dpo and dpo_rows:
            dpo_args = DPOConfig(beta=cfg.dpo_beta, max_length=cfg.max_length, **common)
            dpo = DPOTrainer(model=model, args=dpo_args, processing_class=tokenizer,
                             train_dataset=Dataset.from_list(dpo_rows),
                             peft_config=self._lora(cfg))
            figures["dpo_result"] = self._run(dpo)
            model = self._merged(dpo.model)
        figures["seconds"] = time.monotonic() - start
        sft = figures.get("sft", {})
        figures["tokens_per_s"] = (sft.get("tokens", 0) / sft["seconds"]
                                   if sft.get("seconds") else None)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        if job.out.exists():
            shutil.rmtree(job.out)
        tmp.rename(job.out)
        return figures

    @staticmethod
    def _lora(cfg: TrainConfig) -> Any:
        if cfg.method != "lora":
            return None
        from peft import LoraConfig

        return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                          lora_dropout=cfg.lora_dropout, target_modules="all-linear",
                          task_type="CAUSAL_LM")

    @staticmethod
    def _merged(model: Any) -> Any:
        """A peft model with its LoRA merged into the base weights; a full model as is."""
        merge = getattr(model, "merge_and_unload", None)
        return merge() if callable(merge) else model

    @staticmethod
    def _run(trainer: Any) -> dict[str, Any]:
        start = time.monotonic()
        result = trainer.train()
        seconds = time.monotonic() - start
        logs = [h for h in trainer.state.log_history if "loss" in h]
        tokens = max((float(h.get("num_tokens", 0)) for h in logs), default=0.0)
        return {"steps": int(result.global_step), "train_loss": float(result.training_loss),
                "first_loss": float(logs[0]["loss"]) if logs else None,
                "last_loss": float(logs[-1]["loss"]) if logs else None,
                "tokens": tokens, "seconds": seconds}
