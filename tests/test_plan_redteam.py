"""Red-team cases for the plan validator: each was a false accept, a guess or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo.verifiers.pddl.nl import Templates
from llm_modulo.verifiers.pddl.validator import Report, load_task, validate

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
    (TWO.replace("r dr - block", "r ?dr - block"), "`?dr` is a variable"),
])
def test_problems_that_would_be_read_two_ways_are_errors(problem: str, reason: str) -> None:
    from llm_modulo.verifiers.pddl.sexpr import PDDLError

    with pytest.raises(PDDLError, match=reason.replace("(", r"\(").replace("?", r"\?")):
        load_task(BW, problem)


def test_a_domain_section_twice_is_an_error() -> None:
    from llm_modulo.verifiers.pddl.sexpr import PDDLError

    with pytest.raises(PDDLError, match="section :predicates is given twice"):
        load_task(BW.replace("(:types block)", "(:types block) (:predicates (foo))"), TWO)


# -- IPC-style domains: expected verdicts worked out by hand, VAL's semantics ----------------

IPC = Path(__file__).parent / "data" / "pddl" / "ipc"

BRIEFCASE_OK = ["(put-in p home)", "(move home office)", "(take-out p)", "(put-in d office)",
                "(move office home)", "(take-out d)"]
LOGISTICS_OK = ["(load-truck p1 t1 l1)", "(drive-truck t1 l1 ap1 c1)",
                "(unload-truck p1 t1 ap1)", "(load-airplane p1 a1 ap1)",
                "(fly-airplane a1 ap1 ap2)", "(unload-airplane p1 a1 ap2)"]
GRIPPER_OK = ["(pick ball1 rooma left)", "(pick ball2 rooma right)", "(move rooma roomb)",
              "(drop ball1 roomb left)", "(drop ball2 roomb right)"]

# (domain, plan, goal replacing `(and)` or None, expected failure or None, critique fragment)
CASES: list[tuple[str, list[str], str | None, str | None, str]] = [
    ("briefcase", BRIEFCASE_OK, None, None, ""),
    ("briefcase", BRIEFCASE_OK[:-1], None, "unmet_goal", "`(not (in d))` is still false"),
    ("briefcase", ["(put-in p home)", "(move home office)", "(put-in d office)",
                   "(move office home)", "(take-out d)"], None, "unmet_goal",
     "`(at p office)` is still false"),
    ("briefcase", ["(put-in bc home)"], None, "unmet_precondition",
     "`(not (= bc bc))` is false"),
    ("briefcase", ["(move home home)"], None, "unmet_precondition",
     "`(not (= home home))` is false"),
    ("logistics", LOGISTICS_OK, None, None, ""),
    ("logistics", ["(load-truck p1 a1 l1)"], None, "wrong_type",
     "`a1` is of type airplane, but parameter ?truck of `load-truck` must be of type truck"),
    ("logistics", ["(load-airplane p1 t1 l1)"], None, "wrong_type", "`t1` is of type truck"),
    ("logistics", ["(fly-airplane a1 ap1 l1)"], None, "wrong_type",
     "`l1` is of type location, but parameter ?loc-to of `fly-airplane` must be of type "
     "airport"),
    ("logistics", ["(drive-truck t1 l1 ap2 c1)"], None, "unmet_precondition",
     "`(in-city ap2 c1)` is false"),
    ("logistics", [*LOGISTICS_OK, "(unload-airplane p1 a1 ap2)"], None, "unmet_precondition",
     "step 7"),
    ("gripper", GRIPPER_OK, None, None, ""),
    ("gripper", [*GRIPPER_OK[:1], "(pick ball2 rooma left)"], None, "unmet_precondition",
     "`(free left)` is false"),
    ("gripper", ["(move rooma left)"], None, "unmet_precondition", "`(room left)` is false"),
    ("gripper", ["(pick left rooma right)"], None, "unmet_precondition",
     "`(ball left)` and `(at left rooma)` are false"),
    ("gripper", [], None, "unmet_goal", "`(at ball2 roomb)` is still false"),
    # steps after the goal is reached still have to run, and the goal must hold at the end
    ("gripper", [*GRIPPER_OK, "(move roomb rooma)"], None, None, ""),
    ("gripper", [*GRIPPER_OK, "(move rooma roomb)"], None, "unmet_precondition",
     "`(at-robby rooma)` is false"),
    ("gripper", [*GRIPPER_OK, "(pick ball1 roomb left)"], None, "unmet_goal",
     "`(at ball1 roomb)` is still false"),
    ("scope", [], "(mark)", None, ""),  # the empty plan, the goal true at the start
    # a forall variable shadows the action's parameter of the same name
    ("scope", ["(shadow a1)"], "(flag b1)", None, ""),
    ("scope", ["(shadow a1)"], "(flag a1)", "unmet_goal", "`(flag a1)` is still false"),
    # a when inside forall sees both the action's and the forall's variables; constants count
    ("scope", ["(link a1)"], "(and (r a1 k) (r a1 b1))", None, ""),
    ("scope", ["(link a1)"], "(r a1 a1)", "unmet_goal", "`(r a1 a1)` is still false"),
    # both conditions read the state before the step: toggle flips, it does not re-add
    ("scope", ["(toggle)"], "(not (mark))", None, ""),
    ("scope", ["(toggle)", "(toggle)"], "(mark)", None, ""),
    ("scope", ["(toggle)"], "(mark)", "unmet_goal", "`(mark)` is still false"),
    # an atom deleted and added by one step is true after it
    ("scope", ["(same a1 b1)"], "(p a1)", None, ""),
    ("scope", ["(same a1 a1)"], "(p a1)", "unmet_precondition", "`(not (= a1 a1))` is false"),
    ("scope", ["(twin c1 c1)"], "(r c1 c1)", None, ""),  # repeated arguments are allowed
    ("scope", ["(pick-either c1)"], None, "wrong_type", "must be of type a or b"),
    ("scope", ["(pick-either t1)"], None, "wrong_type", "`t1` is of type thing"),  # supertype
    ("scope", ["(pick-either k)", "(pick-either b1)"],
     "(forall (?x - (either a b)) (flag ?x))", "unmet_goal", "`(flag a1)` (for ?x = a1"),
    ("scope", ["(pick-either k)", "(pick-either b1)", "(pick-either a1)"],
     "(forall (?x - (either a b)) (flag ?x))", None, ""),
    ("scope", ["(pick-either b1)"], "(forall (?x - (either a b)) (flag ?x))", "unmet_goal",
     "`(flag k)` (for ?x = k"),
    ("scope", ["(not-k k)"], None, "unmet_precondition", "`(not (= k k))` is false"),
    ("scope", ["(not-k a1)"], "(exists (?x - a) (flag ?x))", None, ""),
    ("scope", [], "(exists (?x - a) (flag ?x))", "unmet_goal", "(exists (?x - a) (flag ?x))"),
    ("scope", [], "(imply (mark) (q k))", None, ""),
    ("scope", [], "(imply (mark) (p k))", "unmet_goal", "`(imply (mark) (p k))`"),
    ("scope", [], "(not (= k a1))", None, ""),
    ("scope", [], "(forall (?x - thing) (or (p ?x) (q ?x)))", "unmet_goal",
     "`(or (p t1) (q t1))` (for ?x = t1"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[3]}-{' '.join(c[1])[:40]}")
def test_ipc_style_domains(case: tuple[str, list[str], str | None, str | None, str]) -> None:
    name, plan, goal, failure, fragment = case
    domain = (IPC / f"{name}-domain.pddl").read_text()
    problem = (IPC / f"{name}-problem.pddl").read_text()
    if goal is not None:
        problem = problem.replace("(:goal (and))", f"(:goal {goal})")
    report = run(domain, problem, plan)
    assert report.valid is (failure is None)
    assert report.failure == failure
    if fragment:
        assert any(fragment in c.message for c in report.critiques())


# -- `llm-modulo validate` speaks VAL's report lines ---------------------------------------

def _validate_cli(tmp_path: Path, plan: str, *flags: str) -> str:
    from typer.testing import CliRunner

    from llm_modulo.cli import add_plugin_commands, app

    add_plugin_commands()
    (tmp_path / "d.pddl").write_text(BW)
    (tmp_path / "p.pddl").write_text(TWO)
    (tmp_path / "plan").write_text(plan)
    r = CliRunner().invoke(app, ["validate", *flags, str(tmp_path / "d.pddl"),
                                 str(tmp_path / "p.pddl"), str(tmp_path / "plan")])
    return str(r.stdout)


def test_report_lines_match_vals(tmp_path: Path) -> None:
    ok = _validate_cli(tmp_path, "(pick-up r)\n(stack r dr)\n")
    assert "Plan executed successfully - checking goal\nPlan valid\nFinal value: 2 \n" in ok
    assert "Successful plans:\nValue: 2\n" in ok
    goal = _validate_cli(tmp_path, "(pick-up r)\n")
    assert "Goal not satisfied\nPlan invalid\n" in goal
    assert "The goal is not satisfied\n(Set (on r dr) to true)\n" in goal
    assert "Failed plans:" in goal
    pre = _validate_cli(tmp_path, "(stack r dr)\n")
    assert "Plan failed to execute\n" in pre
    assert ("(stack r dr) has an unsatisfied precondition at time 1\n"
            "(Set (holding r) to true)\n") in pre


def test_verbose_report_reads_like_val_verbose(tmp_path: Path) -> None:
    """PlanBench's VAL output parser keys on these lines in `validate -v` output."""
    ok = _validate_cli(tmp_path, "(pick-up r)\n(stack r dr)\n", "-v")
    assert ok.count("Checking next happening (time ") == 2
    assert ok.index("Plan executed successfully") < ok.index("Plan valid") \
        < ok.index("Successful plans:")
    pre = _validate_cli(tmp_path, "(pick-up r)\n(stack dr r)\n", "-v")
    assert ("Checking next happening (time 2)\nPlan failed because of unsatisfied "
            "precondition in:\n(stack dr r)\n") in pre
    assert "Plan executed successfully" not in pre


def test_prefix_chains_of_names_do_not_blow_up_the_reader() -> None:
    """Names `a`, `a a`, `a a a`, ...: a 60-word line has 2**59 splits; memoized search."""
    names = {f"o{i}": " ".join(["a"] * (i + 1)) for i in range(30)}
    reader = Templates({"x": "do {} {} {} {}"}, {}, names).reader(tuple(names))
    assert reader.read("do " + " ".join(["a"] * 60) + " z") == []
    assert len(reader.read("do " + " ".join(["a"] * 60))) > 1  # ambiguous, cut off


def test_object_name_rules_take_whole_numbers() -> None:
    """PlanBench's `p` -> `package_{}`: `p10` is package_10 (not package_1 plus a stray 0)."""
    t = Templates({"x": "x {}"}, {}, {"p": "package_{}", "l": "location_{}_{}", "a": "red block"})
    assert [t.object_name(o) for o in ("p10", "l10-2", "l1-0", "p", "a", "q1")] == \
        ["package_10", "location_10_2", "location_1_0", "p", "red block", "q1"]


# -- PlanBench's obfuscated logistics -------------------------------------------------------

PLANBENCH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "planbench"

# found by breadth-first search over instance-1; the same plan under both namings
OBFUSCATED = {
    "obfuscated_deceptive_logistics": ("memory", "sip", "paltry"),
    "obfuscated_randomized_logistics": ("i43ia3g2ygc7vwqf", "e6tbvxb13cxqiqfm",
                                        "kl6t91ujyqzora0b"),
}


@pytest.mark.parametrize("name", sorted(OBFUSCATED))
def test_obfuscated_logistics_domains(name: str) -> None:
    from llm_modulo import Candidate, Status
    from llm_modulo.registry import get_domain
    from llm_modulo.verifiers.pddl.verifier import PlanVerifier

    instance = PLANBENCH / "instances" / name / "generated_basic" / "instance-1.pddl"
    if not instance.is_file():
        pytest.skip("PlanBench data missing")
    dom = get_domain(name)
    problem = dom.parse_problem({"problem": str(instance)})
    prompt = dom.render_prompt(problem)
    assert "[STATEMENT]" in prompt and "object_8" in prompt
    fly, load, unload = OBFUSCATED[name]
    plan = [f"({fly} o0 o6 o7)", f"({load} o8 o0 o7)", f"({fly} o0 o7 o6)",
            f"({unload} o8 o0 o6)"]
    english = [f"{fly} object_0 object_6 object_7", f"{load} object_8 object_0 object_7",
               f"{fly} object_0 object_7 object_6", f"{unload} object_8 object_0 object_6"]
    verifier = PlanVerifier()
    for answer in (plan, english):
        result = verifier.check(problem, Candidate(raw="", answer={"plan": answer}))
        assert result.status is Status.ACCEPT, result.critiques
    bad = verifier.check(problem, Candidate(raw="", answer={"plan": english[1:]}))
    assert bad.status is Status.REJECT
    assert bad.critiques[0].message.startswith(f"step 1 `({load} o8 o0 o7)` ({load} object_8 "
                                               f"object_0 object_7) is not executable")


def test_an_empty_functions_section_declares_no_numeric_fluent() -> None:
    """Tarski writes `(:functions )` into every domain: that is still STRIPS."""
    domain = BW.replace("(:types block)", "(:types block) (:functions )")
    assert run(domain, TWO, ["(pick-up r)", "(stack r dr)"]).valid


def test_a_free_text_plan_too_long_is_never_validated_as_a_prefix() -> None:
    """1,000 steps reaching the goal, a comment, then a step that fails: the reply was cut to
    its first 1,001 lines and accepted."""
    from llm_modulo import Status
    from llm_modulo.registry import get_domain
    from llm_modulo.verifiers.pddl.verifier import PlanVerifier

    dom = get_domain("pddl")
    problem = dom.parse_problem({"domain": BW, "problem": TWO})
    steps = ["(pick-up r)", "(put-down r)"] * 499 + ["(pick-up r)", "(stack r dr)"]
    reply = "\n".join([*steps, "; done", "(stack dr r)"])
    candidate = dom.parse_candidate(problem, reply)
    assert candidate.answer is None and "more than 1000 steps" in str(candidate.parse_error)
    assert PlanVerifier().check(problem, candidate).status is Status.REJECT
    ok = dom.parse_candidate(problem, "\n".join(steps))
    assert PlanVerifier().check(problem, ok).status is Status.ACCEPT


def test_validate_reads_any_bytes_and_refuses_to_cut_files(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from typer.testing import CliRunner

    import llm_modulo.verifiers.pddl.cli as vc
    from llm_modulo.cli import add_plugin_commands, app

    add_plugin_commands()
    (tmp_path / "d.pddl").write_bytes(b"\xef\xbb\xbf" + BW.encode())
    (tmp_path / "p.pddl").write_text(TWO)
    args = ["validate", str(tmp_path / "d.pddl"), str(tmp_path / "p.pddl"), "-"]
    # VAL's lexer skips bytes none of its rules match (0xff is even a blank to it): it reads
    # `(pick-up r)` here, and so does `validate`; a stray name is VAL's syntax error
    r = CliRunner().invoke(app, args, input=b"\xff\xfe(pick-up r)\n")
    assert r.exit_code == 1 and "Goal not satisfied" in r.stdout
    r = CliRunner().invoke(app, args, input=b"\xff\xfe(pick-up r)\nplan\n")
    assert r.exit_code == 1 and "Bad plan description!" in r.stdout
    r = CliRunner().invoke(app, args, input=b"\xef\xbb\xbf(pick-up r)\n(stack r dr)\n")
    assert r.exit_code == 0, r.stdout
    # a file longer than the limit is an error, not its first part (which may parse)
    (tmp_path / "p.pddl").write_text(TWO + " " * 200 + "(define (problem q))")
    monkeypatch.setattr(vc, "MAX_INPUT_CHARS", len(TWO) + 100)
    r = CliRunner().invoke(app, args, input="(pick-up r)\n(stack r dr)\n")
    assert r.exit_code == 2 and "is longer than" in r.output
    assert "Traceback" not in r.output


def test_a_bad_step_anywhere_is_the_failure_as_in_val(tmp_path: Path) -> None:
    """VAL type-checks the plan before running it: `Bad plan description!`, not step 1."""
    plan = ["(stack r dr)", "(pick-up r)", "(pick-up zz)"]
    report = run(BW, TWO, plan)
    assert report.failure == "unknown_object" and report.result.executed == 0
    assert report.critiques()[0].kind == "unknown_object"
    assert not report.critiques()[0].data["after_failure"]
    assert [i.kind for i in validate(load_task(BW, TWO), plan, all_errors=False).result.issues
            ] == ["unknown_object"]
    out = _validate_cli(tmp_path, "\n".join(plan))
    assert "Bad plan description!" in out and "Plan failed to execute" not in out
    english = Templates({"pick-up": "pick up {}", "put-down": "put down {}",
                         "stack": "stack {} on {}"}, {}, {})
    report = run(BW, TWO, ["stack r on dr", "pick up r", "dance"], english)
    assert report.failure == "unparseable"


# -- property: the English reader finds what was written, and only fitting readings ------

WORDS = ["red", "dark", "block", "on", "top", "1", "11", "of", "the"]


@settings(max_examples=300, deadline=None)
@given(names=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
                      min_size=2, max_size=5, unique=True),
       picks=st.lists(st.integers(0, 4), min_size=2, max_size=2))
def test_reader_finds_the_written_reading_among_all(names: list[str], picks: list[int]) -> None:
    objects = tuple(f"o{i}" for i in range(len(names)))
    t = Templates({"stack": "stack the {} on top of the {}", "put-down": "put {} down",
                   "pick-up": "take {}"}, {}, dict(zip(objects, names, strict=True)))
    reader = t.reader(objects)
    x, y = (objects[p % len(objects)] for p in picks)
    for action, args in (("stack", (x, y)), ("put-down", (x,)), ("pick-up", (y,))):
        text = t.action_text(action, args)
        assert text is not None
        readings = reader.read(text)
        assert (action, args) in readings
        for a, r in readings:  # every reading renders back to the same words
            assert t.action_text(a, r) == text


@pytest.mark.parametrize("old, new, reason", [
    (":effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x))",
     ":effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x)) :effect (and)",
     "field :effect is given twice"),
    ("(handempty)", "(handempty) (clear ?z - block)", "predicate clear is declared twice"),
])
def test_a_domain_that_says_a_thing_twice_is_an_error(old: str, new: str, reason: str) -> None:
    from llm_modulo.verifiers.pddl.sexpr import PDDLError

    with pytest.raises(PDDLError, match=reason):
        load_task(BW.replace(old, new, 1), TWO)


TRAVEL = """(define (domain travel)
  (:predicates (at ?x) (road ?x ?y) (air ?x ?y) (vehicle ?v) (place ?x))
  (:action drive :parameters (?v ?x ?y)
    :precondition (and (vehicle ?v) (place ?x) (at ?x) (road ?x ?y))
    :effect (and (not (at ?x)) (at ?y)))
  (:action fly :parameters (?v ?x ?y)
    :precondition (and (vehicle ?v) (place ?x) (at ?x) (air ?x ?y))
    :effect (and (not (at ?x)) (at ?y))))"""
TRAVEL_PROBLEM = """(define (problem t) (:domain travel) (:objects car a b)
  (:init (vehicle car) (place a) (place b) (at a) (road a b)) (:goal (at b)))"""


def test_could_it_run_never_picks_the_reading() -> None:
    """`take car from a to b` is drive or fly: only drive could run here, still ambiguous."""
    t = Templates({"drive": "take {} from {} to {}", "fly": "take {} from {} to {}"})
    report = run(TRAVEL, TRAVEL_PROBLEM, ["take car from a to b"], t)
    assert report.failure == "unparseable"
    assert "can be read as more than one action" in report.critiques()[0].message
    # a one-argument never-changing predicate is a type: a car is no plane, so `fly` is no
    # reading (untyped logistics' load-truck / load-airplane rely on this)
    planes = TRAVEL.replace("(and (vehicle ?v) (place ?x) (at ?x) (air ?x ?y))",
                            "(and (plane ?v) (place ?x) (at ?x) (air ?x ?y))").replace(
        "(vehicle ?v) (place ?x))", "(vehicle ?v) (place ?x) (plane ?p))")
    report = run(planes, TRAVEL_PROBLEM, ["take car from a to b"], t)
    assert report.valid and report.steps[0].action == "drive"


def test_final_value_is_the_total_cost_even_when_zero(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from llm_modulo.cli import add_plugin_commands, app

    add_plugin_commands()
    data = Path(__file__).parent / "data" / "pddl"
    (tmp_path / "p.pddl").write_text((data / "costs-problem.pddl").read_text()
                                     .replace("(:goal (at c))", "(:goal (at a))"))
    (tmp_path / "plan").write_text("")
    r = CliRunner().invoke(app, ["validate", str(data / "costs-domain.pddl"),
                                 str(tmp_path / "p.pddl"), str(tmp_path / "plan")])
    assert r.exit_code == 0 and "Final value: 0 \n" in r.stdout, r.stdout


def test_quantifiers_too_big_to_evaluate_are_unknown_not_a_hang() -> None:
    from llm_modulo.verifiers.pddl.sexpr import UnsupportedPDDL

    domain = BW.replace(
        "(:action put-down :parameters (?x - block) :precondition (holding ?x)",
        "(:action put-down :parameters (?x - block) :precondition (and (holding ?x) (forall "
        "(?a ?b ?c ?d ?e - block) (or (on ?a ?b) (on ?c ?d) (clear ?e))))")
    objects = " ".join(f"b{i}" for i in range(30))
    problem = bw_problem(objects, "(handempty)", "(handempty)")
    with pytest.raises(UnsupportedPDDL, match="action put-down quantifies over"):
        load_task(domain, problem)
    assert load_task(domain, TWO) is not None  # 2 blocks: 32 combinations, fine


def test_an_object_declared_twice_has_both_types_as_in_val() -> None:
    """VAL's typecheck.cpp: `c - t1` and `c - t2` mean c is of both types."""
    domain = BW.replace("(:types block)", "(:types block table)")
    problem = TWO.replace("r dr - block", "r dr - block dr - table")
    task = load_task(domain, problem)
    assert task.object_types["dr"] >= {"block", "table"}
    assert run(domain, problem, ["(pick-up r)", "(stack r dr)"]).valid
