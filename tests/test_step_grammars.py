"""Step decoding constraints: they admit only steps that read, they compile, and the tree
searches ask for them only when the loop asks for structured output."""

from __future__ import annotations

import asyncio
import re
from fractions import Fraction
from typing import Any

import pytest

from llm_modulo import Budget, LoopConfig, SamplingParams, Solver, SolveResult, Status
from llm_modulo.domains.game24 import Game24Domain, step_grammar
from llm_modulo.domains.graph_coloring import GraphColoringDomain
from llm_modulo.domains.n_queens import NQueensDomain
from llm_modulo.domains.planning import BlocksworldDomain
from llm_modulo.pool import WorkerPool
from llm_modulo.stepwise import NoStepLeft
from llm_modulo.strategies.beam import Beam
from llm_modulo.strategies.mcts import MCTS
from llm_modulo.structured import Grammar
from llm_modulo.testing import FunctionGenerator
from llm_modulo.types import Message
from llm_modulo.verifiers.game24.verifier import Game24Verifier

GAME24 = Game24Domain()
LEGAL = {"dead_end", "value"}  # what a legal move may still be rejected for


def _lines(ebnf: str) -> list[str]:
    return re.findall(r'"([^"]+\(left: [^"]+)"', ebnf)


@pytest.mark.parametrize("numbers", ["4 4 6 8", "1 1 4 6", "2 3 5 12", "1 5 5 5", "3 3 8 8"])
def test_every_game24_move_the_grammar_admits_reads_and_is_legal(numbers: str) -> None:
    problem = GAME24.parse_problem(numbers)
    grammar = GAME24.step_structured(problem, [], 1)
    assert isinstance(grammar, Grammar)
    verifier = Game24Verifier()
    lines = _lines(grammar.ebnf)
    assert lines
    for line in lines:
        read = GAME24.parse_steps(problem, [], line)
        assert len(read.steps) == 1, (line, read.error)
        result = verifier.check_prefix(problem, GAME24.prefix_candidate(problem, read.steps))
        assert result.status is Status.ACCEPT or (
            result.status is Status.REJECT and {c.kind for c in result.critiques} <= LEGAL
        ), (line, result.critiques)


def test_a_game24_chain_grammar_reaches_the_last_number() -> None:
    ebnf = step_grammar((Fraction(4), Fraction(4), Fraction(6), Fraction(8)), True)
    assert '"\\n"' in ebnf and "(left: 24)" in ebnf
    problem = GAME24.parse_problem("4 4 6 8")
    after = GAME24.parse_steps(problem, [], "4 + 8 = 12 (left: 4 6 12)").steps
    one = GAME24.step_structured(problem, after, 1)
    assert isinstance(one, Grammar) and "6 - 4 = 2 (left: 2 12)" in one.ebnf
    assert GAME24.step_structured(problem, [*after, *GAME24.parse_steps(
        problem, after, "6 - 4 = 2 (left: 2 12)\n12 * 2 = 24 (left: 24)").steps], 1) is None


def _grammars() -> list[tuple[str, str]]:
    coloring, queens, blocks = GraphColoringDomain(), NQueensDomain(), BlocksworldDomain()
    out = []
    for name, domain, problem in [
        ("game24", GAME24, GAME24.parse_problem("1 1 4 6")),
        ("coloring", coloring, coloring.generate_problems(1, 0)[0]),
        ("queens", queens, queens.generate_problems(1, 0)[0]),
        ("blocksworld", blocks, blocks.demo_problems()[0]),
    ]:
        for steps in (1, 3):
            grammar = domain.step_structured(problem, [], steps)
            assert isinstance(grammar, Grammar), name
            out.append((f"{name}-{steps}", grammar.ebnf))
    return out


@pytest.mark.parametrize("name, ebnf", _grammars(), ids=[n for n, _ in _grammars()])
def test_step_grammars_compile(name: str, ebnf: str) -> None:
    xgrammar = pytest.importorskip("xgrammar")
    xgrammar.Grammar.from_ebnf(ebnf)


def _search(strategy: Any, structured: bool, pool: WorkerPool) -> tuple[SolveResult,
                                                                        FunctionGenerator]:
    chain = ["4 + 8 = 12 (left: 4 6 12)", "6 - 4 = 2 (left: 2 12)", "12 * 2 = 24 (left: 24)"]
    after = {"4 4 6 8": 0, "4 6 12": 1, "2 12": 2}

    def respond(messages: list[Message], params: SamplingParams) -> str:
        left = messages[-1].content.split("Numbers left: ")[-1].splitlines()[0]
        return "\n".join(chain[after[left]:])

    gen = FunctionGenerator(respond)
    config = LoopConfig(budget=Budget(rounds=3, samples=2), structured=structured)
    problem = GAME24.parse_problem("4 4 6 8")
    result = asyncio.run(Solver(GAME24, Game24Verifier(), gen, config, pool=pool,
                                strategy=strategy).solve(problem))
    return result, gen


@pytest.mark.parametrize("make", [lambda: Beam(), lambda: MCTS()], ids=["beam", "mcts"])
@pytest.mark.parametrize("structured", [True, False])
def test_tree_searches_ask_for_the_step_grammar_only_when_structured(
        make: Any, structured: bool, pool: WorkerPool) -> None:
    result, gen = _search(make(), structured, pool)
    assert result.solved
    constraints = [c for _, _, c in gen.calls]
    if structured:
        assert constraints and all(isinstance(c, Grammar) for c in constraints)
    else:
        assert constraints and all(c is None for c in constraints)


def test_grammar_lines_are_the_step_texts_so_tried_steps_can_be_left_out() -> None:
    problem = GAME24.parse_problem("4 4 6 8")
    grammar = GAME24.step_structured(problem, [], 1)
    assert isinstance(grammar, Grammar)
    lines = _lines(grammar.ebnf)
    for line in lines:
        assert GAME24.parse_steps(problem, [], line).steps[0].text == line
    fewer = GAME24.step_structured(problem, [], 1, exclude=set(lines[:5]))
    assert isinstance(fewer, Grammar) and _lines(fewer.ebnf) == lines[5:]
    with pytest.raises(NoStepLeft):
        GAME24.step_structured(problem, [], 1, exclude=set(lines))


def test_colourings_and_queens_leave_tried_steps_out() -> None:
    coloring, queens = GraphColoringDomain(), NQueensDomain()
    cp = coloring.generate_problems(1, 0)[0]
    first = cp.payload["vertices"][0]
    k = cp.payload["colors"]
    tried = {f"{first}: {c}" for c in range(1, k)}
    grammar = coloring.step_structured(cp, [], 1, exclude=tried)
    assert isinstance(grammar, Grammar) and grammar.ebnf.endswith(f'c ::= "{k}"\n')
    with pytest.raises(NoStepLeft):
        coloring.step_structured(cp, [], 1, exclude=tried | {f"{first}: {k}"})
    qp = queens.generate_problems(1, 0)[0]
    row = next(r for r in range(1, qp.payload["n"] + 1) if str(r) not in qp.payload["fixed"])
    every = {f"row {row}: column {c}" for c in range(1, qp.payload["n"] + 1)}
    with pytest.raises(NoStepLeft):
        queens.step_structured(qp, [], 1, exclude=every)


class FirstAlternative:
    """A generator that always writes the first move its one-step grammar admits: with tried
    moves left out, each request proposes a new one (a fake of constrained decoding)."""

    model = "first"

    def __init__(self) -> None:
        self.requests = 0

    async def generate(self, messages: list[Message], params: SamplingParams,
                       structured: Any = None) -> Any:
        from llm_modulo.generator import Completion, GeneratedChoice
        from llm_modulo.types import Usage

        self.requests += 1
        assert isinstance(structured, Grammar)
        text = _lines(structured.ebnf)[0]
        return Completion(model="first", usage=Usage(prompt_tokens=10, completion_tokens=5),
                          choices=[GeneratedChoice(index=i, text=text) for i in range(params.n)])


@pytest.mark.parametrize("make", [lambda: Beam({"beam_width": 1}),
                                  lambda: MCTS({"rollout": False, "simulations": 200})],
                         ids=["beam", "mcts"])
def test_sampling_without_replacement_proves_a_puzzle_dead(make: Any,
                                                           pool: WorkerPool) -> None:
    """1 1 1 1 cannot make 24: every legal first move is tried once (the grammar leaves the
    tried ones out), each is proven dead, and the search ends exhausted, not out of budget."""
    gen = FirstAlternative()
    problem = GAME24.parse_problem("1 1 1 1")
    config = LoopConfig(budget=Budget(rounds=200, samples=2))
    result = asyncio.run(Solver(GAME24, Game24Verifier(), gen, config, pool=pool,
                                strategy=make()).solve(problem))
    assert result.stop_reason.value == "exhausted"
    tree = result.search
    assert tree is not None
    first = [n for n in tree.nodes[1:] if n.depth == 1]
    moves = GAME24.step_structured(problem, [], 1)
    assert isinstance(moves, Grammar)
    assert sorted(n.step.text for n in first if n.step) == sorted(_lines(moves.ebnf))
    assert all(n.verdict is not None and n.verdict.status is Status.REJECT for n in first)
    assert gen.requests == len(first)


def test_plan_steps_leave_tried_actions_out() -> None:
    blocks = BlocksworldDomain()
    problem = blocks.demo_problems()[0]
    first = blocks.step_structured(problem, [], 1, exclude={"not an action"})
    assert isinstance(first, Grammar)
    actions = re.findall(r'"([^"]+)"', first.ebnf)
    assert len(actions) > 4
    for action in actions:  # each listed action reads as one step with the same text
        read = blocks.parse_steps(problem, [], action)
        assert [s.text for s in read.steps] == [action]
    fewer = blocks.step_structured(problem, [], 1, exclude=set(actions[:3]))
    assert isinstance(fewer, Grammar) and re.findall(r'"([^"]+)"', fewer.ebnf) == actions[3:]
    with pytest.raises(NoStepLeft):
        blocks.step_structured(problem, [], 1, exclude=set(actions))
