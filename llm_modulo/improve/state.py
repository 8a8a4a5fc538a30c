"""The run directory's state file: which phases of which iteration are finished, and what
they produced. Written atomically after every phase, so a rerun continues from the last
finished phase."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from llm_modulo.errors import ImproveError, UsageError
from llm_modulo.improve.config import ImproveConfig

STATE_FILE = "state.json"
STATE_VERSION = 1
#: the phases of a training iteration, in order
PHASES = ("solve", "data", "train", "save", "serve", "evaluate", "report")
#: iteration 0 measures the base model
BASELINE_PHASES = ("serve", "evaluate", "report")


def phases_of(iteration: int) -> tuple[str, ...]:
    return BASELINE_PHASES if iteration == 0 else PHASES


class IterationState(BaseModel):
    done: list[str] = Field(default_factory=list, description="finished phases, in order")
    #: what each finished phase produced (run ids, counts, metrics)
    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    seconds: dict[str, float] = Field(default_factory=dict, description="wall time per phase")


class RunState(BaseModel):
    version: int = STATE_VERSION
    run_id: str
    config_hash: str
    domain: str
    iterations: dict[int, IterationState] = Field(default_factory=dict)

    def iteration(self, k: int) -> IterationState:
        return self.iterations.setdefault(k, IterationState())

    def finished(self, k: int, phase: str) -> bool:
        return k in self.iterations and phase in self.iterations[k].done

    def result(self, k: int, phase: str) -> dict[str, Any]:
        return self.iterations[k].results[phase] if self.finished(k, phase) else {}


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file in the same folder and rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_or_create(config: ImproveConfig) -> RunState:
    """The run's state: read from ``run_dir`` (which must be of the same configuration), or
    a new one."""
    path = config.run_dir / STATE_FILE
    if not path.exists():
        if config.run_dir.exists() and not config.run_dir.is_dir():
            raise UsageError(f"run directory {config.run_dir} is not a directory")
        state = RunState(run_id=uuid.uuid4().hex, config_hash=config.identity(),
                         domain=config.domain)
        save(config.run_dir, state)
        return state
    try:
        state = RunState.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        raise ImproveError(f"{path} is not an improve state file ({type(exc).__name__}); "
                           "choose another run directory") from None
    if state.version != STATE_VERSION:
        raise ImproveError(f"{path} was written by another llm-modulo (state version "
                           f"{state.version})")
    if state.config_hash != config.identity():
        raise ImproveError(f"{config.run_dir} holds a run with another configuration; only "
                           "--iterations, the endpoint, concurrency and timeouts may change "
                           "when resuming (or choose another --run-dir)")
    return state


def save(run_dir: Path, state: RunState) -> None:
    write_atomically(run_dir / STATE_FILE,
                     json.dumps(state.model_dump(mode="json"), indent=1, sort_keys=True))
