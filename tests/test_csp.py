"""The declarative CSP format, the checker, the python-constraint conversion, the verifier."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_modulo import Candidate, ProblemError, Status
from llm_modulo.domains.csp import CSPDomain
from llm_modulo.pool import WorkerPool
from llm_modulo.verifiers.csp.checker import compile_csp
from llm_modulo.verifiers.csp.model import load_csp, parse_csp
from llm_modulo.verifiers.csp.solver import Outcome, solve, to_problem
from llm_modulo.verifiers.csp.verifier import CSPVerifier

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "csp" / "small.yaml"
DOMAIN, VERIFIER = CSPDomain(), CSPVerifier()

SMALL: dict[str, Any] = {
    "domains": {"digit": {"range": [0, 9]}},
    "variables": {"a": "digit", "b": "digit", "c": "digit", "d": [1, 2, 3],
                  "colour": ["red", "green", "blue"]},
    "constraints": [
        {"kind": "all_different", "vars": ["a", "b", "c"], "name": "a, b and c differ"},
        {"kind": "not_equal", "vars": ["a", "d"]},
        {"kind": "equal", "vars": ["c", "d"]},
        {"kind": "linear", "vars": ["a", "b", "c"], "coeffs": [1, 2, -1], "op": "==", "rhs": 12},
        {"kind": "linear", "vars": ["a", "b"], "op": "<=", "rhs": 10},
        {"kind": "in_set", "vars": ["b"], "values": [2, 4, 6, 8]},
        {"kind": "not_in_set", "vars": ["a"], "values": [0]},
        {"kind": "table", "vars": ["d", "colour"],
         "tuples": [[1, "red"], [2, "green"], [3, "blue"], [3, "red"]]},
        {"kind": "expression", "expr": 'a % 2 == 1 -> colour != "red"', "name": "odd a is not red"},
    ],
}
GOOD = {"a": 6, "b": 4, "c": 2, "d": 2, "colour": "green"}  # the only solution


def verdict(assignment: Any, csp: dict[str, Any] | None = None) -> tuple[Status, list[str]]:
    problem = DOMAIN.parse_problem(csp or SMALL)
    r = VERIFIER.check(problem, Candidate(raw="", answer={"assignment": assignment}))
    return r.status, [c.message for c in r.critiques]


def test_the_example_file_equals_the_inline_csp() -> None:
    assert load_csp(EXAMPLE).model_dump(exclude={"name"}) == \
        parse_csp(SMALL).model_dump(exclude={"name"})


def test_known_valid() -> None:
    assert verdict(GOOD) == (Status.ACCEPT, [])
    assert verdict(list(GOOD.items())) == (Status.ACCEPT, [])


@pytest.mark.parametrize(("assignment", "kinds"), [
    ({"a": 1, "b": 6, "c": 1, "d": 1, "colour": "red"},
     ["all_different", "not_equal", "expression"]),
    ({"a": 3, "b": 6, "c": 2, "d": 3, "colour": "blue"}, ["not_equal", "equal", "linear"]),
    ({"a": 4, "b": 6, "c": 3, "d": 3, "colour": "blue"}, ["linear"]),
    ({"a": 7, "b": 4, "c": 3, "d": 3, "colour": "blue"}, ["linear"]),
    ({"a": 3, "b": 7, "c": 5, "d": 3, "colour": "blue"}, ["not_equal", "equal", "in_set"]),
    ({"a": 0, "b": 6, "c": 0, "d": 3, "colour": "blue"},
     ["all_different", "equal", "not_in_set"]),
    ({"a": 6, "b": 4, "c": 2, "d": 2, "colour": "blue"}, ["table"]),
    ({"a": 5, "b": 4, "c": 1, "d": 1, "colour": "red"}, ["expression"]),
])
def test_one_critique_per_violated_constraint(assignment: dict[str, Any],
                                              kinds: list[str]) -> None:
    problem = DOMAIN.parse_problem(SMALL)
    r = VERIFIER.check(problem, Candidate(raw="", answer={"assignment": assignment}))
    assert r.status is Status.REJECT
    assert [c.data["kind"] for c in r.critiques] == kinds
    for c in r.critiques:  # each names its constraint and the values involved
        assert c.message.startswith("constraint `") and c.location is not None
        assert all(assignment[v] == x for v, x in c.data["values"].items())


def test_critique_wording() -> None:
    _, msgs = verdict({"a": 1, "b": 6, "c": 1, "d": 1, "colour": "red"})
    assert msgs == ["constraint `a, b and c differ` is violated: a = c = 1",
                    "constraint `a != d` is violated: a = d = 1",
                    "constraint `odd a is not red` is violated: it is false"]
    _, msgs = verdict({"a": 4, "b": 6, "c": 3, "d": 3, "colour": "blue"})
    assert msgs == ["constraint `a + 2*b - c == 12` is violated: the sum is 13, which is not "
                    "== 12"]


@pytest.mark.parametrize(("assignment", "expected"), [
    ({"a": 6, "b": 4, "c": 2, "d": 2}, ["colour is not assigned"]),
    ({**GOOD, "zz": 1}, ["'zz' is not a variable of this problem"]),
    ([*GOOD.items(), ("a", 6)], ["a is assigned more than once (again as 6)"]),
    ({**GOOD, "a": "6"}, ["a = '6' is not an integer"]),
    ({**GOOD, "a": True}, ["a = True is not an integer"]),
    ({**GOOD, "a": 6.0}, ["a = 6.0 is not an integer"]),
    ({**GOOD, "a": [6]}, ["a = '[6]' is not an integer"]),
    ({**GOOD, "colour": 7}, ["colour = 7 is not a string"]),
    ({**GOOD, "d": 7}, ["d = 7 is outside the domain of d"]),
])
def test_bad_assignments(assignment: Any, expected: list[str]) -> None:
    status, msgs = verdict(assignment)
    assert status is Status.REJECT
    assert msgs == expected


def test_unusable_values_do_not_hide_other_failures() -> None:
    # `a` is out of its domain: constraints over it are skipped, the rest still judged
    status, msgs = verdict({"a": 13, "b": 7, "c": 3, "d": 3, "colour": "green"})
    assert status is Status.REJECT
    assert msgs[0] == "a = 13 is outside the domain of a"
    assert not any("a != d" in m for m in msgs)  # needs a
    assert any("(d, colour) in table" in m for m in msgs)
    assert any("b in {2, 4, 6, 8}" in m for m in msgs)


@pytest.mark.parametrize("answer", [None, {}, {"assignment": 3}, {"assignment": [1, 2]},
                                    {"assignment": [["a"]]}])
def test_malformed_answers_are_rejected(answer: Any) -> None:
    problem = DOMAIN.parse_problem(SMALL)
    r = VERIFIER.check(problem, Candidate(raw="", answer=answer, parse_error="no JSON"))
    assert r.status is Status.REJECT and r.critiques[0].kind == "unparseable"


def test_critiques_are_capped_but_counted() -> None:
    n = 100
    csp = {"variables": {f"x{i}": [1, 2] for i in range(n)},
           "constraints": [{"kind": "not_equal", "vars": [f"x{i}", f"x{i + 1}"]}
                           for i in range(n - 1)]}
    problem = DOMAIN.parse_problem(csp)
    r = VERIFIER.check(problem, Candidate(raw="", answer={"assignment": {f"x{i}": 1
                                                                          for i in range(n)}}))
    assert r.status is Status.REJECT
    assert len(r.critiques) == VERIFIER.max_critiques + 1
    assert r.critiques[-1].kind == "more" and r.critiques[-1].data["total"] == n - 1
    assert r.evidence["problems"] == n - 1


# -- problem files -------------------------------------------------------------------


@pytest.mark.parametrize(("doc", "fragment"), [
    ({"variables": {}}, "variables"),
    ({"variables": {"x": []}}, "variables.x"),
    ({"variables": {"x": [1, "a"]}}, "mixes integers and strings"),
    ({"variables": {"x": [1, 1]}}, "lists a value twice"),
    ({"variables": {"x": "nope"}}, "no domain named 'nope'"),
    ({"variables": {"1x": [1]}}, "must be letters"),
    ({"variables": {"x": {"range": [5, 1]}}}, "is empty"),
    ({"variables": {"x": {"range": [0, 10**9]}}}, "more than"),
    ({"variables": {"x": [1]}, "constraints": [{"kind": "not_equal", "vars": ["x", "y"]}]},
     "unknown variable 'y'"),
    ({"variables": {"x": [1]}, "constraints": [{"kind": "frobnicate", "vars": ["x"]}]},
     "constraints.0"),
    ({"variables": {"x": [1]}, "constraints": [{"kind": "expression", "expr": "x +"}]},
     "ends too early"),
    ({"variables": {"x": [1]}, "constraints": [{"kind": "expression", "expr": "x + 1"}]},
     "integer-valued, not boolean-valued"),
    ({"variables": {"x": [1], "y": ["a"]},
      "constraints": [{"kind": "all_different", "vars": ["x", "y"]}]}, "mixes integer"),
    ({"variables": {"x": [1], "y": [2]},
      "constraints": [{"kind": "linear", "vars": ["x", "y"], "coeffs": [1], "op": "==",
                       "rhs": 1}]}, "1 coeffs for 2 vars"),
    ({"variables": {"x": [1]}, "objective": {"minimize": "x", "maximize": "x"}},
     "exactly one"),
    ([1, 2], "must be a mapping"),
])
def test_bad_problem_files_give_one_line(doc: Any, fragment: str) -> None:
    with pytest.raises(ProblemError) as info:
        DOMAIN.parse_problem(doc)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "fragment"), [
    ("variables: {x: [1, 2]\n", "not valid YAML at line"),
    ("{\"variables\": ", "not valid JSON"),
    ("a: &anchor [1]\nb: *anchor\n", "anchors, aliases and tags"),
    ("variables: !!python/object:os.system {}\n", "anchors, aliases and tags"),
    ("- 1\n- 2\n", "must be a mapping"),
])
def test_bad_problem_text(text: str, fragment: str) -> None:
    with pytest.raises(ProblemError) as info:
        DOMAIN.parse_problem(text)
    assert fragment in str(info.value)


def test_problem_files_json_and_yaml(tmp_path: Path) -> None:
    j = tmp_path / "p.json"
    j.write_text(json.dumps(SMALL))
    assert DOMAIN.load_problem(str(j)).payload == DOMAIN.load_problem(str(EXAMPLE)).payload | {
        "csp": DOMAIN.load_problem(str(j)).payload["csp"]}
    assert DOMAIN.load_problem(str(j)).payload["csp"]["variables"] == \
        DOMAIN.load_problem(str(EXAMPLE)).payload["csp"]["variables"]
    with pytest.raises(ProblemError, match="cannot read"):
        load_csp(tmp_path / "missing.yaml")


# -- python-constraint ------------------------------------------------------------------


def test_round_trip_file_solver_checker() -> None:
    problem = DOMAIN.load_problem(str(EXAMPLE))
    compiled = VERIFIER.compiled(problem)
    solutions = to_problem(compiled).getSolutions()
    assert solutions
    for s in solutions:
        r = VERIFIER.check(problem, Candidate(raw="", answer={"assignment": s}))
        assert r.status is Status.ACCEPT, r.critiques
    # and every assignment the checker accepts is among python-constraint's solutions
    csp = compiled.csp
    domains = [list(csp.domain_of(v)) for v in compiled.names]
    accepted = [dict(zip(compiled.names, vs, strict=True)) for vs in itertools.product(*domains)
                if compiled.check(list(zip(compiled.names, vs, strict=True))).ok]
    assert sorted(str(sorted(a.items())) for a in accepted) == \
        sorted(str(sorted(s.items())) for s in solutions)


def test_unsatisfiable_and_timeout() -> None:
    pigeons = {"domains": {"hole": {"range": [1, 3]}},
               "variables": {f"p{i}": "hole" for i in range(4)},
               "constraints": [{"kind": "all_different", "vars": [f"p{i}" for i in range(4)]}]}
    assert solve(compile_csp(parse_csp(pigeons)), 5).outcome is Outcome.UNSAT
    n = 11
    hard = {"domains": {"hole": {"range": [1, n - 1]}},
            "variables": {f"p{i}": "hole" for i in range(n)},
            "constraints": [{"kind": "not_equal", "vars": [f"p{i}", f"p{j}"]}
                            for i in range(n) for j in range(i + 1, n)]}
    result = solve(compile_csp(parse_csp(hard)), 0.2)
    assert result.outcome is Outcome.TIMEOUT and result.elapsed_s < 2


_value = st.integers(-3, 3)


@st.composite
def small_csps(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 4))
    names = [f"x{i}" for i in range(n)]
    variables = {v: sorted(draw(st.sets(_value, min_size=1, max_size=4))) for v in names}
    constraints: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["all_different", "equal", "not_equal", "linear",
                                     "in_set", "not_in_set", "table", "expression"]))
        vs = draw(st.lists(st.sampled_from(names), min_size=2, max_size=n, unique=True))
        if kind == "not_equal":
            constraints.append({"kind": kind, "vars": vs[:2]})
        elif kind == "linear":
            constraints.append({"kind": kind, "vars": vs,
                                "coeffs": draw(st.lists(st.integers(-3, 3), min_size=len(vs),
                                                        max_size=len(vs))),
                                "op": draw(st.sampled_from(["==", "<=", ">="])),
                                "rhs": draw(st.integers(-6, 6))})
        elif kind in ("in_set", "not_in_set"):
            constraints.append({"kind": kind, "vars": vs,
                                "values": sorted(draw(st.sets(_value, max_size=4)))})
        elif kind == "table":
            rows = draw(st.lists(st.lists(_value, min_size=len(vs), max_size=len(vs)),
                                 max_size=6))
            constraints.append({"kind": kind, "vars": vs, "tuples": rows})
        elif kind == "expression":
            a, b = vs[:2]
            expr = draw(st.sampled_from([f"abs({a} - {b}) != 1", f"{a} * {b} >= 0",
                                         f"{a} // 2 == {b} % 3 or {a} > {b}",
                                         f"{a} == 0 -> {b} in {{1, 2}}",
                                         f"max({a}, {b}) - min({a}, {b}) <= 2"]))
            constraints.append({"kind": kind, "expr": expr})
        else:
            constraints.append({"kind": kind, "vars": vs})
    return {"variables": variables, "constraints": constraints}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_csps())
def test_checker_and_python_constraint_agree(doc: dict[str, Any]) -> None:
    """Every python-constraint solution is accepted by the checker, and nothing else is."""
    compiled = compile_csp(parse_csp(doc))
    solutions = {tuple(s[v] for v in compiled.names)
                 for s in to_problem(compiled).getSolutions()}
    domains = [list(compiled.csp.domain_of(v)) for v in compiled.names]
    accepted = {vs for vs in itertools.product(*domains)
                if compiled.check(list(zip(compiled.names, vs, strict=True))).ok}
    assert accepted == solutions


# -- optimality --------------------------------------------------------------------------

KNAPSACK: dict[str, Any] = {
    "variables": {"x": {"range": [0, 5]}, "y": {"range": [0, 5]}},
    "constraints": [{"kind": "linear", "vars": ["x", "y"], "coeffs": [3, 2], "op": "<=",
                     "rhs": 12}],
    "objective": {"maximize": "2 * x + y"},
}


def test_optimum_is_proved_by_the_solver() -> None:
    status, _ = verdict({"x": 4, "y": 0}, KNAPSACK)  # 8; x=2,y=3 -> 7; x=3,y=1 -> 7
    assert status is Status.ACCEPT
    problem = DOMAIN.parse_problem(KNAPSACK)
    r = VERIFIER.check(problem, Candidate(raw="", answer={"assignment": {"x": 4, "y": 0}}))
    assert r.evidence["optimal"] is True and r.evidence["objective"] == 8
    status, msgs = verdict({"x": 2, "y": 3}, KNAPSACK)
    assert status is Status.REJECT
    assert msgs == ["the objective is 7, but an assignment with a larger value satisfies "
                    "every constraint"]


def test_optimality_not_proved_in_time_is_unknown() -> None:
    n = 12
    doc = {"domains": {"c": {"range": [1, n]}},
           "variables": {f"p{i}": "c" for i in range(n)},
           "constraints": [{"kind": "not_equal", "vars": [f"p{i}", f"p{j}"]}
                           for i in range(n) for j in range(i + 1, n)],
           "objective": {"minimize": " + ".join(f"p{i}" for i in range(n)) + " - 100"}}
    problem = DOMAIN.parse_problem(doc)
    problem = problem.model_copy(update={"payload": {**problem.payload, "solve_timeout_s": 0.2}})
    assignment = {f"p{i}": i + 1 for i in range(n)}  # optimal, but the proof is too slow
    r = VERIFIER.check(problem, Candidate(raw="", answer={"assignment": assignment}))
    assert r.status is Status.UNKNOWN
    assert r.critiques[0].kind == "optimality_undecided"


# -- isolation and hostile candidates ---------------------------------------------------


def test_a_one_megabyte_candidate_is_handled_quickly(pool: WorkerPool) -> None:
    problem = DOMAIN.parse_problem(SMALL)
    huge = json.dumps({"assignment": {f"v{i}": i for i in range(70_000)}})
    assert len(huge) > 1_000_000
    cand = DOMAIN.parse_candidate(problem, huge)
    assert cand.answer is None and "characters long" in (cand.parse_error or "")
    verdict_ = VERIFIER.verify(problem, cand, pool=pool)
    assert verdict_.status is Status.REJECT
    # even handed over directly, a huge assignment is judged in bounded time
    big = Candidate(raw="", answer={"assignment": {f"v{i}": i for i in range(200_000)}})
    verdict_ = VERIFIER.verify(problem, big, pool=pool)
    assert verdict_.status is Status.REJECT
    assert verdict_.critiques[-1].kind == "more"


def test_repeated_keys_in_json_answers_are_reported() -> None:
    problem = DOMAIN.parse_problem(SMALL)
    text = '{"assignment": {"a": 6, "b": 4, "c": 2, "d": 2, "colour": "green", "a": 5}}'
    cand = DOMAIN.parse_candidate(problem, text)
    r = VERIFIER.check(problem, cand)
    assert r.status is Status.REJECT
    assert [c.kind for c in r.critiques] == ["repeated"]


def test_structured_output_lists_every_variable() -> None:
    problem = DOMAIN.parse_problem(SMALL)
    schema = DOMAIN.structured_output(problem).model_dump(by_alias=True)["schema"]
    props = schema["properties"]["assignment"]["properties"]
    assert props["a"] == {"type": "integer", "minimum": 0, "maximum": 9}
    assert props["colour"] == {"enum": ["red", "green", "blue"]}
    assert props["d"] == {"enum": [1, 2, 3]}
    prompt = DOMAIN.render_prompt(problem)
    assert "a, b and c differ: all_different(a, b, c)" in prompt


def test_jsonl_rows_may_carry_an_id() -> None:
    problem = DOMAIN.parse_problem({**SMALL, "id": "p1", "idx": 3})
    assert problem.id == "p1"
    assert problem.payload == DOMAIN.parse_problem(SMALL).payload
