"""What one solve may spend (:class:`Budget`) and how the loop runs (:class:`LoopConfig`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.generator import SamplingParams
from llm_modulo.types import FeedbackLevel


class Budget(BaseModel):
    """How much one problem may spend. Every strategy honours every limit that is set.

    ``rounds`` and ``samples`` shape the strategy's own loop (back-prompting rounds, best-of-n
    draws, search iterations); the other limits are compute: a strategy stops before a
    request that the spent budget no longer allows, and a request never asks for more
    generated tokens than ``max_generated_tokens`` leaves.
    """

    rounds: int = Field(default=4, ge=1, description="rounds / iterations of the strategy")
    samples: int = Field(default=4, ge=1, le=128, description="samples (n) per request")
    max_tokens: int | None = Field(default=None, ge=1,
                                   description="total tokens (prompt + generated), all requests")
    max_generated_tokens: int | None = Field(default=None, ge=1,
                                             description="generated tokens, all requests")
    max_requests: int | None = Field(default=None, ge=1, description="generator requests")
    wall_time_s: float | None = Field(default=None, gt=0, description="wall time per problem")


class LoopConfig(BaseModel):
    budget: Budget = Field(default_factory=Budget)
    feedback: FeedbackLevel = FeedbackLevel.ALL
    sampling: SamplingParams = Field(default_factory=lambda: SamplingParams(temperature=1.0))
    #: Ask the generator to enforce the domain's decoding constraint (grammar / schema).
    structured: bool = True
    #: Problems in flight at once in :meth:`Solver.solve_many`.
    concurrency: int = Field(default=64, ge=1)
    #: The registered strategy that spends the budget (``llm-modulo strategies`` lists them).
    strategy: str = "backprompt"
    #: Its options (validated by the strategy's ``Options`` model).
    strategy_options: dict[str, Any] = Field(default_factory=dict)
