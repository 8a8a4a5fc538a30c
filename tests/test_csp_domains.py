"""Graph colouring, N-queens, sudoku and scheduling: catalogues, generators, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llm_modulo import Candidate, Problem, ProblemError, Status, get_domain, get_verifier
from llm_modulo.domains.graph_coloring import GraphColoringDomain
from llm_modulo.domains.n_queens import NQueensDomain
from llm_modulo.domains.scheduling import SchedulingDomain
from llm_modulo.domains.sudoku import SudokuDomain, count_solutions
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.csp.graph_coloring import GraphColoringVerifier
from llm_modulo.verifiers.csp.n_queens import NQueensVerifier
from llm_modulo.verifiers.csp.scheduling import SchedulingVerifier
from llm_modulo.verifiers.csp.solver import Outcome, solve
from llm_modulo.verifiers.csp.sudoku import SudokuVerifier

INSTANCES = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph_coloring" / \
    "instances"
GC, GCV = GraphColoringDomain(), GraphColoringVerifier()
NQ, NQV = NQueensDomain(), NQueensVerifier()
SU, SUV = SudokuDomain(), SudokuVerifier()
SC, SCV = SchedulingDomain(), SchedulingVerifier()


def judge(domain: Any, verifier: Any, problem: Problem, text: str) -> CheckResult:
    result: CheckResult = verifier.check(problem, domain.parse_candidate(problem, text))
    return result


def messages(result: CheckResult) -> list[str]:
    return [c.message for c in result.critiques]


def test_registered() -> None:
    for name in ("csp", "graph_coloring", "n_queens", "sudoku", "scheduling"):
        assert get_domain(name).verifier == name
        assert get_verifier(name).sound


# -- graph colouring -------------------------------------------------------------------

needs_instances = pytest.mark.skipif(not INSTANCES.is_dir(), reason="../shared data missing")
INSTANCE_1 = INSTANCES / "instance-1.col"
# a proper 3-colouring of instance-1 (edges in its .col file)
GOOD_1 = {0: 2, 1: 3, 2: 3, 3: 2, 4: 2, 5: 2, 6: 3, 7: 3, 8: 3, 9: 1, 10: 1, 11: 3, 12: 3,
          13: 2}


def lines(colouring: dict[int, Any]) -> str:
    return "\n".join(f"{v}: {c}" for v, c in colouring.items())


@needs_instances
def test_dimacs_instance_is_read() -> None:
    p = GC.load_problem(str(INSTANCE_1))
    assert p.payload["colors"] == 3 and p.payload["minimize"] is False
    assert p.payload["vertices"] == list(range(14)) and len(p.payload["edges"]) == 17


@needs_instances
def test_graph_coloring_catalogue() -> None:
    p = GC.load_problem(str(INSTANCE_1))
    assert judge(GC, GCV, p, lines(GOOD_1)).status is Status.ACCEPT
    assert judge(GC, GCV, p, "Here is my answer:\n" + lines(GOOD_1) + "\n[ANSWER END]").status \
        is Status.ACCEPT
    assert judge(GC, GCV, p, json.dumps({"coloring": {str(k): v for k, v in GOOD_1.items()}})
                 ).status is Status.ACCEPT
    cases: list[tuple[dict[int, Any], list[str]]] = [
        ({**GOOD_1, 13: 1}, ["vertices 10 and 13 share an edge and both have colour 1"]),
        ({**GOOD_1, 4: 3}, ["vertices 4 and 12 share an edge and both have colour 3"]),
        ({**GOOD_1, 13: 3}, ["vertices 1 and 13 share an edge and both have colour 3",
                             "vertices 7 and 13 share an edge and both have colour 3",
                             "vertices 11 and 13 share an edge and both have colour 3"]),
        ({**GOOD_1, 13: 4}, ["vertex 13 has colour 4, but the colouring uses more than 3 "
                             "different colours (the colours are the numbers 1 to 3)"]),
        ({**GOOD_1, 13: "Red"},
         ["vertex 13 has colour 'Red', but the colours are the numbers 1 to 3"]),
        ({k: v for k, v in GOOD_1.items() if k != 4}, ["vertex 4 has no colour"]),
        ({**GOOD_1, 14: 1}, ["14 is not a vertex of this graph"]),
    ]
    for colouring, expected in cases:
        r = judge(GC, GCV, p, lines(colouring))
        assert r.status is Status.REJECT and messages(r) == expected
    r = judge(GC, GCV, p, lines(GOOD_1) + "\n3: 2")
    assert messages(r) == ["vertex 3 is coloured more than once (again as 2)"]
    r = judge(GC, GCV, p, "I cannot colour this graph.")
    assert r.status is Status.REJECT and r.critiques[0].kind == "unparseable"
    # issue 11: colours numbered from 0, "Color1" and "color 1" are the same proper colouring;
    # critiques name the colours as the answer wrote them
    assert judge(GC, GCV, p, lines({v: c - 1 for v, c in GOOD_1.items()})).status \
        is Status.ACCEPT
    assert judge(GC, GCV, p, lines({v: f"Color{c}" for v, c in GOOD_1.items()})).status \
        is Status.ACCEPT
    r = judge(GC, GCV, p, lines({**{v: c - 1 for v, c in GOOD_1.items()}, 13: 0}))
    assert messages(r) == ["vertices 10 and 13 share an edge and both have colour 0"]


@needs_instances
@pytest.mark.parametrize("index", [1, 2, 3, 50, 100, 200, 320])
def test_shared_instances_round_trip(index: int) -> None:
    """python-constraint colours the graph with k colours; ACCEPT; one clash: REJECT."""
    p = GC.load_problem(str(INSTANCES / f"instance-{index}.col"))
    result = solve(GCV.compiled(p), 10)
    assert result.outcome is Outcome.SAT and result.solution is not None
    colouring = {int(k[1:]): c for k, c in result.solution.items()}
    assert judge(GC, GCV, p, lines(colouring)).status is Status.ACCEPT
    u, v = p.payload["edges"][0]
    r = judge(GC, GCV, p, lines({**colouring, u: colouring[v]}))
    assert r.status is Status.REJECT
    assert f"vertices {u} and {v} share an edge and both have colour {colouring[v]}" in \
        messages(r)[0] or any(f"{u}" in m for m in messages(r))


def test_minimum_colours_are_proved_or_refuted() -> None:
    # a 5-cycle needs 3 colours; a 6-cycle 2
    c5 = GC.parse_problem({"edges": [[i, (i + 1) % 5] for i in range(5)]})
    assert c5.payload["minimize"] is True
    r = GCV.check(c5, GC.parse_candidate(c5, "0: 1\n1: 2\n2: 1\n3: 2\n4: 3"))
    assert r.status is Status.ACCEPT and r.evidence["optimal"] is True
    assert r.evidence["colors_used"] == 3
    r = GCV.check(c5, GC.parse_candidate(c5, "0: 1\n1: 2\n2: 3\n3: 4\n4: 5"))
    assert r.status is Status.REJECT
    assert messages(r) == ["the colouring uses 5 colours, but the graph can be coloured with "
                           "fewer"]
    c6 = GC.parse_problem({"edges": [[i, (i + 1) % 6] for i in range(6)], "minimize": True})
    r = GCV.check(c6, GC.parse_candidate(c6, "0: 1\n1: 2\n2: 1\n3: 2\n4: 1\n5: 2"))
    assert r.status is Status.ACCEPT


def test_minimum_not_proved_in_time_is_unknown() -> None:
    n = 13  # K13: proving it needs 13 colours is hopeless for plain backtracking
    edges = [[i, j] for i in range(n) for j in range(i + 1, n)]
    p = GC.parse_problem({"edges": edges, "minimize": True})
    p = p.model_copy(update={"payload": {**p.payload, "solve_timeout_s": 0.3}})
    r = GCV.check(p, GC.parse_candidate(p, lines({i: i + 1 for i in range(n)})))
    assert r.status in (Status.UNKNOWN, Status.ACCEPT)  # ACCEPT only with a finished proof
    if r.status is Status.ACCEPT:
        assert r.evidence["optimal"] is True


@pytest.mark.parametrize(("text", "fragment"), [
    ("e 1 1\n", "joins a vertex to itself"),
    ("e 1 x\n", "line 1"),
    ("hello\n", "line 1"),
    ("c only a comment\n", "no edges"),
    ('{"edges": [[1]]}', "not a pair"),
    ('{"edges": [[1, 2]], "colors": 0}', "positive integer"),
    ('{"vertices": 3}', "needs \"edges\""),
])
def test_bad_graphs(text: str, fragment: str) -> None:
    with pytest.raises(ProblemError) as info:
        GC.load_problem(text)
    assert fragment in str(info.value)


def test_dimacs_header_numbers_vertices_from_one() -> None:
    p = GC.load_problem("p edge 4 2\ne 1 2\ne 3 4\n")
    assert p.payload["vertices"] == [1, 2, 3, 4] and p.payload["minimize"] is True


def test_graph_generator_is_deterministic_and_colourable() -> None:
    a, b = GC.generate_problems(5, seed=7), GC.generate_problems(5, seed=7)
    assert [p.hash for p in a] == [p.hash for p in b]
    assert [p.hash for p in a] != [p.hash for p in GC.generate_problems(5, seed=8)]
    for p in a:
        assert solve(GCV.compiled(p), 10).outcome is Outcome.SAT


def test_graph_prompt_and_grammar() -> None:
    p = GC.parse_problem({"edges": [[0, 1], [1, 2]], "colors": 2})
    prompt = GC.render_prompt(p)
    assert "Vertex 0 is connected to vertex 1." in prompt and "at most 2 colors" in prompt
    grammar = GC.structured_output(p)
    assert grammar is not None and '"0: " c "\\n"' in grammar.model_dump()["ebnf"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@needs_instances
def test_cli_done_when(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(lines(GOOD_1) + "\n")
    r = cli("check", "--domain", "graph_coloring", "--problem", str(INSTANCE_1),
            "--candidate", str(good))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ACCEPT" in r.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text(lines({**GOOD_1, 13: 1}) + "\n")
    r = cli("check", "--domain", "graph_coloring", "--problem", str(INSTANCE_1),
            "--candidate", str(bad), "--json")
    assert r.returncode == 1
    verdict = json.loads(r.stdout)
    assert [c["message"] for c in verdict["critiques"]] == [
        "vertices 10 and 13 share an edge and both have colour 1"]


# -- N-queens --------------------------------------------------------------------------


@pytest.mark.parametrize(("columns", "expected"), [
    ([1, 5, 8, 6, 3, 7, 2, 4], []),
    ([2, 4, 6, 8, 3, 1, 7, 5], []),
    ([1, 5, 8, 6, 3, 7, 4, 4], ["queens in rows 7 and 8 are both in column 4",
                                "queens in rows 3 and 7 share a diagonal"]),
    ([1, 3, 8, 6, 5, 7, 2, 4], None),
    ([1, 5, 8, 6, 3, 7, 2], ["row 8 has no queen: give 8 columns, one per row"]),
    ([1, 5, 8, 6, 3, 7, 2, 4, 9], ["there is no row 9: the board has 8 rows"]),
    ([1, 5, 8, 6, 3, 7, 2, 9], ["the queen in row 8 is in column 9, but columns are 1 to 8"]),
])
def test_queens_catalogue(columns: list[int], expected: list[str] | None) -> None:
    p = NQ.parse_problem("8")
    r = judge(NQ, NQV, p, json.dumps({"columns": columns}))
    if expected == []:
        assert r.status is Status.ACCEPT
        return
    assert r.status is Status.REJECT
    if expected is not None:
        assert messages(r) == expected


def test_queens_diagonal_wording() -> None:
    p = NQ.parse_problem("4")
    r = judge(NQ, NQV, p, '{"columns": [1, 3, 2, 4]}')
    assert "queens in rows 1 and 4 share a diagonal" in messages(r)
    p = NQ.parse_problem({"n": 4, "fixed": {"1": 2}})
    r = judge(NQ, NQV, p, '{"columns": [3, 1, 4, 2]}')
    assert messages(r) == ["the queen in row 1 must stay in column 2 (it was given)"]
    assert judge(NQ, NQV, p, '{"columns": [2, 4, 1, 3]}').status is Status.ACCEPT


def test_queens_generator() -> None:
    a, b = NQ.generate_problems(4, seed=3), NQ.generate_problems(4, seed=3)
    assert [p.payload for p in a] == [p.payload for p in b]
    for p in a:
        assert solve(NQV.compiled(p), 10).outcome is Outcome.SAT
    for bad in ["0", "x", '{"n": 4, "fixed": {"9": 1}}']:
        with pytest.raises(ProblemError):
            NQ.load_problem(bad)


# -- sudoku ----------------------------------------------------------------------------

PUZZLE = ("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
SOLUTION = ["534678912", "672195348", "198342567", "859761423", "426853791", "713924856",
            "961537284", "287419635", "345286179"]


def test_sudoku_catalogue() -> None:
    p = SU.parse_problem(PUZZLE)
    assert judge(SU, SUV, p, json.dumps({"grid": SOLUTION})).status is Status.ACCEPT
    assert judge(SU, SUV, p, json.dumps({"grid": "".join(SOLUTION)})).status is Status.ACCEPT
    assert judge(SU, SUV, p, json.dumps({"grid": [[int(c) for c in row] for row in SOLUTION]})
                 ).status is Status.ACCEPT
    swapped = list(SOLUTION)
    swapped[0] = "534768912"  # r1c4/r1c5 swapped: c5 is a given 7
    r = judge(SU, SUV, p, json.dumps({"grid": swapped}))
    assert r.status is Status.REJECT
    assert messages(r)[0] == "cell r1c5 is given as 7, not 6"
    dup = list(SOLUTION)
    dup[2] = "198432567"  # r3c4 and r3c5 swapped: both blanks
    r = judge(SU, SUV, p, json.dumps({"grid": dup}))
    assert messages(r) == ["column 4 has 4 twice (r3c4 and r8c4)",
                           "column 5 has 3 twice (r3c5 and r7c5)"]
    holes = list(SOLUTION)
    holes[8] = "34528617."
    r = judge(SU, SUV, p, json.dumps({"grid": holes}))
    assert messages(r) == ["cell r9c9 is empty"]
    r = judge(SU, SUV, p, json.dumps({"grid": SOLUTION[:8]}))
    assert messages(r) == ["the grid has 8 rows, not 9"]


def test_sudoku_generator_unique() -> None:
    a = SU.generate_problems(2, seed=11)
    assert [p.payload for p in a] == [p.payload for p in SU.generate_problems(2, seed=11)]
    for p in a:
        assert count_solutions(p.payload["grid"], limit=2) == 1
        assert sum(ch != "." for ch in p.payload["grid"]) <= 40


def test_sudoku_bad_problem() -> None:
    with pytest.raises(ProblemError, match="81 cells"):
        SU.load_problem("123")


# -- scheduling ------------------------------------------------------------------------

MEETINGS: dict[str, Any] = {
    "day": [8, 18],
    "rooms": {"A": 6, "B": 3},
    "meetings": {
        "review": {"title": "design review", "duration": 2, "attendees": ["ana", "bo", "chen",
                                                                          "dara"]},
        "standup": {"title": "standup", "duration": 1, "attendees": ["ana", "bo"],
                    "window": [9, 11]},
        "budget": {"title": "budget", "duration": 1, "attendees": ["eli"], "window": [9, 10]},
    },
    "precedence": [["standup", "review"]],
}
GOOD_SCHEDULE = {"review": {"start": 10, "room": "A"}, "standup": {"start": 9, "room": "A"},
                 "budget": {"start": 9, "room": "B"}}


def test_scheduling_catalogue() -> None:
    p = SC.parse_problem(MEETINGS)
    assert judge(SC, SCV, p, json.dumps({"schedule": GOOD_SCHEDULE})).status is Status.ACCEPT
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"review": {"start": 9, "room": "A"}},
         ["meetings review and standup are both in room A at overlapping times (9-11 and 9-10)",
          "meetings review and standup overlap in time (9-11 and 9-10) but share attendees: "
          "ana, bo",
          "meeting standup must end before review starts, but standup ends at 10 and review "
          "starts at 9"]),
        ({"review": {"start": 10, "room": "B"}},
         ["meeting review has 4 attendees, but room B holds only 3"]),
        ({"budget": {"start": 12, "room": "B"}},
         ["meeting budget must take place within 9-10, but is scheduled 12-13"]),
        ({"budget": {"start": 9, "room": "C"}},
         ["meeting budget is in room 'C', which does not exist (rooms: A, B)"]),
        ({"budget": {"start": 18, "room": "B"}},
         ["meeting budget starts at 18, but starts are whole hours from 8 to 17"]),
        ({"budget": {"start": 9}}, ["meeting budget has no room"]),
        ({"lunch": {"start": 12, "room": "A"}},
         ["there is no meeting 'lunch' (meetings: review, standup, budget)"]),
    ]
    for change, expected in cases:
        r = judge(SC, SCV, p, json.dumps({"schedule": {**GOOD_SCHEDULE, **change}}))
        assert r.status is Status.REJECT
        assert messages(r) == expected
    text = json.dumps({"schedule": GOOD_SCHEDULE})[:-2] + ', "budget": {"start": 9, "room": "B"}}}'
    r = judge(SC, SCV, p, text)
    assert messages(r) == ["meeting budget is scheduled more than once"]


def test_scheduling_generator_is_solvable_and_deterministic() -> None:
    a = SC.generate_problems(6, seed=2)
    assert [p.payload for p in a] == [p.payload for p in SC.generate_problems(6, seed=2)]
    for p in a:
        result = solve(SCV.compiled(p), 10)
        assert result.outcome is Outcome.SAT and result.solution is not None
        schedule = {k: {"start": result.solution[f"start_{k}"],
                        "room": result.solution[f"room_{k}"]} for k in p.payload["meetings"]}
        assert SCV.check(p, Candidate(raw="", answer={"schedule": schedule})).status \
            is Status.ACCEPT


@pytest.mark.parametrize(("change", "fragment"), [
    ({"rooms": {}}, "rooms"),
    ({"precedence": [["review", "nope"]]}, "two different meetings"),
    ({"meetings": {"bad id": {"duration": 1}}}, "letters, digits"),
    ({"meetings": {"m": {"duration": 3, "window": [9, 10]}}, "precedence": []},
     "fit its duration"),
    ({"meetings": {"m": {"duration": 1, "window": [7, 10]}}, "precedence": []},
     "lie in the day"),
])
def test_scheduling_bad_problems(change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ProblemError) as info:
        SC.parse_problem({**MEETINGS, **change})
    assert fragment in str(info.value)


@pytest.mark.parametrize(("domain", "verifier", "problem_spec", "text"), [
    (GC, GCV, '{"edges": [[0, 1], [1, 2]], "colors": 2}', "0: 1\n" * 200_000),
    (GC, GCV, '{"edges": [[0, 1], [1, 2]], "colors": 2}',
     json.dumps({"coloring": {str(i): 1 for i in range(60_000)}})),
    (NQ, NQV, "8", json.dumps({"columns": list(range(200_000))})),
    (SU, SUV, PUZZLE, '{"grid": "' + "1" * 1_000_000 + '"}'),
    (SC, SCV, json.dumps(MEETINGS), "{" * 1_000_000),
])
def test_hostile_candidates_are_rejected_quickly(pool: Any, domain: Any, verifier: Any,
                                                 problem_spec: str, text: str) -> None:
    problem = domain.load_problem(problem_spec)
    verdict = verifier.verify(problem, domain.parse_candidate(problem, text), pool=pool)
    assert verdict.status is Status.REJECT
    assert verdict.elapsed_s < 10


def test_cli_long_inline_problem_and_candidate() -> None:
    """Inline JSON longer than a file name is taken as text, not looked up as a path."""
    from tests.test_csp import GOOD, SMALL

    problem, candidate = json.dumps(SMALL), json.dumps({"assignment": GOOD, "note": "x" * 300})
    assert len(problem) > 300
    r = cli("check", "--domain", "csp", "--problem", problem, "--candidate", candidate)
    assert r.returncode == 0, r.stdout + r.stderr


def test_one_queen_board_is_decided() -> None:
    """n = 1 once crashed the check (an all-different over one variable): every verdict was
    UNKNOWN. Catalogue: [1] is ACCEPT, [2] is a REJECT (off the board)."""
    from llm_modulo.domains.n_queens import NQueensDomain
    from llm_modulo.types import Status
    from llm_modulo.verifiers.csp.n_queens import NQueensVerifier

    domain, verifier = NQueensDomain(), NQueensVerifier()
    problem = domain.parse_problem("1")
    good = domain.parse_candidate(problem, '{"columns": [1]}')
    bad = domain.parse_candidate(problem, '{"columns": [2]}')
    assert verifier.check(problem, good).status is Status.ACCEPT
    assert verifier.check(problem, bad).status is Status.REJECT
