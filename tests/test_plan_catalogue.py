"""Known-valid / known-invalid plans for every supported PDDL feature, with their critiques."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_modulo import Candidate, Problem, Status
from llm_modulo.verifiers.pddl.validator import load_task, validate
from llm_modulo.verifiers.pddl.verifier import PlanVerifier

DATA = Path(__file__).parent / "data" / "pddl"
DOMAIN = (DATA / "features-domain.pddl").read_text()
PROBLEM = (DATA / "features-problem.pddl").read_text()
TASK = load_task(DOMAIN, PROBLEM)

GOOD = ["(light-all r1)", "(pick r1 ball1 hall)", "(move r1 hall kitchen)",
        "(drop r1 ball1 kitchen)"]

VALID: dict[str, list[str]] = {
    "quantifiers, either type, conditional effect": GOOD,
    "names are case-insensitive": ["(LIGHT-ALL R1)", "(Pick r1 Ball1 HALL)",
                                   "(move r1 HALL kitchen)", "(drop r1 ball1 Kitchen)"],
    "conditional effects read the state before the step (flip toggles)":
        ["(flip r1 hall)", "(pick r1 ball1 hall)", "(move r1 hall kitchen)",
         "(drop r1 ball1 kitchen)"],
    "deletes before adds: (free r1) survives touch":
        ["(light-all r1)", "(touch r1)", *GOOD[1:]],
    "disjunctive precondition via the reverse door":
        ["(light-all r1)", "(move r1 hall kitchen)", "(move r1 kitchen hall)",
         "(pick r1 ball1 hall)", "(move r1 hall kitchen)", "(drop r1 ball1 kitchen)"],
}

# name -> (plan, [(kind, message fragment)], with the first being VAL's failure)
INVALID: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "wrong type (room for an either box/ball parameter)": (
        ["(light-all r1)", "(pick r1 hall hall)"],
        [("wrong_type", "step 2 `(pick r1 hall hall)`: `hall` is of type room, but parameter "
                        "?i of `pick` must be of type ball or box")]),
    "wrong type (ball for a robot)": (
        ["(move ball1 hall kitchen)"],
        [("wrong_type", "`ball1` is of type ball, but parameter ?r of `move` must be of type "
                        "robot")]),
    "wrong arity": (
        ["(move r1 kitchen)"],
        [("wrong_arity", "step 1 `(move r1 kitchen)`: `move` takes 3 arguments, 2 given")]),
    "unknown object": (
        ["(light-all r1)", "(pick r1 ball2 hall)"],
        [("unknown_object", "step 2 `(pick r1 ball2 hall)`: there is no object `ball2`")]),
    "unknown action": (
        ["(fly r1 hall kitchen)"],
        [("unknown_action", "there is no action `fly` (the actions are: drop, flip, light-all, "
                            "move, pick, touch)")]),
    "conditional effect does not fire when nothing is held": (
        ["(light-all r1)", "(move r1 hall kitchen)"],
        [("unmet_goal", "after the plan, `(in ball1 kitchen)` is still false")]),
    "conditional effect fires for every held item (the box moves too)": (
        ["(light-all r1)", "(pick r1 box1 hall)", "(move r1 hall kitchen)",
         "(drop r1 box1 kitchen)"],
        [("unmet_goal", "`(in ball1 kitchen)` is still false"),
         ("unmet_goal", "`(in box1 hall)` is still false")]),
    "existential precondition false": (
        ["(light-all r1)", "(light-all r1)"],
        [("unmet_precondition", "step 2 `(light-all r1)` is not executable because "
                                "`(exists (?x - room) (not (lit ?x)))` is false")]),
    "universal precondition false": (
        ["(flip r1 hall)", "(pick r1 ball1 hall)", "(flip r1 hall)", "(light-all r1)"],
        [("unmet_precondition", "`(not (holding r1 ball1))` (for ?i = ball1 in (forall "
                                "(?i - item) (not (holding r1 ?i)))) is false")]),
    "negative precondition and equality": (
        ["(move r1 hall hall)"],
        [("unmet_precondition", "`(not (= hall hall))` and `(or (door hall hall) (door hall "
                                "hall))` are false")]),
    "precondition false (hall is dark)": (
        ["(pick r1 ball1 hall)"],
        [("unmet_precondition", "step 1 `(pick r1 ball1 hall)` is not executable because "
                                "`(lit hall)` is false")]),
    "negative goal": (
        ["(light-all r1)", "(pick r1 ball1 hall)", "(move r1 hall kitchen)"],
        [("unmet_goal", "`(not (holding r1 ball1))` is still false")]),
    "imply precondition": (
        ["(light-all r1)", "(pick r1 ball1 hall)", "(touch r1)"],
        [("unmet_precondition", "`(imply (at r1 hall) (free r1))` is false")]),
}


@pytest.mark.parametrize("name", VALID)
def test_valid_plans(name: str) -> None:
    report = validate(TASK, VALID[name])
    assert report.valid, [c.message for c in report.critiques()]
    assert report.critiques() == []


@pytest.mark.parametrize("name", INVALID)
def test_invalid_plans_with_their_critiques(name: str) -> None:
    plan, expected = INVALID[name]
    report = validate(TASK, plan)
    assert not report.valid
    critiques = report.critiques()
    assert report.failure == expected[0][0]
    for (kind, fragment), critique in zip(expected, critiques, strict=False):
        assert critique.kind == kind
        assert fragment in critique.message, critique.message
    assert len(critiques) >= len(expected)


def test_stop_at_first_failure_like_val() -> None:
    """VAL type-checks the whole plan first: the unknown action at step 2 is its failure."""
    plan = ["(pick r1 ball1 hall)", "(fly r1)", "(move r1 hall hall)"]
    first = validate(TASK, plan, all_errors=False)
    assert [i.kind for i in first.result.issues] == ["unknown_action"]
    assert first.failure == "unknown_action" and first.result.executed == 0
    everything = validate(TASK, plan)
    assert everything.failure == "unknown_action"
    kinds = [c.kind for c in everything.critiques()]
    assert kinds[:3] == ["unknown_action", "unmet_precondition", "unmet_precondition"]
    assert "unmet_goal" in kinds
    later = everything.critiques()[2:]
    assert all(c.data["after_failure"] and "assuming the earlier failed steps" in c.message
               for c in later)
    runs = validate(TASK, ["(pick r1 ball1 hall)", "(move r1 hall hall)"], all_errors=False)
    assert [i.kind for i in runs.result.issues] == ["unmet_precondition"]


def test_all_errors_applies_a_failed_step_and_reports_what_follows() -> None:
    # pick fails (dark hall) but is assumed done; dropping then works, the goal still fails
    report = validate(TASK, ["(pick r1 ball1 hall)", "(drop r1 ball1 hall)"])
    kinds = [c.kind for c in report.critiques()]
    assert kinds[0] == "unmet_precondition" and "unmet_precondition" not in kinds[1:]
    assert report.result.executed == 0


def test_action_costs_are_reported() -> None:
    task = load_task((DATA / "costs-domain.pddl").read_text(),
                     (DATA / "costs-problem.pddl").read_text())
    report = validate(task, ["(hop a b)", "(rest b)", "(hop b c)"])
    assert report.valid and report.result.cost == 8
    assert report.evidence()["cost"] == 8
    bad = validate(task, ["(hop a c)"])
    assert bad.critiques()[0].message.endswith("`(road a c)` is false")


def test_the_verifier_accepts_and_rejects_through_the_worker_pool() -> None:
    from llm_modulo.pool import WorkerPool

    problem = Problem(domain="pddl", payload={"domain": DOMAIN, "problem": PROBLEM,
                                              "templates": None})
    with WorkerPool(1) as pool:
        ok = PlanVerifier().verify(problem, Candidate(raw="", answer={"plan": GOOD}), pool=pool)
        bad = PlanVerifier().verify(problem, Candidate(raw="", answer={"plan": GOOD[1:]}),
                                    pool=pool)
    assert ok.status is Status.ACCEPT and ok.evidence["steps"] == 4
    assert bad.status is Status.REJECT and bad.critiques[0].kind == "unmet_precondition"
    assert bad.evidence["failure"] == "unmet_precondition"


def test_plan_text_formats() -> None:
    text = ("; a plan in IPC style\n0: (light-all r1) [1]\n\n1: (PICK r1 ball1 hall)\n"
            "2: (move r1 hall kitchen) 3: (drop r1 ball1 kitchen) ; two on a line\n"
            "; cost = 4 (unit cost)\n")
    for form in ("lines", "val", "val+lines"):
        report = validate(TASK, text, form=form)  # type: ignore[arg-type]
        assert report.valid and [s.index for s in report.steps] == [1, 2, 3, 4]
        assert report.steps[3].line == 5 and report.steps[3].time == 3
    unstamped = ("(light-all r1)\n(PICK r1 ball1 hall) (move r1 hall kitchen)\n"
                 "(drop r1 ball1 kitchen)")
    assert validate(TASK, unstamped).valid


def test_unstamped_steps_are_timed_1_2_3_as_in_val() -> None:
    """VAL gives unstamped steps the times 1, 2, ... counting only them: `(move ...)` after
    `1: (pick ...)` is at time 1 too, so the two are one happening: UNKNOWN, never a guess."""
    text = ("0: (light-all r1)\n1: (pick r1 ball1 hall)\n(move r1 hall kitchen)\n"
            "(drop r1 ball1 kitchen)\n")
    report = validate(TASK, text)
    assert not report.valid and report.undecided is not None
    assert "`(pick r1 ball1 hall)` (line 2), `(move r1 hall kitchen)` (line 3)" in \
        report.undecided and "same time 1" in report.undecided


def test_a_line_that_is_no_action_is_rejected_with_its_line() -> None:
    report = validate(TASK, ["(light-all r1)", "then pick up the ball", *GOOD[1:]])
    assert not report.valid and report.failure == "unparseable"
    first = report.critiques()[0]
    assert first.kind == "unparseable" and first.location == "line 2"
    assert "`then pick up the ball` is not an action" in first.message


def test_hostile_plan_text_is_just_rejected() -> None:
    for text in ["__import__('os').system('true')", "(" * 10_000, "((pick r1 ball1 hall))",
                 "(pick r1 ball1 hall", "\x00\x01", "(pick ?r ball1 hall)"]:
        report = validate(TASK, text)
        assert not report.valid


def test_unsupported_features_are_unknown_never_a_guess() -> None:
    durative = DOMAIN.replace(":conditional-effects)", ":conditional-effects :durative-actions)")
    problem = Problem(domain="pddl", payload={"domain": durative, "problem": PROBLEM,
                                              "templates": None})
    result = PlanVerifier().check(problem, Candidate(raw="", answer={"plan": GOOD}))
    assert result.status is Status.UNKNOWN
    assert result.critiques[0].kind == "unsupported"
    assert ":durative-actions" in result.critiques[0].message


# -- time stamps, VAL's plan-file format, lexing, hedges (issue 11, items 9-11) ------------

MICONIC = load_task((DATA / "miconic-domain.pddl").read_text(),
                    (DATA / "miconic-problem.pddl").read_text())
MIC_PLAN = ["(board f0 p0)", "(up f0 f1)", "(depart f1 p0)"]

#: name -> (plan text, form, verdict: "valid" / "undecided" / the failure kind)
TIMED: dict[str, tuple[str, str, str]] = {
    # VAL orders by the stamps: depart runs first, at time 0, and cannot (the issue's case)
    "stamps out of file order: depart at time 0 fails":
        ("1: (board f0 p0)\n2: (up f0 f1)\n0: (depart f1 p0)\n", "lines", "unmet_precondition"),
    "the same through VAL's format":
        ("1: (board f0 p0)\n2: (up f0 f1)\n0: (depart f1 p0)\n", "val", "unmet_precondition"),
    "a shuffled file whose stamps are in order is valid":
        ("2: (up f0 f1)\n3: (depart f1 p0)\n1: (board f0 p0)\n", "val", "valid"),
    "the shuffled file, line reader": ("2: (up f0 f1)\n3: (depart f1 p0)\n1: (board f0 p0)\n",
                                       "lines", "valid"),
    "1.0 and 1. are the same time; depart cannot run in the state before it":
        ("0.5: (board f0 p0)\n1.0: (up f0 f1)\n1.: (depart f1 p0)\n", "val",
         "unmet_precondition"),
    "fractional stamps in order": ("0.5: (board f0 p0)\n1.0: (up f0 f1)\n1.5: (depart f1 p0)\n",
                                   "val", "valid"),
    "negative stamps sort first": ("1: (up f0 f1)\n2: (depart f1 p0)\n-3: (board f0 p0)\n",
                                   "val", "valid"),
    "equal stamps whose preconditions hold: VAL's mutex rule is not implemented":
        ("1: (board f0 p0)\n1: (up f0 f1)\n2: (depart f1 p0)\n", "val", "undecided"),
    "equal stamps with a false precondition: fails as in VAL (checked in one state)":
        ("1: (board f0 p0)\n1: (depart f1 p0)\n2: (up f0 f1)\n", "val", "unmet_precondition"),
    "stamps 0.0005 apart are one happening (VAL's tolerance 0.01 / 10)":
        ("1: (board f0 p0)\n1.0005: (up f0 f1)\n2: (depart f1 p0)\n", "val", "undecided"),
    "stamps 0.002 apart are two": ("1: (board f0 p0)\n1.002: (up f0 f1)\n2: (depart f1 p0)\n",
                                   "val", "valid"),
    "a stamped step and the first unstamped one share time 1":
        ("1: (board f0 p0)\n(up f0 f1)\n(depart f1 p0)\n", "val", "undecided"),
    "unstamped steps count 1, 2, ... on their own: 0: then two unstamped":
        ("0: (board f0 p0)\n(up f0 f1)\n(depart f1 p0)\n", "val", "valid"),
    "an unstamped step runs before a later stamp: (depart) at 1, (up) at 5":
        ("0: (board f0 p0)\n5: (up f0 f1)\n(depart f1 p0)\n", "val", "unmet_precondition"),
    "a huge stamp is refused, not ordered": ("1: (board f0 p0)\n99999999999: (up f0 f1)\n"
                                             "3: (depart f1 p0)\n", "val", "undecided"),
    "a duration [1] is read and ignored": ("0: (board f0 p0) [1]\n1: (up f0 f1) [1.5]\n"
                                           "2: (depart f1 p0) [1]\n", "val", "valid"),
    "two durations are VAL's syntax error": ("(board f0 p0) [1] [2]\n(up f0 f1)\n"
                                             "(depart f1 p0)\n", "val", "unparseable"),
    "two durations, line reader": ("(board f0 p0) [1] [2]\n(up f0 f1)\n(depart f1 p0)\n",
                                   "lines", "unparseable"),
    "several stamped steps on a line": ("0: (board f0 p0) 1: (up f0 f1) 2: (depart f1 p0)",
                                        "lines", "valid"),
    # VAL's plan-file format, exactly
    "1. numbering is VAL's Bad plan description":
        ("1. (board f0 p0)\n2. (up f0 f1)\n3. (depart f1 p0)\n", "val", "unparseable"),
    "1. numbering, leniently": ("1. (board f0 p0)\n2. (up f0 f1)\n3. (depart f1 p0)\n",
                                "val+lines", "valid"),
    "a bare ``` fence: VAL's lexer skips backticks":
        ("```\n(board f0 p0)\n(up f0 f1)\n(depart f1 p0)\n```\n", "val", "valid"),
    "a ```pddl fence: the word pddl is a stray name to VAL":
        ("```pddl\n(board f0 p0)\n(up f0 f1)\n(depart f1 p0)\n```\n", "val", "unparseable"),
    "a ```pddl fence, leniently": ("```pddl\n(board f0 p0)\n(up f0 f1)\n(depart f1 p0)\n```\n",
                                   "val+lines", "valid"),
    "a ```pddl fence, line reader": ("```pddl\n(board f0 p0)\n(up f0 f1)\n(depart f1 p0)\n```",
                                     "lines", "valid"),
    "two fenced blocks are a hedge": ("```\n(board f0 p0)\n```\n```\n(up f0 f1)\n```\n",
                                      "lines", "unparseable"),
    "two [PLAN] blocks are a hedge": ("[PLAN]\n(board f0 p0)\n[PLAN END]\n[PLAN]\n(up f0 f1)\n"
                                      "[PLAN END]\n", "lines", "unparseable"),
    "a \\ line continuation: VAL skips the backslash":
        ("(board f0 p0)\n(up f0 \\\n f1)\n(depart f1 p0)\n", "val", "valid"),
    "a \\ line continuation, line reader":
        ("(board f0 p0)\n(up f0 \\\n f1)\n(depart f1 p0)\n", "lines", "valid"),
    "a step over two lines, VAL's format": ("(board f0\n p0) (up f0 f1) (depart f1 p0)", "val",
                                            "valid"),
    "non-ASCII and stray characters are skipped by VAL's lexer":
        ('"(board f0 p0)", (up f0 f1)\u00a0\n`(depart f1 p0)`', "val", "valid"),
    "a `time N` line (a planner's run time) is part of VAL's format":
        ("time 0.25\n(board f0 p0)\n(up f0 f1)\n(depart f1 p0)\n", "val", "valid"),
    "a keyword as a name is VAL's syntax error": ("(board f0 p0)\n(up f0 and)\n", "val",
                                                  "unparseable"),
    "`.5:` is no VAL number": (".5: (board f0 p0)\n", "val", "unparseable"),
    # an extra argument: VAL accepts it (its plan type check never compares the counts);
    # we refuse it, a wrong arity (documented)
    "an extra argument is refused": ("(board f0 p0 p0)\n(up f0 f1)\n(depart f1 p0)\n", "val",
                                     "wrong_arity"),
}


@pytest.mark.parametrize("name", TIMED)
def test_time_stamps_and_plan_formats(name: str) -> None:
    text, form, verdict = TIMED[name]
    report = validate(MICONIC, text, form=form)  # type: ignore[arg-type]
    if verdict == "valid":
        assert report.valid, report.critiques()[:1]
    elif verdict == "undecided":
        assert not report.valid and report.undecided is not None
        assert report.critiques() == []
    else:
        assert not report.valid and report.undecided is None
        assert report.failure == verdict, [c.message for c in report.critiques()]


def test_the_issue_plan_fails_at_time_0_with_vals_words() -> None:
    report = validate(MICONIC, TIMED["stamps out of file order: depart at time 0 fails"][0],
                      form="val")
    first = report.critiques()[0]
    assert first.kind == "unmet_precondition" and first.data["time"] == 0
    assert first.message.startswith("step 3 `(depart f1 p0)` is not executable at time 0 "
                                    "because `(lift-at f1)` and `(boarded p0)` are false")
    assert report.result.executed == 0


def test_the_verifier_honours_stamps_and_refuses_simultaneous_steps() -> None:
    problem = Problem(domain="pddl", payload={
        "domain": (DATA / "miconic-domain.pddl").read_text(),
        "problem": (DATA / "miconic-problem.pddl").read_text(), "templates": None})
    verdicts = {
        ("1: (board f0 p0)", "2: (up f0 f1)", "0: (depart f1 p0)"): Status.REJECT,
        ("2: (up f0 f1)", "3: (depart f1 p0)", "1: (board f0 p0)"): Status.ACCEPT,
        ("1: (board f0 p0)", "1: (up f0 f1)", "2: (depart f1 p0)"): Status.UNKNOWN,
        ("1: (board f0 p0)", "1: (depart f1 p0)", "2: (up f0 f1)"): Status.REJECT,
    }
    for plan, status in verdicts.items():
        result = PlanVerifier().check(problem, Candidate(raw="", answer={"plan": list(plan)}))
        assert result.status is status, (plan, result)
    unknown = PlanVerifier().check(problem, Candidate(raw="", answer={"plan": [
        "1: (board f0 p0)", "1: (up f0 f1)"]}))
    assert "same time 1" in unknown.critiques[0].message


def test_zenotravel_style_names_glued_to_variables_are_read() -> None:
    task = load_task((DATA / "zeno-domain.pddl").read_text(),
                     (DATA / "zeno-problem.pddl").read_text())
    assert task.domain.actions["refuel"].pre.text({}).startswith("(and (aircraft ?a)")
    plan = ["(board person1 plane1 city0)", "(refuel plane1 city0 fl0 fl1)",
            "(fly plane1 city0 city1 fl1 fl0)", "(debark person1 plane1 city1)"]
    assert validate(task, plan).valid
    assert not validate(task, plan[1:]).valid


@pytest.mark.parametrize("problem,line,fragment", [
    ("(define (problem q) (:domain miconic)\n(:objects p0 f0)\n(:init\n (floor f0)\n"
     " (flor f0))\n(:goal (served p0)))", 5, "undeclared predicate `flor`"),
    ("(define (problem q) (:domain miconic)\n(:objects p0 f0)\n(:init (floor f0))\n"
     "(:goal (and (served p0)\n  (served p9))))", 5, "`p9` is not a declared object"),
    ("(define (problem q) (:domain miconic)\n(:objects p0 f0)\n(:init (floor f0))\n"
     "(:goal (and (served p0)\n  (lift-at f0 f0))))", 5, "`lift-at` takes 1 argument"),
    ("(define (problem q) (:domain miconic)\n(:objects p0 f0)\n(:init (floor ? f0))\n"
     "(:goal (served p0)))", 3, "`?` must be followed by a variable name"),
    ("(define (problem q) (:domain miconic)\n(:objects p0 f0)\n\n(:init (floor f0))\n"
     "(:init (floor f0))\n(:goal (served p0)))", 5, ":init is given twice"),
])
def test_problem_errors_name_the_line(problem: str, line: int, fragment: str) -> None:
    from llm_modulo.verifiers.pddl.sexpr import PDDLError

    with pytest.raises(PDDLError) as caught:
        load_task((DATA / "miconic-domain.pddl").read_text(), problem)
    assert f"line {line}" in str(caught.value) and fragment in str(caught.value), caught.value
