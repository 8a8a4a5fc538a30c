"""The tree searches (beam, mcts) and the whole-answer strategies (backprompt, best_of_n) on a
toy stepwise domain with a deterministic scripted policy (tests/stepwise_fakes.py)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from llm_modulo import Budget, LoopConfig, OpenAICompatClient, SamplingParams, Solver
from llm_modulo.pool import WorkerPool
from llm_modulo.strategies.backprompt import BackPrompt
from llm_modulo.strategies.beam import Beam
from llm_modulo.strategies.best_of_n import BestOfN
from llm_modulo.strategies.logprobs import MAX_LOGPROB_TOKENS, mean_logprob, priors
from llm_modulo.strategies.mcts import MCTS
from llm_modulo.strategy import Strategy
from llm_modulo.testing import ScriptedServer
from llm_modulo.types import Problem, SolveResult, Status, StopReason
from tests.stepwise_fakes import (
    PolicyGenerator,
    RushPolicy,
    ToySumDomain,
    ToySumVerifier,
    prefix_of,
    responder,
    toy_problem,
)

DOMAIN, VERIFIER = ToySumDomain(), ToySumVerifier()


def beam(**options: Any) -> Beam:
    return Beam({"expand": 3, **options})


def mcts(**options: Any) -> MCTS:
    return MCTS({"expand": 3, "simulations": 30, **options})


TREES = [pytest.param(beam, id="beam"), pytest.param(mcts, id="mcts")]
ALL = [*TREES, pytest.param(lambda: BackPrompt(), id="backprompt"),
       pytest.param(lambda: BestOfN(), id="best_of_n")]


def solve(strategy: Strategy, generator: Any, pool: WorkerPool, problem: Problem | None = None,
          **budget: Any) -> SolveResult:
    config = LoopConfig(budget=Budget(**{"rounds": 4, "samples": 3, **budget}),
                        sampling=SamplingParams(max_tokens=64, seed=1))
    solver = Solver(DOMAIN, VERIFIER, generator, config, strategy=strategy, pool=pool)
    return asyncio.run(solver.solve(problem or toy_problem()))


def check_prefix(problem: Problem, values: list[int]) -> Any:
    from llm_modulo.types import Step

    steps = [Step(text=f"+{v}", data={"value": v}) for v in values]
    return VERIFIER.check_prefix(problem, DOMAIN.prefix_candidate(problem, steps))


def assert_consistent(result: SolveResult, problem: Problem) -> None:
    """Parents, depths and verdicts agree with the domain and the verifier; nothing grows
    below a dead or undecided node; judged attempts are the assembled paths."""
    tree = result.search
    assert tree is not None
    nodes = tree.nodes
    root = nodes[0]
    assert (root.id, root.parent, root.depth, root.step, root.verdict) == (0, None, 0, None, None)
    children: dict[int, list[int]] = {n.id: [] for n in nodes}
    attempts = {(a.round, a.sample): a for a in result.attempts}
    for i, node in enumerate(nodes[1:], 1):
        assert node.id == i and node.parent is not None and node.parent < i
        parent = nodes[node.parent]
        children[parent.id].append(i)
        assert node.depth == parent.depth + 1
        assert node.step is not None and node.verdict is not None
        values = [n.step.data["value"] for n in tree.path(i) if n.step is not None]
        expected = check_prefix(problem, values)
        assert node.verdict.status is expected.status, (values, node.verdict)
        assert node.terminal == (expected.status is Status.ACCEPT
                                 and expected.evidence.get("complete") is True)
        if node.attempt is not None:
            assert node.terminal
            attempt = attempts[node.attempt]
            assert attempt.completion == DOMAIN.assemble(problem, [n.step for n in tree.path(i)
                                                                   if n.step is not None])
    for node in nodes:
        if children[node.id]:
            assert node.id == 0 or (node.verdict is not None and \
                node.verdict.status is Status.ACCEPT), f"node {node.id} has children"
            assert not node.terminal
        texts = [nodes[c].step.text for c in children[node.id]]  # type: ignore[union-attr]
        assert len(texts) == len(set(texts)), f"duplicate steps below node {node.id}"
        if tree.strategy == "mcts":
            assert node.visits >= sum(nodes[c].visits for c in children[node.id])
            assert 0.0 <= node.value <= 1.0
    if result.solution is not None:
        assert any(n.attempt == (result.solution.round, result.solution.sample)
                   for n in nodes)


def step_prefixes(generator: PolicyGenerator) -> list[list[int]]:
    """The prefixes of every step request made (whole-answer requests left out)."""
    out = []
    for messages, _, _ in generator.calls:
        prefix = prefix_of(messages)
        if prefix is not None:
            out.append(prefix)
    return out


# (1) the search finds what back-prompting cannot at the same budget ------------------------

@pytest.mark.parametrize("make", TREES)
def test_tree_search_solves_what_backprompt_cannot_at_the_same_budget(make: Any,
                                                                       pool: WorkerPool) -> None:
    problem = toy_problem()
    gen = PolicyGenerator(RushPolicy())
    found = solve(make(), gen, pool, problem)
    assert found.stop_reason is StopReason.ACCEPTED and found.solution is not None
    assert found.solution.verdict.accepted
    assert found.solution.completion == '{"steps": [4, 4, 4]}'
    assert_consistent(found, problem)
    budget = {"rounds": 1000, "max_requests": found.requests,
              "max_generated_tokens": found.usage.completion_tokens}
    for baseline in (BackPrompt(), BestOfN()):
        same = solve(baseline, PolicyGenerator(RushPolicy()), pool, problem, **budget)
        assert not same.solved
        assert same.requests <= found.requests
        assert same.usage.completion_tokens <= found.usage.completion_tokens
        assert same.attempts and all(a.verdict.status is Status.REJECT for a in same.attempts)
        # not a budget artefact: ten times the budget does not help either
        more = solve(baseline, PolicyGenerator(RushPolicy()), pool, problem, rounds=1000,
                     max_requests=10 * found.requests)
        assert not more.solved and more.stop_reason is StopReason.REQUESTS


# (2) a rejected prefix is never expanded -------------------------------------------------

@pytest.mark.parametrize("make", TREES)
def test_a_dead_prefix_is_never_in_a_prompt(make: Any, pool: WorkerPool) -> None:
    # +5 and +1 are alive early and die later (overshoot, out of reach): real pruning work
    problem = toy_problem(target=20, max_step=5, max_steps=5)
    gen = PolicyGenerator(RushPolicy(extras=("+5", "+1", "+2")))
    result = solve(make(expand=6), gen, pool, problem, rounds=40)
    assert result.solved
    assert_consistent(result, problem)
    dead = [n for n in result.search.nodes  # type: ignore[union-attr]
            if n.verdict is not None and n.verdict.status is Status.REJECT]
    assert dead, "the policy proposes dead steps: the tree must show them"
    prefixes = step_prefixes(gen)
    assert len(prefixes) == result.requests
    for prefix in prefixes:
        verdict = check_prefix(problem, prefix) if prefix else None
        assert verdict is None or (verdict.status is Status.ACCEPT
                                   and not verdict.evidence.get("complete")), prefix


# (3) every budget limit is honoured -------------------------------------------------------

BIG = toy_problem(target=40, max_step=5, max_steps=10)


@pytest.mark.parametrize("make", ALL)
def test_max_requests_is_honoured(make: Any, pool: WorkerPool) -> None:
    gen = PolicyGenerator(RushPolicy())
    result = solve(make(), gen, pool, BIG, rounds=100, max_requests=2)
    assert result.stop_reason is StopReason.REQUESTS and not result.solved
    assert result.requests == len(gen.calls) == 2


@pytest.mark.parametrize("make", TREES)
@pytest.mark.parametrize("limit", [1, 2, 5, 8])
def test_max_generated_tokens_is_honoured_exactly(make: Any, limit: int,
                                                  pool: WorkerPool) -> None:
    gen = PolicyGenerator(RushPolicy())
    result = solve(make(), gen, pool, BIG, rounds=100, max_generated_tokens=limit)
    assert result.stop_reason is StopReason.TOKENS and not result.solved
    assert result.usage.completion_tokens <= limit
    assert result.usage.completion_tokens == sum(c for _, c in gen.usages)
    for _, params, _ in gen.calls:
        assert params.n * params.max_tokens <= limit


@pytest.mark.parametrize("make", ALL)
def test_generated_token_budget_ends_every_strategy(make: Any, pool: WorkerPool) -> None:
    gen = PolicyGenerator(RushPolicy())
    result = solve(make(), gen, pool, BIG, rounds=100, max_generated_tokens=20)
    assert result.stop_reason is StopReason.TOKENS and not result.solved
    spent_before_last = sum(c for _, c in gen.usages[:-1])
    assert spent_before_last < 20  # no request started once the budget was spent


@pytest.mark.parametrize("make", ALL)
def test_max_tokens_is_honoured(make: Any, pool: WorkerPool) -> None:
    gen = PolicyGenerator(RushPolicy())
    result = solve(make(), gen, pool, BIG, rounds=100, max_tokens=150)
    assert result.stop_reason is StopReason.TOKENS and not result.solved
    assert result.usage.total_tokens >= 150
    assert sum(p + c for p, c in gen.usages[:-1]) < 150  # the last request started under it


@pytest.mark.parametrize("make", ALL)
def test_wall_time_is_honoured(make: Any, pool: WorkerPool) -> None:
    gen = PolicyGenerator(RushPolicy(), delay_s=0.05)
    result = solve(make(), gen, pool, BIG, rounds=1000, wall_time_s=0.4)
    assert result.stop_reason is StopReason.WALL_TIME and not result.solved
    assert result.elapsed_s < 2.0
    if isinstance(make(), Beam | MCTS):
        assert_consistent(result, BIG)  # the tree so far is kept


@pytest.mark.parametrize("make", TREES)
def test_own_limit_ends_with_rounds(make: Any, pool: WorkerPool) -> None:
    gen = PolicyGenerator(RushPolicy())
    strategy = make(max_depth=2) if make is beam else make(simulations=2)
    result = solve(strategy, gen, pool, BIG)
    assert result.stop_reason is StopReason.ROUNDS and not result.solved
    assert_consistent(result, BIG)


# (5) exhausted when every option is dead ---------------------------------------------------

@pytest.mark.parametrize("make", TREES)
def test_exhausted_when_every_option_is_dead(make: Any, pool: WorkerPool) -> None:
    gen = PolicyGenerator(RushPolicy(good=None, extras=("+7", "+9", "garbage")))
    problem = toy_problem()
    result = solve(make(), gen, pool, problem, rounds=50)
    assert result.stop_reason is StopReason.EXHAUSTED and not result.solved
    # the root is sampled 1 + retries times (beam), expansions times (mcts): 5 and 4 by default
    assert result.requests == (5 if make().name == "beam" else 4)
    assert_consistent(result, problem)
    tree = result.search
    # root, +7, +9 (garbage is no step; the same step proposed again is not added twice)
    assert tree is not None and len(tree.nodes) == 3
    assert all(n.verdict.status is Status.REJECT for n in tree.nodes[1:])  # type: ignore


@pytest.mark.parametrize("make", TREES)
def test_exhausted_deeper_down(make: Any, pool: WorkerPool) -> None:
    # +5 +5 leaves 2 for one step... but +5 is the only proposal: dead at step 3
    problem = toy_problem(target=12, max_step=5, max_steps=3)
    gen = PolicyGenerator(RushPolicy(good=None, extras=("+5",)))
    result = solve(make(), gen, pool, problem, rounds=50)
    assert result.stop_reason is StopReason.EXHAUSTED
    assert_consistent(result, problem)


# (6) hostile logprobs ----------------------------------------------------------------------

GARBAGE: list[Any] = [
    None, "x", 3, [], {}, {"content": "x"}, {"content": None}, {"content": [1, 2]},
    {"content": [{"logprob": "−0.5"}]}, {"content": [{"logprob": float("nan")}]},
    {"content": [{"logprob": float("-inf")}]}, {"content": [{"logprob": 3.0}]},
    {"content": [{"logprob": True}]}, {"content": [{"token": "a"}]},
    {"token_logprobs": [None, None]}, {"token_logprobs": "x"},
    {"token_logprobs": [-0.1, "y"]}, {"content": [{"logprob": -0.1}] * (MAX_LOGPROB_TOKENS + 1)},
    {"content": [{"logprob": [[[-1.0]]]}]}, {"content": [{"logprob": 10**400}]},
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbled_logprobs_mean_no_prior(garbage: Any) -> None:
    assert mean_logprob(garbage) is None


def test_logprob_shapes_are_read() -> None:
    chat = {"content": [{"token": "+", "logprob": -0.5, "top_logprobs": []},
                        {"token": "4", "logprob": -1.5}]}
    assert mean_logprob(chat) == pytest.approx(-1.0)
    assert mean_logprob({"tokens": ["+", "4"], "token_logprobs": [None, -2.0]}) == -2.0
    assert mean_logprob({"content": [{"logprob": 1e-9}]}) == 0.0  # rounding slack
    assert priors([-1.0, -1.0]) == [0.5, 0.5]
    assert priors([0.0, None]) == [0.5, 0.5]
    p = priors([-1000.0, -1001.0])
    assert math.isclose(sum(p), 1.0) and p[0] > p[1] > 0


def test_garbled_logprobs_do_not_break_mcts(pool: WorkerPool) -> None:
    for i, garbage in enumerate(GARBAGE):
        gen = PolicyGenerator(RushPolicy(extras=("+5",)),
                              logprobs=lambda index, text, g=garbage, i=i: g if index % 2 else
                              GARBAGE[(i + 1) % len(GARBAGE)])
        problem = toy_problem()
        result = solve(mcts(expand=4), gen, pool, problem)
        assert result.solved, (i, result.stop_reason, result.error)
        assert_consistent(result, problem)
        assert all(n.prior is None for n in result.search.nodes)  # type: ignore[union-attr]


def test_logprobs_are_the_prior(pool: WorkerPool) -> None:
    # the endpoint is sure of +5 and unsure of the rest: mcts tries +5 first
    gen = PolicyGenerator(RushPolicy(extras=("+5",)),
                          logprobs=lambda index, text: {"content": [
                              {"token": text, "logprob": -0.1 if text.startswith("+5") else -3.0}
                          ]})
    problem = toy_problem()
    result = solve(mcts(expand=4), gen, pool, problem)
    assert result.solved
    assert_consistent(result, problem)
    tree = result.search
    assert tree is not None
    first = [tree.nodes[c] for c in range(1, len(tree.nodes)) if tree.nodes[c].parent == 0]
    by_text = {n.step.text: n.prior for n in first if n.step is not None}
    assert set(by_text) == {"+4", "+7", "+5"}
    assert by_text["+5"] is not None and by_text["+4"] is not None
    assert by_text["+5"] > by_text["+4"]
    assert math.isclose(sum(p for p in by_text.values() if p is not None), 1.0)
    # the rollout (n=1, no stop) of the first simulation starts from +5
    assert prefix_of(gen.calls[1][0]) == [5] and gen.calls[1][1].n == 1
    assert gen.calls[0][1].logprobs == 0


# (7) an UNKNOWN prefix is neither dead nor alive ------------------------------------------

@pytest.mark.parametrize("make", TREES)
def test_unknown_prefix_is_kept_but_never_expanded_or_judged(make: Any,
                                                             pool: WorkerPool) -> None:
    problem = toy_problem(unknown=[3])
    gen = PolicyGenerator(RushPolicy(extras=("+3",)))
    result = solve(make(expand=4), gen, pool, problem)
    assert result.solved
    assert_consistent(result, problem)
    tree = result.search
    assert tree is not None
    unknown = [n for n in tree.nodes if n.step is not None and n.step.text == "+3"]
    assert unknown and all(n.verdict.status is Status.UNKNOWN  # type: ignore[union-attr]
                           for n in unknown)
    assert all(n.attempt is None and not n.terminal for n in unknown)
    assert all(3 not in prefix for prefix in step_prefixes(gen))
    assert all(3 not in (a.candidate.answer or {}).get("steps", []) for a in result.attempts)


@pytest.mark.parametrize("make", TREES)
def test_only_unknown_options_exhaust_without_a_label(make: Any, pool: WorkerPool) -> None:
    problem = toy_problem(unknown=[3])
    gen = PolicyGenerator(RushPolicy(good=None, extras=("+3", "+7")))
    result = solve(make(), gen, pool, problem, rounds=20)
    assert result.stop_reason is StopReason.EXHAUSTED and not result.attempts
    tree = result.search
    assert tree is not None
    statuses = {n.step.text: n.verdict.status for n in tree.nodes[1:]}  # type: ignore
    assert statuses == {"+3": Status.UNKNOWN, "+7": Status.REJECT}
    # the undecided step was never expanded: every request samples the root again
    assert result.requests == (5 if make().name == "beam" else 4)
    assert all(prefix == [] for prefix in step_prefixes(gen))


# (8) best_of_n and backprompt --------------------------------------------------------------

def test_backprompt_uses_the_critique_best_of_n_does_not(pool: WorkerPool) -> None:
    problem = toy_problem()
    fixed = solve(BackPrompt(), PolicyGenerator(RushPolicy(learns=True)), pool, problem)
    assert fixed.solved and fixed.rounds == 2 and fixed.requests == 2
    assert "step 2: 7 is not an allowed step" in fixed.solution.prompt[-1].content  # type: ignore
    gen = PolicyGenerator(RushPolicy(learns=True))
    blind = solve(BestOfN(), gen, pool, problem)
    assert not blind.solved and blind.stop_reason is StopReason.ROUNDS
    assert blind.requests == 4 and len(blind.attempts) == 12
    first = DOMAIN.initial_messages(problem)
    assert all(messages == first for messages, _, _ in gen.calls)
    assert blind.search is None and fixed.search is None


def test_best_of_n_picks_the_accepted_sample(pool: WorkerPool) -> None:
    # one sample in three is right: best_of_n finds it in the first request
    def policy(messages: Any, params: SamplingParams) -> list[str]:
        return ['{"steps": [4, 7]}', '{"steps": [4, 4, 4]}', '{"steps": [9]}']

    result = solve(BestOfN(), PolicyGenerator(policy), pool)
    assert result.solved and result.requests == 1 and result.solution is not None
    assert result.solution.sample == 1


# over HTTP: the scripted server, logprobs asked for as the API says ----------------------

@pytest.mark.parametrize("make", TREES)
def test_tree_search_over_http(make: Any, pool: WorkerPool) -> None:
    problem = toy_problem()
    with ScriptedServer(responder) as server:
        async def run() -> SolveResult:
            async with OpenAICompatClient(server.base_url, model="scripted") as client:
                config = LoopConfig(budget=Budget(rounds=10, samples=3))
                solver = Solver(DOMAIN, VERIFIER, client, config, strategy=make(), pool=pool)
                return await solver.solve(problem)

        result = asyncio.run(run())
        bodies = server.completion_requests()
    assert result.solved
    assert_consistent(result, problem)
    expansions = [b for b in bodies if b.get("n") == 3]
    assert expansions and all(b["logprobs"] is True and b["top_logprobs"] == 0
                              and b["stop"] == ["\n"] for b in expansions)
    no_logprobs = make(logprobs=False)
    assert no_logprobs.options.logprobs is False  # type: ignore[attr-defined]


def test_bad_options_are_refused() -> None:
    from llm_modulo.errors import UsageError

    with pytest.raises(UsageError, match="beam_width"):
        Beam({"beam_width": 0})
    with pytest.raises(UsageError, match="c_puct"):
        MCTS({"c_puct": -1})
    with pytest.raises(UsageError):
        MCTS({"nonsense": 1})


# a domain's bug ends the problem, never the batch; strategies need a stepwise domain -----------

@pytest.mark.parametrize("make", TREES)
@pytest.mark.parametrize("broken", ["prompt", "reader", "assemble"])
def test_domain_bugs_end_the_problem_cleanly(make: Any, broken: str, pool: WorkerPool) -> None:
    from tests import stepwise_fakes

    domain = {"prompt": stepwise_fakes.BrokenPromptDomain,
              "reader": stepwise_fakes.BrokenReaderDomain,
              "assemble": stepwise_fakes.BrokenAssembleDomain}[broken]()
    config = LoopConfig(budget=Budget(rounds=10, samples=3))
    solver = Solver(domain, VERIFIER, PolicyGenerator(RushPolicy()), config, strategy=make(),
                    pool=pool)
    result = asyncio.run(solver.solve(toy_problem()))
    assert not result.solved
    if broken == "reader":  # nothing readable: no label, no answer, the search runs dry
        assert result.stop_reason is StopReason.EXHAUSTED
        assert result.search is not None and len(result.search.nodes) == 1
    else:
        assert result.stop_reason is StopReason.ERROR
        assert result.error is not None and "domain toysum failed to" in result.error


@pytest.mark.parametrize("make", TREES)
def test_tree_search_needs_a_stepwise_domain(make: Any) -> None:
    from llm_modulo.errors import UsageError
    from tests.fakes import EchoDomain, EchoStatus

    with pytest.raises(UsageError, match="stepwise"):
        Solver(EchoDomain(), EchoStatus(), PolicyGenerator(RushPolicy()), strategy=make())


# (review) a complete answer in hand is judged before the next request ----------------------

def _fork_policy(messages: list[Any], params: SamplingParams) -> list[str]:
    """Two live first steps (+1, +2); below +1 the step that completes 4, below +2 one more
    live step: a beam of width 2 finds the answer under its first parent of depth 2."""
    prefix = prefix_of(messages)
    script = {(): ["+1", "+2"], (1,): ["+3"], (2,): ["+1"]}
    return script.get(tuple(prefix or ()), ["+1"])


@pytest.mark.parametrize("max_requests", [2, None])
def test_beam_judges_a_complete_proposal_before_its_next_request(
        max_requests: int | None, pool: WorkerPool) -> None:
    """The first complete proposal of a depth is judged before the beam's next node is
    expanded: the first sound ACCEPT ends the search (no request after it), and a budget
    that ends before the next node's request cannot lose it."""
    problem = toy_problem(target=4, max_step=3, max_steps=2)
    gen = PolicyGenerator(_fork_policy)
    result = solve(Beam({"expand": 2, "beam_width": 2}), gen, pool, problem,
                   samples=2, max_requests=max_requests)
    assert result.solved and result.stop_reason is StopReason.ACCEPTED, result.stop_reason
    assert result.requests == len(gen.calls) == 2
    assert_consistent(result, problem)
