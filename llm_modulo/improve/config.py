"""What one ``llm-modulo improve`` run does (:class:`ImproveConfig`), validated at the boundary:
a bad value is one line naming the field (:func:`parse_config`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llm_modulo.config import Budget
from llm_modulo.errors import UsageError
from llm_modulo.types import FeedbackLevel

#: A checkpoint's name is the served model name and the attempts' ``model``.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_CONFIG_BYTES = 1_000_000


class TrainConfig(BaseModel):
    """How each iteration fine-tunes (TRL's SFTTrainer, then DPOTrainer when ``dpo``)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lora", "full"] = "lora"
    dpo: bool = Field(default=False, description="after SFT, DPO on verified vs. REJECTed")
    learning_rate: float = Field(default=2e-4, gt=0, le=1.0)
    epochs: float = Field(default=2.0, gt=0, le=100)
    max_steps: int | None = Field(default=None, ge=1, description="overrides epochs")
    batch_size: int = Field(default=8, ge=1, le=1024)
    gradient_accumulation: int = Field(default=1, ge=1, le=1024)
    max_length: int = Field(default=512, ge=16, le=32768)
    lora_r: int = Field(default=16, ge=1, le=1024)
    lora_alpha: int = Field(default=32, ge=1, le=4096)
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    dpo_beta: float = Field(default=0.1, gt=0, le=10)
    #: ``auto``: accelerate decides (a GPU when present, else the CPU); ``cpu``: always CPU
    device: Literal["auto", "cpu"] = "auto"
    #: train on the verified solutions of every iteration of this run so far (``lineage``),
    #: or of this iteration only
    data: Literal["lineage", "iteration"] = "lineage"


class ImproveConfig(BaseModel):
    """One self-improvement run: K iterations of solve, build data, train, save, serve,
    evaluate, report. Everything is kept in ``run_dir`` (resumable)."""

    model_config = ConfigDict(extra="forbid")

    run_dir: Path
    domain: str = "game24"
    iterations: int = Field(default=2, ge=1, le=1000)
    train_problems: int = Field(default=64, ge=1, le=1_000_000,
                                description="fresh training problems per iteration")
    eval_problems: int = Field(default=32, ge=1, le=100_000,
                               description="size of the fixed held-out split")
    seed: int = Field(default=0, ge=0, le=2**62)
    corpus: Path | None = None
    #: the first checkpoint: a Hugging Face folder (default: the embedded SmolLM2)
    base_model: Path | None = None
    base_name: str = Field(default="smollm2", pattern=NAME_PATTERN)
    #: serve yourself: every phase talks to this endpoint (serving is left to you)
    base_url: str | None = None
    model: str | None = None
    strategy: str = "backprompt"
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=lambda: Budget(rounds=4, samples=8))
    feedback: FeedbackLevel = FeedbackLevel.ALL
    temperature: float = Field(default=1.0, ge=0, le=5)
    max_tokens: int = Field(default=128, ge=1, le=32768, description="tokens per sample")
    structured: bool = True
    concurrency: int = Field(default=16, ge=1, le=4096)
    request_timeout: float = Field(default=600.0, gt=0, le=86400)
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _consistent(self) -> ImproveConfig:
        if self.model is not None and self.base_url is None:
            raise ValueError("model names a model of --base-url; without base_url the "
                             "embedded server serves each checkpoint under its own name")
        return self

    def identity(self) -> str:
        """A hash of what decides the run's data and checkpoints: a resumed run must have
        the same (iterations, endpoint, concurrency and timeouts may change)."""
        data = self.model_dump(mode="json", exclude={"iterations", "base_url", "model",
                                                     "concurrency", "request_timeout",
                                                     "run_dir"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def parse_config(data: Mapping[str, Any]) -> ImproveConfig:
    """Validate ``data``; the first problem is one :class:`UsageError` line."""
    try:
        return ImproveConfig.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"improve config: {where}: {first['msg']}".replace(": : ", ": ")
                         ) from None


def read_config_file(path: Path) -> dict[str, Any]:
    """A JSON object of :class:`ImproveConfig` fields (bounded size; JSON only, so no YAML
    alias can multiply it)."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise UsageError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the config file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not a JSON object: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: want a JSON object of improve settings")
    return data
