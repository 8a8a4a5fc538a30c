"""``best_of_n``: independent samples of the first prompt, no feedback.

The compute-matched baseline every comparison needs: the same budget as any other strategy,
spent on fresh draws of the one-shot prompt (``rounds`` requests of ``samples`` each, or until
the token/request budget ends); the sound verifier picks.
"""

from __future__ import annotations

from typing import ClassVar

from llm_modulo.strategies.backprompt import domain_failed
from llm_modulo.strategy import SearchContext, Stop, Strategy
from llm_modulo.types import Attempt, StopReason


class BestOfN(Strategy):
    name: ClassVar[str] = "best_of_n"
    description: ClassVar[str] = ("independent samples of the first prompt, no feedback; the "
                                  "verifier picks (the compute-matched baseline)")

    async def search(self, ctx: SearchContext) -> Attempt | None:
        try:
            structured = (ctx.domain.structured_output(ctx.problem) if ctx.config.structured
                          else None)
            messages = ctx.domain.initial_messages(ctx.problem)
        except Exception as exc:
            raise Stop(StopReason.ERROR, domain_failed(ctx, "render a prompt", exc)) from None
        for round_no in range(1, ctx.budget.rounds + 1):
            generation = await ctx.generate(messages, ctx.params(), structured)
            made = await ctx.attempts(round_no, generation)
            accepted = next((a for a in made if a.verdict.accepted), None)
            if accepted is not None:
                return accepted
        return None
