"""Graph colouring and N-queens, stepwise: prefix catalogues (valid, dead with the critique
kind and step, complete, undecided), every prefix of known solutions, step reading on messy
replies, and steps -> prefix checks in the pool -> assembled answer -> ACCEPT."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llm_modulo import Candidate, Problem, Status
from llm_modulo.domains.graph_coloring import GraphColoringDomain
from llm_modulo.domains.n_queens import NQueensDomain
from llm_modulo.judge import judge
from llm_modulo.pool import WorkerPool
from llm_modulo.stepwise import extend, is_stepwise
from llm_modulo.types import Step
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.csp.checker import compile_csp
from llm_modulo.verifiers.csp.graph_coloring import GraphColoringVerifier, coloring_csp
from llm_modulo.verifiers.csp.n_queens import NQueensVerifier, queens_csp
from llm_modulo.verifiers.csp.solver import Outcome, solve

INSTANCES = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph_coloring" / \
    "instances"
needs_instances = pytest.mark.skipif(not INSTANCES.is_dir(), reason="../shared data missing")
GC, GCV = GraphColoringDomain(), GraphColoringVerifier()
NQ, NQV = NQueensDomain(), NQueensVerifier()

# a triangle 0-1-2, a path 2-3-4, vertex 5 without edges; at most 3 colours
GRAPH = GC.parse_problem({"edges": [[0, 1], [0, 2], [1, 2], [2, 3], [3, 4]], "vertices": 6,
                          "colors": 3})
GRAPH_GOOD = [[0, 1], [1, 2], [2, 3], [3, 1], [4, 2], [5, 1]]
SIX = NQ.parse_problem(6)
SIX_GOOD = [2, 4, 6, 1, 3, 5]


def coloring(pairs: Any) -> Candidate:
    return Candidate(raw="", answer={"coloring": pairs, "partial": True})


def queens(pairs: Any) -> Candidate:
    return Candidate(raw="", answer={"queens": pairs, "partial": True})


# -- catalogues: name -> (problem, candidate, status, critique kind, step, message part) ---

Row = tuple[Problem, Candidate, Status, str | None, int | None, str]
A, R, U = Status.ACCEPT, Status.REJECT, Status.UNKNOWN

COLORING: dict[str, Row] = {
    "empty prefix": (GRAPH, coloring([]), A, None, None, ""),
    "one vertex": (GRAPH, coloring([[0, 1]]), A, None, None, ""),
    "the triangle": (GRAPH, coloring(GRAPH_GOOD[:3]), A, None, None, ""),
    "colours from 0 (labels: at most 3 different ones)":
        (GRAPH, coloring([[0, 0], [1, 1], [2, 2]]), A, None, None, ""),
    "colours as text, vertices as strings":
        (GRAPH, coloring([["0", "Color 1"], ["1", "2"], ["2", "colour3"]]), A, None, None, ""),
    "another order (the check is order-free)":
        (GRAPH, coloring([[4, 1], [3, 2], [0, 1]]), A, None, None, ""),
    "isolated vertex, any label": (GRAPH, coloring([[5, 7]]), A, None, None, ""),
    "complete": (GRAPH, coloring(GRAPH_GOOD), A, None, None, ""),
    "edge conflict": (GRAPH, coloring([[0, 1], [1, 1]]), R, "constraint", 2,
                      "step 2 (vertex 1: colour 1): vertices 0 and 1 share an edge and both "
                      "have colour 1"),
    "edge conflict named by the later step":
        (GRAPH, coloring([[3, 2], [1, 1], [2, 2]]), R, "constraint", 3,
         "vertices 2 and 3 share an edge and both have colour 2"),
    "complete but wrong": (GRAPH, coloring([*GRAPH_GOOD[:3], [3, 3], *GRAPH_GOOD[4:]]), R,
                           "constraint", 4, "vertices 2 and 3 share an edge"),
    "no such vertex": (GRAPH, coloring([[0, 1], [7, 2]]), R, "unknown_variable", 2,
                       "step 2 (vertex 7: colour 2): 7 is not a vertex of this graph"),
    "vertex that is not a number": (GRAPH, coloring([["x", 1]]), R, "unknown_variable", 1,
                                    "'x' is not a vertex"),
    "coloured twice (same colour)": (GRAPH, coloring([[0, 1], [0, 1]]), R, "repeated", 2,
                                     "vertex 0 is already coloured"),
    "colour that is not a number": (GRAPH, coloring([[0, "red"]]), R, "type", 1,
                                    "the colour 'red' is not a number"),
    "a boolean colour": (GRAPH, coloring([[0, True]]), R, "type", 1, "is not a number"),
    "a fourth colour": (GRAPH, coloring([[0, 1], [1, 2], [4, 3], [5, 4]]), R, "domain", 4,
                        "the colouring now uses 4 different colours, but at most 3"),
    "forward checking: vertex 2's neighbours use all 3 colours":
        (GRAPH, coloring([[0, 1], [1, 2], [3, 3]]), R, "dead_end", 3,
         "step 3 (vertex 3: colour 3): vertex 2 has no colour left"),
    "no coloring list": (GRAPH, Candidate(raw="", answer={"colouring": []}), U, "undecided",
                         None, "no 'coloring' list"),
    "a mapping, not pairs": (GRAPH, coloring({"0": 1}), U, "undecided", None, ""),
    "an item that is not a pair": (GRAPH, coloring([[0, 1], [2]]), U, "undecided", None,
                                   "item 1"),
    "no answer at all": (GRAPH, Candidate(raw="", parse_error="x"), U, "undecided", None, ""),
}

GIVEN = NQ.parse_problem({"n": 8, "fixed": {"1": 1}})
# two given queens that leave row 4 no column: every prefix is dead
HOPELESS = NQ.parse_problem({"n": 4, "fixed": {"1": 1, "3": 2}})

QUEENS: dict[str, Row] = {
    "empty prefix": (SIX, queens([]), A, None, None, ""),
    "two rows": (SIX, queens([[1, 2], [2, 4]]), A, None, None, ""),
    "rows in another order": (SIX, queens([[3, 6], [1, 2]]), A, None, None, ""),
    "complete": (SIX, queens([[r, c] for r, c in enumerate(SIX_GOOD, 1)]), A, None, None, ""),
    "n = 1": (NQ.parse_problem(1), queens([[1, 1]]), A, None, None, ""),
    "given queen, the other rows placed": (
        GIVEN, queens([[2, 5], [3, 8], [4, 6]]), A, None, None, ""),
    "same column": (SIX, queens([[1, 2], [2, 2]]), R, "constraint", 2,
                    "step 2 (row 2: column 2): queens in rows 1 and 2 are both in column 2"),
    "same diagonal": (SIX, queens([[1, 2], [2, 3]]), R, "constraint", 2,
                      "queens in rows 1 and 2 share a diagonal"),
    "same anti-diagonal": (SIX, queens([[1, 3], [3, 1]]), R, "constraint", 2,
                           "queens in rows 1 and 3 share a diagonal"),
    "attacks a given queen": (GIVEN, queens([[2, 2]]), R, "constraint", 1,
                              "queens in rows 1 and 2 share a diagonal"),
    "no such row": (SIX, queens([[1, 2], [7, 1]]), R, "unknown_variable", 2,
                    "there is no row 7: the board has 6 rows"),
    "row 0": (SIX, queens([[0, 1]]), R, "unknown_variable", 1, "there is no row 0"),
    "a boolean row": (SIX, queens([[True, 1]]), R, "unknown_variable", 1, "there is no row"),
    "row placed twice": (SIX, queens([[1, 2], [1, 4]]), R, "repeated", 2,
                         "row 1 already has its queen (column 2)"),
    "a given row placed": (GIVEN, queens([[1, 1]]), R, "repeated", 1,
                           "it was given in column 1"),
    "column off the board": (SIX, queens([[1, 7]]), R, "domain", 1,
                             "the queen in row 1 is in column 7, but columns are 1 to 6"),
    "column 0": (SIX, queens([[1, 2], [2, 0]]), R, "domain", 2, "column 0"),
    "column that is not a number": (SIX, queens([[1, "3"]]), R, "type", 1, "'3'"),
    "forward checking: row 3 has no safe column": (
        NQ.parse_problem(4), queens([[1, 1], [2, 3]]), R, "dead_end", 2,
        "row 3 has no safe column left"),
    "n = 2 is dead after one queen": (NQ.parse_problem(2), queens([[1, 1]]), R, "dead_end", 1,
                                      "row 2 has no safe column left"),
    "the given queens leave a row no column": (HOPELESS, queens([]), R, "dead_end", None,
                                               "the given queens: row 4 has no safe column"),
    "no queens list": (SIX, Candidate(raw="", answer={"columns": [2, 4]}), U, "undecided",
                       None, "no 'queens' list"),
    "an item that is not a pair": (SIX, queens([[1, 2, 3]]), U, "undecided", None, "item 0"),
}


def _assert_row(verifier: Any, row: Row) -> CheckResult:
    problem, candidate, status, kind, step, part = row
    result: CheckResult = verifier.check_prefix(problem, candidate)
    assert result.status is status, [c.message for c in result.critiques]
    if status is Status.ACCEPT:
        assert result.critiques == []
        return result
    assert len(result.critiques) == 1
    critique = result.critiques[0]
    assert critique.kind == kind and part in critique.message
    assert kind in verifier.vocabulary()
    if status is Status.REJECT:
        assert critique.data["step"] == step
        assert critique.location == (f"step {step}" if step is not None else "given")
        if step is not None:
            assert critique.message.startswith(f"step {step} (")
    return result


@pytest.mark.parametrize("name", sorted(COLORING))
def test_coloring_prefix_catalogue(name: str) -> None:
    result = _assert_row(GCV, COLORING[name])
    assert (result.evidence.get("complete") is True) == (name == "complete")


@pytest.mark.parametrize("name", sorted(QUEENS))
def test_queens_prefix_catalogue(name: str) -> None:
    result = _assert_row(NQV, QUEENS[name])
    assert (result.evidence.get("complete") is True) == (name in ("complete", "n = 1"))


def test_both_are_stepwise() -> None:
    assert is_stepwise(GC, GCV) and is_stepwise(NQ, NQV)
    assert GC.max_steps(GRAPH) == 6 and NQ.max_steps(SIX) == 6 and NQ.max_steps(GIVEN) == 7
    assert GC.step_stop(GRAPH) == ["\n"] and NQ.step_stop(SIX) == ["\n"]


def test_minimize_leaves_optimality_to_the_ordinary_check() -> None:
    """A complete, consistent colouring of a minimising problem is alive and complete; the
    ordinary check then decides optimality (here: 3 colours where 2 do)."""
    path = GC.parse_problem({"edges": [[0, 1], [1, 2]]})
    steps = GC.parse_steps(path, [], "0: 1\n1: 2\n2: 3").steps
    result = GCV.check_prefix(path, GC.prefix_candidate(path, steps))
    assert result.status is Status.ACCEPT and result.evidence["complete"] is True
    whole = GCV.check(path, GC.parse_candidate(path, GC.assemble(path, steps)))
    assert whole.status is Status.REJECT and whole.critiques[0].kind == "not_optimal"


# -- every prefix of known solutions ------------------------------------------------


def _solution_steps(domain: Any, problem: Problem, text: str) -> tuple[Step, ...]:
    parsed = domain.parse_steps(problem, [], text)
    assert parsed.error is None
    assert len(parsed.steps) == domain.max_steps(problem)
    return tuple(parsed.steps)


def _every_prefix_alive(domain: Any, verifier: Any, problem: Problem,
                        steps: tuple[Step, ...]) -> None:
    for i in range(len(steps) + 1):
        result = verifier.check_prefix(problem, domain.prefix_candidate(problem, steps[:i]))
        assert result.status is Status.ACCEPT, (i, [c.message for c in result.critiques])
        assert (result.evidence.get("complete") is True) == (i == len(steps))
    whole = verifier.check(problem, domain.parse_candidate(problem, domain.assemble(problem,
                                                                                      steps)))
    assert whole.status is Status.ACCEPT


@needs_instances
def test_every_prefix_of_a_colouring_of_the_shared_instances_is_alive() -> None:
    paths = sorted(INSTANCES.glob("instance-*.col"), key=lambda p: int(p.stem.split("-")[1]))
    for path in paths[:25]:
        problem = GC.load_problem(str(path))
        found = solve(compile_csp(coloring_csp(problem.payload)), 10.0)
        assert found.outcome is Outcome.SAT and found.solution is not None
        text = "\n".join(f"{v}: {found.solution[f'v{v}']}"
                         for v in problem.payload["vertices"])
        _every_prefix_alive(GC, GCV, problem, _solution_steps(GC, problem, text))


@pytest.mark.parametrize("spec", [4, 5, 6, 8, 10, {"n": 8, "fixed": {"1": 1, "5": 8}}])
def test_every_prefix_of_an_n_queens_solution_is_alive(spec: Any) -> None:
    problem = NQ.parse_problem(spec)
    found = solve(compile_csp(queens_csp(problem.payload)), 10.0)
    assert found.outcome is Outcome.SAT and found.solution is not None
    given = {int(r) for r in problem.payload["fixed"]}
    text = "\n".join(f"row {r}: column {found.solution[f'q{r}']}"
                     for r in range(1, problem.payload["n"] + 1) if r not in given)
    _every_prefix_alive(NQ, NQV, problem, _solution_steps(NQ, problem, text))


def test_a_dead_prefix_stays_dead_however_it_goes_on() -> None:
    """Deadness is monotone: every extension of a rejected prefix is rejected at the same step."""
    dead = [[1, 1], [2, 3]]
    for extra in ([[3, 5]], [[4, 2]], [[3, 4], [4, 2]]):
        result = NQV.check_prefix(NQ.parse_problem(4), queens([*dead, *extra]))
        assert result.status is Status.REJECT and result.critiques[0].data["step"] == 2


# -- reading steps ------------------------------------------------------------------


@pytest.mark.parametrize("reply,colours", [
    ("0: 1", [1]),
    ("0: 1\n1: 2\n2: 3", [1, 2, 3]),
    ("Sure! Here is the coloring:\n\n**Vertex 0**: Color 1\n- Vertex 1: colour2\n", [1, 2]),
    ("```\n0: 1\n1: 2\n```\nThis uses 2 colors.", [1, 2]),
    ("2", [2]),                       # just the colour, for the vertex asked for
    ("Color 3", [3]),
    ("0: 1.\n1: 2 (red)\n2: 3", [1]),   # reading stops at the unreadable colour
    ("0: 1\n0: 2", [1]),               # ... and at a vertex that is not next
    ("0: 1\n\n1: 2\nand then 2: 3", [1, 2]),
    ("0: 0\n1: 12", [0, 12]),          # colours are read, the check decides
])
def test_coloring_steps_are_read_from_messy_replies(reply: str, colours: list[int]) -> None:
    parsed = GC.parse_steps(GRAPH, [], reply)
    assert parsed.error is None
    assert [s.data["color"] for s in parsed.steps] == colours
    assert [s.data["vertex"] for s in parsed.steps] == list(range(len(colours)))
    assert parsed.steps[0].text == f"0: {colours[0]}"


@pytest.mark.parametrize("reply,error", [
    ("", "no `0: COLOR` line"),
    ("I cannot do that.", "no `0: COLOR` line"),
    ("3: 1\n0: 1", "vertex 0 comes next, but the reply colours vertex 3"),
    ("0: red", "no `0: COLOR` line"),
    ("x" * 300 + "\n0: 1", None),      # an overlong prose line is skipped, not a step
    ("0: 1" + "\n" * 200_000, "no `0: COLOR` line"),   # longer than the reply limit
])
def test_coloring_replies_without_a_step(reply: str, error: str | None) -> None:
    parsed = GC.parse_steps(GRAPH, [], reply)
    if error is None:
        assert parsed.error is None and len(parsed.steps) == 1
    else:
        assert parsed.steps == () and error in (parsed.error or "")


def test_coloring_steps_follow_the_prefix_and_stop_at_the_last_vertex() -> None:
    prefix = GC.parse_steps(GRAPH, [], "0: 1\n1: 2").steps
    parsed = GC.parse_steps(GRAPH, prefix, "2: 3\n3: 1\n4: 2\n5: 1\n6: 1\n7: 2")
    assert [s.data["vertex"] for s in parsed.steps] == [2, 3, 4, 5]
    assert GC.parse_steps(GRAPH, prefix, "0: 1").error == \
        "vertex 2 comes next, but the reply colours vertex 0"
    full = GC.parse_steps(GRAPH, [], "\n".join(f"{v}: {c}" for v, c in GRAPH_GOOD)).steps
    assert GC.parse_steps(GRAPH, full, "6: 1").error == "every vertex is already coloured"


@pytest.mark.parametrize("reply,columns", [
    ("row 1: column 2", [2]),
    ("Row 1: 2\nROW 2: Column 4\nrow3: col 6", [2, 4, 6]),
    ("Okay.\n- **Row 1**: column 2.\n* row 2: column 4", [2, 4]),
    ("2", [2]),
    ("column 5", [5]),
    ("row 1: column 2\nrow 3: column 6", [2]),   # row 2 comes next: reading stops
    ("row 1: column 99", [99]),                  # read; the check rejects it
])
def test_queens_steps_are_read_from_messy_replies(reply: str, columns: list[int]) -> None:
    parsed = NQ.parse_steps(SIX, [], reply)
    assert parsed.error is None
    assert [s.data["column"] for s in parsed.steps] == columns
    assert [s.data["row"] for s in parsed.steps] == list(range(1, len(columns) + 1))
    assert parsed.steps[0].text == f"row 1: column {columns[0]}"


def test_queens_steps_skip_the_given_rows() -> None:
    parsed = NQ.parse_steps(GIVEN, [], "row 2: column 5\nrow 3: column 8")
    assert [s.data["row"] for s in parsed.steps] == [2, 3]
    assert NQ.parse_steps(GIVEN, [], "row 1: column 1").error == \
        "row 2 comes next, but the reply places a queen in row 1"
    assert NQ.parse_steps(SIX, [], "row 1 column 2").error == \
        "no `row 1: column C` line in the reply"
    assert NQ.parse_steps(SIX, [], "row 1:" + " " * 5000 + "x").steps == ()


def test_step_prompts_show_the_instance_the_prefix_and_what_comes_next() -> None:
    prefix = GC.parse_steps(GRAPH, [], "0: 1\n1: 2").steps
    text = GC.step_messages(GRAPH, prefix)[-1].content
    assert "Vertex 0 is connected to vertex 1." in text
    assert "The colors given so far:\n0: 1\n1: 2\n" in text
    assert text.endswith('Next is vertex 2. Write its color as "2: COLOR", where COLOR is a '
                         "number from 1 to 3, then the vertices after it in order (3, 4, 5), "
                         "one per line, and nothing else.")
    assert GC.render_prompt(GRAPH).startswith(GC.step_messages(GRAPH, [])[-1].content
                                              .rsplit("\n", 1)[0])
    text = NQ.step_messages(GIVEN, NQ.parse_steps(GIVEN, [], "row 2: column 5").steps)[-1] \
        .content
    assert "must stay: row 1 column 1." in text and "placed so far:\nrow 2: column 5\n" in text
    assert text.endswith('Next is row 3. Write its queen as "row 3: column C", where C is a '
                         "number from 1 to 8, then the rows after it in order (4, 5, 6, ...), "
                         "one per line, and nothing else.")


# -- assembled answers ----------------------------------------------------------------


def test_assemble_writes_what_parse_candidate_reads() -> None:
    steps = GC.parse_steps(GRAPH, [], "\n".join(f"{v}: {c}" for v, c in GRAPH_GOOD)).steps
    text = GC.assemble(GRAPH, steps)
    assert text == '{"coloring": {"0": 1, "1": 2, "2": 3, "3": 1, "4": 2, "5": 1}}'
    assert GC.parse_candidate(GRAPH, text).answer == {
        "coloring": {str(v): c for v, c in GRAPH_GOOD}}
    twice = [*steps[:2], Step(text="0: 1", data={"vertex": 0, "color": 1})]
    verdict = GCV.check(GRAPH, GC.parse_candidate(GRAPH, GC.assemble(GRAPH, twice)))
    assert verdict.status is Status.REJECT and "repeated" in {c.kind for c in verdict.critiques}
    partial = NQ.parse_steps(SIX, [], "row 1: column 2\nrow 2: column 4").steps
    assert NQ.assemble(SIX, partial) == '{"columns": [2, 4]}'
    verdict = NQV.check(SIX, NQ.parse_candidate(SIX, NQ.assemble(SIX, partial)))
    assert verdict.status is Status.REJECT and verdict.critiques[0].kind == "missing"


@pytest.mark.parametrize("domain,verifier,problem,first,rest", [
    (GC, GCV, GRAPH, "Vertex 0: Color 1\n1: 2", "2: 3\n3: 1\n4: 2\n5: 1"),
    (NQ, NQV, SIX, "row 1: column 2", "row 2: column 4\nrow 3: column 6\nrow 4: column 1\n"
                                      "row 5: column 3\nrow 6: column 5"),
    (NQ, NQV, GIVEN, "5", "row 3: column 8\nrow 4: column 6\nrow 5: column 3\n"
                          "row 6: column 7\nrow 7: column 2\nrow 8: column 4"),
])
def test_steps_checked_in_the_pool_assemble_to_an_accepted_answer(
        pool: WorkerPool, domain: Any, verifier: Any, problem: Problem, first: str,
        rest: str) -> None:
    async def run() -> None:
        (one,) = await extend(domain, verifier, problem, [((), first)], pool=pool)
        assert one.alive and not one.complete and one.error is None
        (two,) = await extend(domain, verifier, problem, [(one.steps, rest)], pool=pool)
        assert two.alive and two.complete
        steps = [*one.steps, *two.steps]
        assert len(steps) == domain.max_steps(problem)
        ((candidate, verdict),) = await judge(domain, verifier, problem,
                                              [domain.assemble(problem, steps)], pool=pool)
        assert verdict.status is Status.ACCEPT, verdict.critiques
        assert candidate.answer is not None and candidate.parse_error is None

    asyncio.run(run())


def test_a_dead_step_is_rejected_in_the_pool_and_reading_stops_there(pool: WorkerPool) -> None:
    async def run() -> None:
        (ext,) = await extend(NQ, NQV, SIX, [((), "row 1: column 2\nrow 2: column 3\n"
                                                  "row 3: column 5")], pool=pool)
        assert ext.dead and len(ext.steps) == 2 and len(ext.verdicts) == 2
        assert ext.verdicts[0].status is Status.ACCEPT
        critique = ext.verdicts[1].critiques[0]
        assert critique.kind == "constraint" and critique.message == \
            "step 2 (row 2: column 3): queens in rows 1 and 2 share a diagonal"
        (ext,) = await extend(GC, GCV, GRAPH, [((), "0: 1\n1: 2\n2: 3\n3: 3")], pool=pool)
        assert ext.dead and ext.verdicts[-1].critiques[0].kind == "constraint"
        (ext,) = await extend(GC, GCV, GRAPH, [((), "Let me think.")], pool=pool)
        assert ext.steps == () and not ext.dead and ext.error == "no `0: COLOR` line in " \
                                                                 "the reply"

    asyncio.run(run())


# -- soundness, exhaustively on small instances ---------------------------------------


@pytest.mark.parametrize("seed,k", [(0, 2), (1, 2), (2, 3), (3, 3), (4, 3)])
def test_a_rejected_colouring_prefix_has_no_accepted_completion(seed: int, k: int) -> None:
    """On random 5-vertex graphs, every prefix (in the steps' order) over 2k labels: a REJECT
    has no completion the ordinary check accepts, a complete ACCEPT is accepted by it (2k
    labels cover every completion up to renaming of a prefix with at most k)."""
    rng = random.Random(seed)
    edges = [[u, v] for u in range(5) for v in range(u + 1, 5) if rng.random() < 0.5]
    problem = GC.parse_problem({"edges": edges or [[0, 1]], "vertices": 5, "colors": k})
    labels = range(2 * k)
    accepted = {full for full in itertools.product(labels, repeat=5)
                if GCV.check(problem, Candidate(raw="", answer={"coloring": {
                    str(v): c for v, c in enumerate(full)}})).status is Status.ACCEPT}
    assert accepted  # a 2-colourable edge or more: the instance is solvable
    rejected = 0
    for size in range(6):
        for prefix in itertools.product(labels, repeat=size):
            result = GCV.check_prefix(problem, coloring([[v, c] for v, c in enumerate(prefix)]))
            assert result.status is not Status.UNKNOWN
            if result.status is Status.REJECT:
                rejected += 1
                assert not any(full[:size] == prefix for full in accepted), prefix
            elif size == 5:
                assert result.evidence["complete"] is True and prefix in accepted
    assert rejected


@pytest.mark.parametrize("spec", [4, 5, {"n": 5, "fixed": {"2": 4}}, 3])
def test_a_rejected_queens_prefix_has_no_accepted_completion(spec: Any) -> None:
    problem = NQ.parse_problem(spec)
    n = problem.payload["n"]
    fixed = {int(r): c for r, c in problem.payload["fixed"].items()}
    free = [r for r in range(1, n + 1) if r not in fixed]
    accepted = {full for full in itertools.product(range(1, n + 1), repeat=len(free))
                if NQV.check(problem, Candidate(raw="", answer={"columns": [
                    fixed.get(r) or full[free.index(r)] for r in range(1, n + 1)]})).status
                is Status.ACCEPT}
    for size in range(len(free) + 1):
        for prefix in itertools.product(range(0, n + 2), repeat=size):
            result = NQV.check_prefix(problem, queens([[free[i], c]
                                                        for i, c in enumerate(prefix)]))
            assert result.status is not Status.UNKNOWN
            if result.status is Status.REJECT:
                assert not any(full[:size] == prefix for full in accepted), prefix
            else:
                assert any(full[:size] == prefix for full in accepted) or size < len(free)
                assert (size == len(free)) == (result.evidence.get("complete") is True)


def test_the_docs_stepwise_example_prints_what_it_says(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "csp-format.md").read_text()
    section = text.split("## Stepwise", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    script = tmp_path / "example.py"
    script.write_text(block)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == block.strip().splitlines()[-1].removeprefix("# ")
