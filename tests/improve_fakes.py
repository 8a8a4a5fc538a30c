"""Fakes for the improve tests: a trainer that copies its parent, a serving that points at a
scripted server, and a game24 responder whose answers depend on the checkpoint asked for."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from llm_modulo.domains.game24 import solve24
from llm_modulo.improve.serving import Checkpoint, Endpoint
from llm_modulo.improve.training import TrainJob


class CopyTrainer:
    """``train`` copies the parent folder (and the rows it was given) to ``job.out``."""

    def __init__(self) -> None:
        self.jobs: list[TrainJob] = []

    def train(self, job: TrainJob) -> dict[str, Any]:
        self.jobs.append(job)
        shutil.copytree(job.parent, job.out, dirs_exist_ok=True)
        shutil.copy(job.sft, job.out / "trained-on.jsonl")
        return {"sft": {"steps": 1, "last_loss": 0.5, "tokens": 10.0, "seconds": 1.0},
                "tokens_per_s": 10.0, "seconds": 1.0}


class ScriptedServing:
    """Every checkpoint is "served" by one scripted server (the request's model names it)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.served: list[str] = []
        self.closed = 0

    def serve(self, checkpoint: Checkpoint) -> Endpoint:
        if not self.served or self.served[-1] != checkpoint.name:
            self.served.append(checkpoint.name)
        return Endpoint(self.base_url, checkpoint.name)

    def close(self) -> None:
        self.closed += 1


def numbers_of(body: dict[str, Any]) -> tuple[int, ...]:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    found = re.search(r"Numbers: ([\d ]+)", user)
    assert found is not None
    return tuple(int(x) for x in found.group(1).split())


def responder(body: dict[str, Any]) -> list[str]:
    """A trained checkpoint (name ending in -itK) answers right; the base model answers right
    when sampling hot on every other puzzle, and wrong when greedy."""
    numbers = numbers_of(body)
    right = json.dumps({"expression": solve24(numbers) or "0"})
    wrong = json.dumps({"expression": "+".join(map(str, numbers))})
    if re.search(r"-it\d+$", str(body.get("model"))):
        return [right]
    if float(body.get("temperature", 1.0)) > 0 and sum(numbers) % 2 == 0:
        return [right]
    return [wrong]


def tiny_folder(path: Path) -> Path:
    """A folder that passes for a Hugging Face model with the fake trainer."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text('{"model_type": "llama"}')
    return path
