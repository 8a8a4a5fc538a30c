"""The grid of a study: one :class:`Cell` per arm and problem set.

An arm is (strategy, critic mode, feedback level, round limit). Critic modes map to
strategies: ``sound`` runs the named strategy with the sound verifier; ``self`` runs
``self_critique`` (back-prompting decided by the LLM critic; only with ``backprompt``);
``none`` runs ``best_of_n`` (no feedback, so one arm whatever the feedback levels and
strategies). Combinations that mean nothing are dropped, and said.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from llm_modulo.critic import CriticMode
from llm_modulo.study.config import ModelEntry, StudyConfig
from llm_modulo.types import FeedbackLevel, canonical_json


@dataclass(frozen=True)
class Cell:
    """One arm of the grid on one problem set with one model."""

    domain: str
    set_label: str
    set_index: int
    model: ModelEntry
    strategy: str
    mode: CriticMode
    feedback: FeedbackLevel
    rounds: int

    @property
    def arm(self) -> str:
        """The arm's name in tables and plots."""
        if self.mode is CriticMode.NONE:
            return f"none/sampling r{self.rounds}"
        strategy = "" if self.strategy in ("backprompt", "self_critique") else \
            f" {self.strategy}"
        return f"{self.mode.value}/{self.feedback.value}{strategy} r{self.rounds}"

    @property
    def run_strategy(self) -> str:
        """The registered strategy the cell runs."""
        if self.mode is CriticMode.SELF:
            return "self_critique"
        if self.mode is CriticMode.NONE:
            return "best_of_n"
        return self.strategy

    def key(self, config: StudyConfig) -> str:
        """The cell's id: readable, plus a hash of everything that changes its results (a
        changed sampling setting makes new cells, never reuses old results)."""
        spec = {"domain": self.domain, "set": self.set_label, "set_index": self.set_index,
                "model": self.model.model_dump(), "strategy": self.run_strategy,
                "mode": self.mode.value, "feedback": self.feedback.value,
                "rounds": self.rounds, "samples": config.samples,
                "temperature": config.temperature, "max_tokens": config.max_tokens,
                "seed": config.seed, "structured": config.structured,
                "critic": config.critic.model_dump() if self.mode is CriticMode.SELF
                else None}
        digest = hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:10]
        name = f"{self.domain}.{self.set_label}.{self.model.label}.{self.arm}"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + "." + digest


def grid(config: StudyConfig, set_labels: list[str]) -> tuple[list[Cell], list[str]]:
    """The cells of ``config`` (``set_labels[i]`` names ``config.domains[i]``'s set) and
    the combinations dropped, each with why."""
    cells: list[Cell] = []
    dropped: list[str] = []
    seen: set[tuple[object, ...]] = set()
    for index, entry in enumerate(config.domains):
        for model in config.models:
            for rounds in config.rounds:
                for strategy in config.strategies:
                    for mode in config.critic_modes:
                        for feedback in config.feedback:
                            if mode is CriticMode.SELF and strategy != "backprompt":
                                dropped.append(f"critic mode self with strategy {strategy}: "
                                               "self-critique is back-prompting only")
                                continue
                            if mode is CriticMode.NONE:
                                strategy_, feedback = "best_of_n", FeedbackLevel.NONE
                            else:
                                strategy_ = strategy
                            cell = Cell(entry.domain, set_labels[index], index, model,
                                        strategy_, mode, feedback, rounds)
                            ident = (index, model.label, rounds, cell.run_strategy, mode,
                                     feedback)
                            if ident in seen:
                                continue
                            seen.add(ident)
                            cells.append(cell)
    return cells, sorted(set(dropped))
