"""Red-team cases for the plan validator: each was a false accept, a guess or a traceback."""

from __future__ import annotations

import pytest

from verifiers.pddl.nl import Templates
from verifiers.pddl.validator import Report, load_task, validate

BW = """(define (domain bw) (:requirements :strips :typing)
(:types block)
(:predicates (clear ?x - block) (on ?x ?y - block) (ontable ?x - block) (handempty)
             (holding ?x - block))
(:action pick-up :parameters (?x - block)
 :precondition (and (clear ?x) (ontable ?x) (handempty))
 :effect (and (not (ontable ?x)) (not (clear ?x)) (not (handempty)) (holding ?x)))
(:action put-down :parameters (?x - block) :precondition (holding ?x)
 :effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x)))
(:action stack :parameters (?x ?y - block) :precondition (and (holding ?x) (clear ?y))
 :effect (and (not (holding ?x)) (not (clear ?y)) (clear ?x) (handempty) (on ?x ?y))))"""


def bw_problem(objects: str, init: str, goal: str) -> str:
    return (f"(define (problem p) (:domain bw) (:objects {objects} - block) (:init {init}) "
            f"(:goal {goal}))")


def run(domain: str, problem: str, plan: list[str], templates: Templates | None = None
        ) -> Report:
    return validate(load_task(domain, problem), plan, templates)


# -- English plans: never a guessed reading ----------------------------------------------

TWO = bw_problem("r dr", "(clear r) (clear dr) (ontable r) (ontable dr) (handempty)",
                 "(on r dr)")


def test_names_that_are_prefixes_of_each_other_are_read_as_written() -> None:
    t = Templates({"pick-up": "pick up the {}", "put-down": "put down the {}",
                   "stack": "stack the {} on top of the {}"}, {},
                  {"r": "red block", "dr": "dark red block"})
    assert run(BW, TWO, ["pick up the red block",
                         "stack the red block on top of the dark red block"], t).valid
    wrong = run(BW, TWO, ["pick up the dark red block",
                          "stack the dark red block on top of the red block"], t)
    assert not wrong.valid and wrong.failure == "unmet_goal"


def test_slots_need_the_templates_spaces() -> None:
    """`stack 111` with objects `1` and `11` could be (1, 11) or (11, 1): neither is taken."""
    t = Templates({"pick-up": "pick up {}", "put-down": "put down {}", "stack": "stack {} {}"},
                  {}, {"r": "1", "dr": "11"})
    report = run(BW, TWO, ["pick up 1", "stack 111"], t)
    assert not report.valid and report.failure == "unparseable"
    assert run(BW, TWO, ["pick up 1", "stack 1 11"], t).valid


def test_a_line_two_templates_read_differently_is_ambiguous_not_guessed() -> None:
    """`put red on dark`: stack red on dark, or put down the block named `red on dark`."""
    problem = bw_problem("r rod d", "(clear r) (clear d) (ontable r) (ontable d) "
                                    "(holding rod)", "(on r d)")
    t = Templates({"pick-up": "take {}", "put-down": "put {}", "stack": "put {} on {}"}, {},
                  {"r": "red", "d": "dark", "rod": "red on dark"})
    report = run(BW, problem, ["put red on dark"], t)
    assert not report.valid and report.failure == "unparseable"
    first = report.critiques()[0]
    assert "can be read as more than one action" in first.message
    assert "(put-down rod)" in first.message and "(stack r d)" in first.message


def test_a_reading_that_cannot_run_does_not_make_a_line_ambiguous() -> None:
    """Only one reading is well typed: it is taken (logistics: truck or airplane)."""
    domain = BW.replace("(:types block)", "(:types block table)")
    problem = ("(define (problem p) (:domain bw) (:objects r d - block rod - table) "
               "(:init (clear r) (clear d) (ontable r) (handempty)) (:goal (holding r)))")
    t = Templates({"pick-up": "take {}", "put-down": "put {}", "stack": "put {} on {}"}, {},
                  {"r": "red", "d": "dark", "rod": "red on dark"})
    report = run(domain, problem, ["take red"], t)
    assert report.valid
    report = run(domain, problem, ["take red", "put red on dark"], t)
    assert [s.text for s in report.steps] == ["(pick-up r)", "(stack r d)"]


def test_templates_with_other_braces_render_and_read_literally() -> None:
    t = Templates({"pick-up": "pick up {x} {}", "put-down": "put down {}",
                   "stack": "stack {} on {}"}, {}, {})
    assert t.action_text("pick-up", ["r"]) == "pick up {x} r"
    report = run(BW, TWO, ["stack r on dr"], t)  # critique renders the template
    assert "(stack r on dr)" in report.critiques()[0].message
    assert run(BW, TWO, ["pick up {x} r", "stack r on dr"], t).valid


# -- names --------------------------------------------------------------------------------

def test_case_folding_is_ascii_only() -> None:
    """The Kelvin sign lower-cases to `k` in Python, not in PDDL/VAL: no such object."""
    problem = bw_problem("k j", "(clear k) (clear j) (ontable k) (ontable j) (handempty)",
                         "(holding k)")
    assert run(BW, problem, ["(PICK-UP K)"]).valid
    report = run(BW, problem, ["(pick-up \u212a)"])
    assert not report.valid and report.failure == "unknown_object"


# -- files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("problem, reason", [
    (TWO.replace("(:goal", "(:init (holding r)) (:goal"), "section :init is given twice"),
    (TWO.replace("(:goal", "(:goal (on dr r)) (:goal"), "section :goal is given twice"),
    (TWO.replace("r dr - block", "r dr - block r - object"), "`r` is declared as block and "
                                                              "again as object"),
    (TWO.replace("r dr - block", "r ?dr - block"), "`?dr` is a variable"),
])
def test_problems_that_would_be_read_two_ways_are_errors(problem: str, reason: str) -> None:
    from verifiers.pddl.sexpr import PDDLError

    with pytest.raises(PDDLError, match=reason.replace("(", r"\(").replace("?", r"\?")):
        load_task(BW, problem)


def test_a_domain_section_twice_is_an_error() -> None:
    from verifiers.pddl.sexpr import PDDLError

    with pytest.raises(PDDLError, match="section :predicates is given twice"):
        load_task(BW.replace("(:types block)", "(:types block) (:predicates (foo))"), TWO)
