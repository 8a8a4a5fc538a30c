"""``beam``: breadth-first search over steps (Tree of Thoughts BFS), pruned by the sound
prefix check.

Per depth, for each node of the beam: one request for ``expand`` samples of the next step
(the domain's ``step_messages`` and ``step_stop``); the first step of each sample is read and
prefix-checked in the worker pool. A proposal is dropped when it repeats a step already
proposed at the same node, when the check proves it dead (REJECT: it stays in the tree as a
process label) or when it cannot be read or decided (UNKNOWN: kept in the tree with its
verdict, never expanded, never ranked, never a label). The proposals that complete an answer
are written as whole answers and judged by the ordinary check as soon as their node's request
is read, before the next request: the first sound ACCEPT ends the search (and a budget that
ends at the next request cannot lose an answer already in hand). Of the live proposals the
``beam_width`` best go on: the check is binary, so they are ranked by the generator's mean
token logprob of the step when the endpoint gives one for every proposal of the depth, then
by how many samples proposed the step, then by the order they came in.

A depth that leaves no live proposal is sampled again up to ``retries`` times (a weak model's
samples are not every possible step); a step already proposed at a node is not added twice,
and where the domain's step constraint can leave the tried steps out, it does (sampling
without replacement: a node whose every admitted step was tried is not sampled again).
A problem's requests go out one at a time (the budget is checked before each); throughput
comes from solving many problems at once. The search ends with ``exhausted`` when no live
node is left, and ``rounds`` when ``max_depth`` is reached without an accepted answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from pydantic import Field

from llm_modulo.generator import SamplingParams
from llm_modulo.stepwise import NoStepLeft
from llm_modulo.strategies.logprobs import priors
from llm_modulo.strategies.tree import (
    TreeBuilder,
    domain_errors,
    is_alive,
    is_complete,
    read_options,
    step_constraint,
)
from llm_modulo.strategy import SearchContext, Stop, Strategy, StrategyOptions
from llm_modulo.types import Attempt, Message, StopReason


class BeamOptions(StrategyOptions):
    beam_width: int = Field(default=3, ge=1, le=64, description="live nodes kept per depth (b)")
    expand: int | None = Field(default=None, ge=1, le=128,
                               description="next-step samples per node, one request "
                                           "(k; default: the budget's samples)")
    max_depth: int | None = Field(default=None, ge=1,
                                  description="deepest step searched (default and cap: the "
                                              "domain's max_steps)")
    logprobs: bool = Field(default=True,
                           description="ask the endpoint for logprobs to rank proposals")
    retries: int = Field(default=4, ge=0, le=64,
                         description="times a depth is sampled again when it left no live "
                                     "proposal (the samples are not every possible step)")


class Beam(Strategy):
    name: ClassVar[str] = "beam"
    description: ClassVar[str] = ("Tree-of-Thoughts BFS over steps: k proposals per node, the "
                                  "prefix check prunes, the b best live nodes go on")
    Options = BeamOptions
    stepwise: ClassVar[bool] = True

    async def search(self, ctx: SearchContext) -> Attempt | None:
        opts = self.options
        assert isinstance(opts, BeamOptions)
        domain, problem = ctx.stepwise, ctx.problem
        with domain_errors(ctx, "describe its steps"):
            max_steps = domain.max_steps(problem)
            stop = domain.step_stop(problem)
            prompt = domain.step_messages(problem, ())
        if max_steps < 1:
            raise Stop(StopReason.ERROR, f"domain {ctx.domain.name} allows no step "
                                         f"(max_steps {max_steps})")
        depth_limit = min(opts.max_depth or max_steps, max_steps)
        k = opts.expand or ctx.budget.samples
        builder = TreeBuilder(self.name, prompt)
        ctx.tree = builder.tree
        beam = [0]
        judged = 0

        async def judge(complete: list[int], params: SamplingParams) -> Attempt | None:
            nonlocal judged
            judged += 1
            with domain_errors(ctx, "assemble an answer"):
                attempts = await ctx.judge_steps(
                    judged, [builder.prefix(n) for n in complete], params)
            return builder.link(complete, attempts)

        for _depth in range(1, depth_limit + 1):
            for _ in range(opts.retries + 1):
                live, logprobs, accepted = await self._expand(
                    ctx, builder, beam, k, stop, prompt, opts.logprobs, judge)
                if accepted is not None:
                    return accepted
                if live:
                    break
            if not live:
                raise Stop(StopReason.EXHAUSTED)
            beam = self._best(builder, live, logprobs, opts.beam_width)
        return None

    @staticmethod
    async def _expand(ctx: SearchContext, builder: TreeBuilder, beam: list[int], k: int,
                      stop: list[str] | None, prompt: list[Message], logprobs_on: bool,
                      judge: Callable[[list[int], SamplingParams], Awaitable[Attempt | None]]
                      ) -> tuple[list[int], dict[int, float | None], Attempt | None]:
        """One request of ``k`` next-step samples per beam node: the live proposals added
        to the tree and their logprobs; a node's complete proposals are judged (``judge``)
        before the next node's request, and the first accepted attempt ends the expansion."""
        domain, problem = ctx.stepwise, ctx.problem
        live: list[int] = []
        logprobs: dict[int, float | None] = {}
        for parent in beam:
            complete: list[int] = []
            prefix = builder.prefix(parent)
            with domain_errors(ctx, "render a step prompt"):
                messages = prompt if parent == 0 else domain.step_messages(problem, prefix)
            try:  # steps tried at this node before are left out where the domain can
                constraint = step_constraint(ctx, prefix, 1, builder.known(parent))
            except NoStepLeft:
                continue  # every step the constraint admits was tried here
            params = ctx.params(k, stop=stop, logprobs=0 if logprobs_on else None)
            generation = await ctx.generate(messages, params, constraint)
            with domain_errors(ctx, "read steps"):
                extensions = await ctx.extend([(prefix, c.text) for c in generation.choices])
            options, _ = read_options(generation, extensions, builder.known(parent))
            builder.node(parent).visits += 1
            shares: list[float | None] = list(priors([o.logprob for o in options]))
            if any(o.logprob is None for o in options):
                shares = [None] * len(options)  # no comparable prior: none recorded
            for option, prior in zip(options, shares, strict=True):
                node_id = builder.add(parent, option.step, option.verdict, option.completion,
                                      prior=prior,
                                      value=option.count / max(1, len(generation.choices)))
                if is_complete(option.verdict):
                    complete.append(node_id)
                elif is_alive(option.verdict):
                    live.append(node_id)
                    logprobs[node_id] = option.logprob
            if complete:
                accepted = await judge(complete, params)
                if accepted is not None:
                    return live, logprobs, accepted
        return live, logprobs, None

    @staticmethod
    def _best(builder: TreeBuilder, live: list[int], logprobs: dict[int, float | None],
              width: int) -> list[int]:
        """The ``width`` best live nodes: by logprob (when every one has it), then by the
        share of its parent's samples that proposed it, then in the order they came."""
        use_logprobs = all(logprobs[n] is not None for n in live)

        def score(node_id: int) -> tuple[float, float, int]:
            lp = logprobs[node_id] if use_logprobs else None
            return (lp if lp is not None else 0.0, builder.node(node_id).value, -node_id)

        return sorted(live, key=score, reverse=True)[:width]
