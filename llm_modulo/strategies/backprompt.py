"""``backprompt``: the LLM-Modulo loop of rounds with critiques (the default).

Per round: ``samples`` completions of one prompt, each judged; the first sound ACCEPT ends the
solve; otherwise the next round back-prompts with the critiques of the rejected attempt with
the fewest problems found, at the configured feedback level.
"""

from __future__ import annotations

from typing import ClassVar

from llm_modulo.strategy import SearchContext, Stop, Strategy
from llm_modulo.types import Attempt, Status, StopReason


class BackPrompt(Strategy):
    name: ClassVar[str] = "backprompt"
    description: ClassVar[str] = ("rounds of n samples; each round back-prompts with the "
                                  "verifier's critiques of a rejected answer")

    async def search(self, ctx: SearchContext) -> Attempt | None:
        try:
            structured = (ctx.domain.structured_output(ctx.problem) if ctx.config.structured
                          else None)
        except Exception as exc:  # a domain bug ends this problem, not the batch
            raise Stop(StopReason.ERROR, domain_failed(ctx, "build its output constraint",
                                                       exc)) from None
        previous: Attempt | None = None
        for round_no in range(1, ctx.budget.rounds + 1):
            ctx.check_budget()
            try:
                messages = ctx.domain.next_messages(ctx.problem, previous, ctx.config.feedback)
            except Exception as exc:
                raise Stop(StopReason.ERROR, domain_failed(ctx, "render a prompt",
                                                           exc)) from None
            generation = await ctx.generate(messages, ctx.params(), structured)
            made = await ctx.attempts(round_no, generation)
            accepted = next((a for a in made if a.verdict.accepted), None)
            if accepted is not None:
                return accepted
            previous = feedback_target(made)
        return None


def domain_failed(ctx: SearchContext, what: str, exc: Exception) -> str:
    return f"domain {ctx.domain.name} failed to {what}: {type(exc).__name__}: {exc}"


def feedback_target(attempts: list[Attempt]) -> Attempt | None:
    """The rejected attempt to critique next: the one with the fewest problems found."""
    rejected = [a for a in attempts if a.verdict.status is Status.REJECT]
    return min(rejected, key=lambda a: len(a.verdict.critiques)) if rejected else None
