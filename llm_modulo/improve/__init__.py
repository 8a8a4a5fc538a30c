"""Self-improvement (expert iteration): solve fresh problems with search (System 2), train the
generator with TRL on the verified solutions, serve the new checkpoint, measure System 1
(pass@1 greedy) and System 2 on a held-out split, over iterations. See
docs/self-improvement.md.

Importing this package loads neither TRL nor vLLM: they load when a phase needs them.
"""

from __future__ import annotations

from llm_modulo.improve.config import ImproveConfig, TrainConfig, parse_config
from llm_modulo.improve.report import IterationRow
from llm_modulo.improve.runner import PhaseHook, improve
from llm_modulo.improve.serving import (
    Checkpoint,
    EmbeddedServing,
    Endpoint,
    ExternalServing,
    Serving,
)
from llm_modulo.improve.training import Trainer, TrainJob, TRLTrainer

__all__ = ["Checkpoint", "EmbeddedServing", "Endpoint", "ExternalServing", "ImproveConfig",
           "IterationRow", "PhaseHook", "Serving", "TRLTrainer", "TrainConfig", "TrainJob",
           "Trainer", "improve", "parse_config"]
