"""``mcts``: option-level Monte Carlo tree search (AlphaLLM-style) where an option is one
step, pruned by the sound prefix check and valued by the sound verifier.

Each simulation:

1. **Selection** from the root by PUCT, ``Q + c_puct * P * sqrt(N_parent) / (1 + N)``, over
   the children that are still worth trying (prefix check ACCEPT, not a complete answer,
   something left to try below). ``P`` is the generator's probability of the step (its mean
   token logprob, normalised over the siblings) when the endpoint gave logprobs for every
   sibling, uniform otherwise (a missing or garbled logprob counts as none).
2. **Expansion** of the selected leaf: one request for ``expand`` samples of the next step;
   the first step of each is read and prefix-checked in the worker pool. Repeated steps are
   merged; every distinct step becomes a child *with its verdict*: REJECT children (proven
   dead: process labels) and UNKNOWN ones (undecided: never labels) stay in the tree but are
   never selected or expanded. Children that complete an answer are judged at once by the
   ordinary check (``ctx.judge_steps``, round = the simulation): a sound ACCEPT ends the
   search; otherwise their values are backpropagated and the simulation makes no rollout.
3. **Value** of the best new live child: with ``rollout``, one request for the remaining
   steps after its prefix, read and prefix-checked step by step (the steps become nodes: their
   verdicts are process labels too), then the completed answer judged by the sound verifier.
   Value 1.0 is an accepted answer (which ends the search), 0.0 a rollout proven dead (a REJECT
   step) or an answer the verifier rejects. A rollout that is undecided (UNKNOWN), unreadable
   or unfinished gets ``0.5 * depth / max_steps`` for the deepest prefix it reached that the
   check found alive: a search heuristic for progress, never a label. Without ``rollout``
   the new child gets that heuristic directly.
4. **Backpropagation** of visits and values from the deepest node reached to the root.

A node whose children leave nothing to try is closed; when every child is proven dead it is
dead too (search bookkeeping only: its own verdict stays what the prefix check said, since
the samples tried are not every possible step). The search ends with ``exhausted`` when the
root is closed, and ``rounds`` after ``simulations`` simulations. Every request goes through
``ctx``, so every budget limit ends it as usual.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field

from llm_modulo.generator import SamplingParams
from llm_modulo.stepwise import NoStepLeft
from llm_modulo.strategies.logprobs import priors
from llm_modulo.strategies.tree import (
    TreeBuilder,
    domain_errors,
    is_alive,
    is_dead,
    read_options,
    step_constraint,
)
from llm_modulo.strategy import SearchContext, Stop, Strategy, StrategyOptions
from llm_modulo.types import Attempt, Status, Step, StopReason, Verdict


class MCTSOptions(StrategyOptions):
    simulations: int | None = Field(default=None, ge=1, le=100_000,
                                    description="simulations (default: the budget's rounds)")
    expand: int | None = Field(default=None, ge=1, le=128,
                               description="options sampled per expansion, one request "
                                           "(default: the budget's samples)")
    c_puct: float = Field(default=1.0, ge=0.0, le=100.0,
                          description="exploration weight of the prior in PUCT")
    rollout: bool = Field(default=True,
                          description="value new nodes by a generator rollout judged by the "
                                      "verifier (else by depth reached)")
    max_depth: int | None = Field(default=None, ge=1,
                                  description="deepest node expanded (default and cap: the "
                                              "domain's max_steps)")
    logprobs: bool = Field(default=True,
                           description="ask the endpoint for logprobs (the PUCT prior)")
    expansions: int = Field(default=4, ge=1, le=64,
                            description="times a node is sampled before it is closed when "
                                        "its children leave nothing to try")


class _Search:
    """One problem's MCTS: the tree and the bookkeeping beside it."""

    def __init__(self, ctx: SearchContext, opts: MCTSOptions, name: str) -> None:
        self.ctx, self.opts = ctx, opts
        domain, problem = ctx.stepwise, ctx.problem
        with domain_errors(ctx, "describe its steps"):
            self.max_steps = domain.max_steps(problem)
            self.stop = domain.step_stop(problem)
            prompt = domain.step_messages(problem, ())
        if self.max_steps < 1:
            raise Stop(StopReason.ERROR, f"domain {ctx.domain.name} allows no step "
                                         f"(max_steps {self.max_steps})")
        self.depth_limit = min(opts.max_depth or self.max_steps, self.max_steps)
        self.builder = TreeBuilder(name, prompt)
        ctx.tree = self.builder.tree
        # beside the tree, per node id: expanded here, nothing left to try below, proven
        # dead (REJECT, or every child dead), summed value, value of a judged whole answer
        self.expanded: list[bool] = [False]
        self.expansions: list[int] = [0]
        self.closed: list[bool] = [False]
        self.dead: list[bool] = [False]
        self.total: list[float] = [0.0]
        self.judged: dict[int, float] = {}

    # -- the tree ---------------------------------------------------------------------------

    def add(self, parent: int, step: Step, verdict: Verdict, completion: str,
            prior: float | None) -> int:
        node_id = self.builder.add(parent, step, verdict, completion, prior=prior)
        dead = is_dead(verdict)
        node = self.builder.node(node_id)
        self.expanded.append(False)
        self.expansions.append(0)
        self.dead.append(dead)
        self.closed.append(dead or not is_alive(verdict) or node.terminal
                           or node.depth >= self.depth_limit)
        self.total.append(0.0)
        return node_id

    def settle(self, node_id: int | None) -> None:
        """Close expanded nodes with nothing left to try (sampled ``expansions`` times), from
        ``node_id`` up."""
        while node_id is not None and self.expanded[node_id] and not self.closed[node_id]:
            children = self.builder.children[node_id]
            if any(not self.closed[c] for c in children) or \
                    self.expansions[node_id] < self.opts.expansions:
                return
            self.closed[node_id] = True
            self.dead[node_id] = bool(children) and all(self.dead[c] for c in children)
            node_id = self.builder.node(node_id).parent

    def select(self) -> int | None:
        """The unexpanded node to expand next (None: the root is closed)."""
        node_id = 0
        while self.expanded[node_id]:
            if self.closed[node_id]:
                return None
            open_children = [c for c in self.builder.children[node_id] if not self.closed[c]]
            if not open_children:
                if self.expansions[node_id] < self.opts.expansions:
                    return node_id  # sampled again: its samples were not every step
                self.settle(node_id)  # defensive: settle() closes such nodes
                node_id = 0
                continue
            node_id = max(open_children, key=lambda c: self._puct(node_id, c))
        return None if self.closed[node_id] else node_id

    def _puct(self, parent: int, child: int) -> tuple[float, float, int]:
        node = self.builder.node(child)
        visits = node.visits
        q = self.total[child] / visits if visits else 0.0
        prior = node.prior if node.prior is not None else \
            1.0 / len(self.builder.children[parent])
        parent_visits = self.builder.node(parent).visits
        u = self.opts.c_puct * prior * math.sqrt(max(1, parent_visits)) / (1 + visits)
        return (q + u, prior, -child)

    def backprop(self, node_id: int, value: float) -> None:
        current: int | None = node_id
        while current is not None:
            node = self.builder.node(current)
            node.visits += 1
            self.total[current] += value
            node.value = self.total[current] / node.visits
            current = node.parent

    def progress(self, node_id: int) -> float:
        """The heuristic value of an undecided or unfinished line ending at ``node_id``: how
        deep the check found it alive, in ``[0, 0.5]``."""
        while node_id != 0 and not is_alive(self.builder.node(node_id).verdict):
            parent = self.builder.node(node_id).parent
            node_id = 0 if parent is None else parent
        return 0.5 * min(1.0, self.builder.node(node_id).depth / self.max_steps)

    # -- spending ---------------------------------------------------------------------------

    async def judge(self, sim: int, node_ids: list[int],
                    params: SamplingParams) -> Attempt | None:
        with domain_errors(self.ctx, "assemble an answer"):
            attempts = await self.ctx.judge_steps(
                sim, [self.builder.prefix(n) for n in node_ids], params)
        accepted = self.builder.link(node_ids, attempts)
        for node_id, attempt in zip(node_ids, attempts, strict=True):
            status = attempt.verdict.status
            self.judged[node_id] = (1.0 if attempt.verdict.accepted else
                                    0.0 if status is Status.REJECT and attempt.verdict.sound
                                    else self.progress(node_id))
        return accepted

    async def simulate(self, sim: int) -> Attempt | None:
        ctx = self.ctx
        leaf = self.select()
        if leaf is None:
            raise Stop(StopReason.EXHAUSTED)
        prefix = self.builder.prefix(leaf)
        with domain_errors(ctx, "render a step prompt"):
            messages = ctx.stepwise.step_messages(ctx.problem, prefix)
        try:  # steps tried at this node before are left out where the domain can
            constraint = step_constraint(ctx, prefix, 1, self.builder.known(leaf))
        except NoStepLeft:  # every step the constraint admits was tried: nothing to sample
            self.expanded[leaf] = True
            self.expansions[leaf] = self.opts.expansions
            self.settle(leaf)
            if not self.closed[leaf]:  # open children remain below: they are searched
                return None
            self.backprop(leaf, 0.0 if self.dead[leaf] else self.progress(leaf))
            return None
        params = ctx.params(self.opts.expand or ctx.budget.samples, stop=self.stop,
                            logprobs=0 if self.opts.logprobs else None)
        generation = await ctx.generate(messages, params, constraint)
        with domain_errors(ctx, "read steps"):
            extensions = await ctx.extend([(prefix, c.text) for c in generation.choices])
        options, _ = read_options(generation, extensions, self.builder.known(leaf))
        self.expanded[leaf] = True
        self.expansions[leaf] += 1
        shares = priors([o.logprob for o in options])
        uniform = any(o.logprob is None for o in options)
        new = [self.add(leaf, o.step, o.verdict, o.completion, None if uniform else p)
               for o, p in zip(options, shares, strict=True)]
        complete = [n for n in new if self.builder.node(n).terminal]
        if complete:
            accepted = await self.judge(sim, complete, params)
            if accepted is not None:
                return accepted
            for node_id in complete:
                self.backprop(node_id, self.judged[node_id])
            self.settle(leaf)
            return None
        self.settle(leaf)
        # a new live child at the depth limit is not expanded, but a rollout may finish it
        fresh = [n for n in new if is_alive(self.builder.node(n).verdict)
                 and not self.builder.node(n).terminal and self.builder.node(n).depth <
                 self.max_steps]
        if not fresh:
            self.backprop(leaf, 0.0 if self.dead[leaf] else self.progress(leaf))
            return None
        target = max(fresh, key=lambda n: (self.builder.node(n).prior or 0.0, -n))
        if not self.opts.rollout:
            self.backprop(target, self.progress(target))
            return None
        return await self.rollout(sim, target)

    async def rollout(self, sim: int, start: int) -> Attempt | None:
        """Complete ``start``'s prefix with the generator, check and judge it, backpropagate."""
        ctx = self.ctx
        prefix = self.builder.prefix(start)
        with domain_errors(ctx, "render a step prompt"):
            messages = ctx.stepwise.step_messages(ctx.problem, prefix)
        params = ctx.params(1)
        generation = await ctx.generate(
            messages, params, step_constraint(ctx, prefix, self.max_steps - len(prefix)))
        if not generation.choices:
            self.backprop(start, self.progress(start))
            return None
        text = generation.choices[0].text
        with domain_errors(ctx, "read steps"):
            extension = (await ctx.extend([(prefix, text)]))[0]
        node = start
        for step, verdict in zip(extension.steps, extension.verdicts, strict=True):
            existing = self.builder.child(node, step.text)
            node = existing if existing is not None else \
                self.add(node, step, verdict, text, None)
            if self.builder.node(node).terminal:
                break
        last = self.builder.node(node)
        if last.terminal and node in self.judged:
            value = self.judged[node]  # this answer was judged before: no second judgement
        elif last.terminal:
            accepted = await self.judge(sim, [node], params)
            if accepted is not None:
                return accepted
            value = self.judged[node]
        elif is_dead(last.verdict):
            value = 0.0
        else:
            value = self.progress(node)
        self.backprop(node, value)
        self.settle(last.parent)
        return None


class MCTS(Strategy):
    name: ClassVar[str] = "mcts"
    description: ClassVar[str] = ("option-level MCTS over steps (PUCT with the generator's "
                                  "logprobs as prior; the prefix check prunes; values from "
                                  "rollouts judged by the sound verifier)")
    Options = MCTSOptions
    stepwise: ClassVar[bool] = True

    async def search(self, ctx: SearchContext) -> Attempt | None:
        opts = self.options
        assert isinstance(opts, MCTSOptions)
        search = _Search(ctx, opts, self.name)
        for sim in range(1, (opts.simulations or ctx.budget.rounds) + 1):
            accepted = await search.simulate(sim)
            if accepted is not None:
                return accepted
            if search.closed[0]:
                raise Stop(StopReason.EXHAUSTED)
        return None
