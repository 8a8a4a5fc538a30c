"""``self_critique``: back-prompting where an LLM critic, not the sound verifier, decides.

A self-critiquing system as the self-verification studies built it (Stechly, Valmeekam and
Kambhampati 2024): per round, ``samples`` completions of one prompt; the LLM critic (an
unsound verifier, :class:`~llm_modulo.critic.Critic`) judges each; the first one it ACCEPTs
ends the solve; otherwise the next round back-prompts with the *critic's* critiques (at the
configured feedback level) of the candidate it found the fewest errors in.

The sound verifier judges every candidate too (that is what is recorded in the corpus), but
the system does not see it: a sound ACCEPT the critic rejects does not stop the solve. The
reported answer is the one the critic stopped on, or the last round's when it never did, and
it counts as solved only when the sound verifier ACCEPTs it (then it is the
``SolveResult.solution``). Every critic verdict is reported beside the sound one to an
optional :class:`~llm_modulo.critic.CriticObserver` (the study's confusion matrix).

Unlike the other strategies, the first sound ACCEPT does not end the solve: that is the point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from llm_modulo.critic import (
    Critic,
    CriticJudgement,
    CriticObserver,
    CriticOutcome,
    CriticRequest,
    critic_usage,
)
from llm_modulo.strategies.backprompt import domain_failed
from llm_modulo.strategy import SearchContext, Stop, Strategy, StrategyOptions
from llm_modulo.types import Attempt, Status, StopReason, Verdict


class SelfCritiqueOptions(StrategyOptions):
    critic_base_url: str | None = Field(
        default=None, description="the critic's OpenAI-compatible endpoint (default: the "
                                  "generator's)")
    critic_model: str | None = Field(default=None,
                                     description="the critic's model (default: the "
                                                 "generator's)")
    critic_max_tokens: int = Field(default=512, ge=1, le=1_000_000,
                                   description="tokens of one critique")
    critic: str = Field(default="llm_critic", max_length=100,
                        description="the registered critic verifier")


class SelfCritique(Strategy):
    name: ClassVar[str] = "self_critique"
    description: ClassVar[str] = ("rounds of n samples; an LLM critic decides when to stop and "
                                  "writes the back-prompt; the sound verifier only scores it")
    Options = SelfCritiqueOptions

    def __init__(self, options: StrategyOptions | Mapping[str, Any] | None = None, *,
                 critic: Critic | None = None, observer: CriticObserver | None = None
                 ) -> None:
        super().__init__(options)
        self.critic = critic
        self.observer = observer

    def _critic(self, ctx: SearchContext) -> Critic:
        if self.critic is not None:
            return self.critic
        opts = self.options
        assert isinstance(opts, SelfCritiqueOptions)
        from llm_modulo.registry import default_registry

        base_url = opts.critic_base_url or getattr(ctx.generator, "base_url", None)
        if not isinstance(base_url, str):
            raise Stop(StopReason.ERROR, "self_critique: no critic endpoint (give the "
                                         "critic_base_url option)")
        factory: Any = default_registry.verifiers.get(opts.critic)
        made = factory(
            base_url, model=opts.critic_model or ctx.model, max_tokens=opts.critic_max_tokens)
        if not isinstance(made, Critic):
            raise Stop(StopReason.ERROR, f"verifier {opts.critic} is not a critic")
        self.critic = made
        return made

    async def search(self, ctx: SearchContext) -> Attempt | None:
        critic = self._critic(ctx)
        try:
            structured = (ctx.domain.structured_output(ctx.problem) if ctx.config.structured
                          else None)
            statement = ctx.domain.render_prompt(ctx.problem)
        except Exception as exc:
            raise Stop(StopReason.ERROR, domain_failed(ctx, "render a prompt", exc)) from None
        answer: tuple[Attempt, bool] | None = None
        try:
            previous: Attempt | None = None
            for round_no in range(1, ctx.budget.rounds + 1):
                ctx.check_budget()
                try:
                    messages = ctx.domain.next_messages(ctx.problem, previous,
                                                        ctx.config.feedback)
                except Exception as exc:
                    raise Stop(StopReason.ERROR, domain_failed(ctx, "render a prompt",
                                                               exc)) from None
                generation = await ctx.generate(messages, ctx.params(), structured)
                made = await ctx.attempts(round_no, generation)  # the sound verdicts
                verdicts = await critic.acritique_many(
                    [CriticRequest(ctx.problem, a.candidate, statement) for a in made])
                stop_at = next((i for i, v in enumerate(verdicts)
                                if v.status is Status.ACCEPT), None)
                for i, (attempt, verdict) in enumerate(zip(made, verdicts, strict=True)):
                    self._judged(ctx, attempt, verdict, stopped=i == stop_at)
                if stop_at is not None:
                    answer = (made[stop_at], True)
                    break
                if not made:
                    continue
                previous = _critiqued(made, verdicts)
                answer = (made[0] if previous is None else
                          next(a for a in made if a.sample == previous.sample), False)
        finally:
            if answer is not None and self.observer is not None:
                chosen, stopped = answer
                self.observer.answered(ctx.problem, CriticOutcome(
                    chosen.round, chosen.sample, chosen.verdict.status, stopped))
        if answer is not None and answer[0].verdict.accepted:
            return answer[0]
        return None

    def _judged(self, ctx: SearchContext, attempt: Attempt, verdict: Verdict, *,
                stopped: bool) -> None:
        if self.observer is not None:
            self.observer.judged(ctx.problem, CriticJudgement(
                attempt.round, attempt.sample, verdict.status, attempt.verdict.status,
                stopped, critic_usage(verdict)))


def _critiqued(made: list[Attempt], verdicts: list[Verdict]) -> Attempt | None:
    """The candidate to back-prompt on, carrying the critic's verdict (so the back-prompt
    shows the critic's critiques): the critic-rejected one with the fewest errors."""
    rejected = [(a, v) for a, v in zip(made, verdicts, strict=True)
                if v.status is Status.REJECT]
    if not rejected:
        return None
    attempt, verdict = min(rejected, key=lambda av: len(av[1].critiques))
    return attempt.model_copy(update={"verdict": verdict})
