"""Stepwise plans: the planning domains' step contract and the plan verifier's prefix check.

The prefix catalogue: every prefix of a known-valid plan is ACCEPT (the whole plan complete),
each kind of dead prefix is REJECT naming its step (and every extension of it is REJECTed by
the whole-plan check), and what cannot be decided is UNKNOWN. PlanBench instances come from
../shared/data/planbench (see tests/test_plan_planbench.py).
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from llm_modulo import Candidate, Problem, Status, Step
from llm_modulo.domains.planning import (
    MAX_PLAN_STEPS,
    BlocksworldDomain,
    DepotsDomain,
    LogisticsDomain,
    MysteryBlocksworldDomain,
    ObfuscatedDeceptiveLogisticsDomain,
    ObfuscatedRandomizedLogisticsDomain,
    PDDLDomain,
    PlanningDomain,
    blocksworld_plan,
)
from llm_modulo.judge import judge
from llm_modulo.pool import WorkerPool
from llm_modulo.stepwise import StepParse, extend, is_stepwise
from llm_modulo.verifier import CheckResult
from llm_modulo.verifiers.pddl import prefix as prefix_module
from llm_modulo.verifiers.pddl.validator import cached_task, validate
from llm_modulo.verifiers.pddl.verifier import PlanVerifier
from tests.test_plan_planbench import DEV, KNOWN_BAD_REFERENCE, PLANBENCH, REFERENCE, _rows

VERIFIER = PlanVerifier()
BW = BlocksworldDomain()
LOGISTICS = LogisticsDomain()
PDDL = PDDLDomain()
FEATURES = Path(__file__).parent / "data" / "pddl"


def _text(rel: str) -> str:
    return (PLANBENCH / rel).read_text()


def bw_problem(n: int = 3) -> Problem:
    return BW.parse_problem(_text(f"instances/blocksworld/generated_basic/instance-{n}.pddl"))


def logistics_problem(n: int = 1) -> Problem:
    return LOGISTICS.parse_problem(_text(f"instances/logistics/generated_basic/instance-{n}.pddl"))


def reference_plan(problem_file: str) -> list[str]:
    row = next(r for r in _rows(REFERENCE) if r["problem_file"] == problem_file)
    return [ln for ln in row["plan"].splitlines() if ln.strip()]


def steps_of(domain: PlanningDomain, problem: Problem, lines: list[str]) -> list[Step]:
    parsed = domain.parse_steps(problem, [], "\n".join(lines))
    assert parsed.error is None and len(parsed.steps) == len(lines), parsed
    return list(parsed.steps)


def check(domain: PlanningDomain, problem: Problem, steps: list[Step]) -> CheckResult:
    result = VERIFIER.check_prefix(problem, domain.prefix_candidate(problem, steps))
    for critique in result.critiques:
        assert critique.kind in PlanVerifier.vocabulary(), critique
    return result


def check_lines(problem: Problem, lines: list[str]) -> CheckResult:
    return VERIFIER.check_prefix(problem, Candidate(raw="", answer={"plan": lines}))


def whole(domain: PlanningDomain, problem: Problem, steps: list[Step]) -> Status:
    candidate = domain.parse_candidate(problem, domain.assemble(problem, steps))
    return VERIFIER.check(problem, candidate).status


def step(action: str, *args: str) -> Step:
    return Step(text="(" + " ".join((action, *args)) + ")",
                data={"action": action, "args": list(args)})


# -- the contract ----------------------------------------------------------------------------

ALL = [BlocksworldDomain, MysteryBlocksworldDomain, LogisticsDomain, DepotsDomain,
       ObfuscatedDeceptiveLogisticsDomain, ObfuscatedRandomizedLogisticsDomain, PDDLDomain]


@pytest.mark.parametrize("cls", ALL)
def test_every_planning_domain_is_stepwise(cls: type[PlanningDomain]) -> None:
    assert is_stepwise(cls(), VERIFIER)


def test_a_prefix_check_does_not_change_the_verifier_version() -> None:
    assert PlanVerifier.checks_prefixes() and PlanVerifier.version == "1.1"


# -- every prefix of a valid plan is alive, the whole plan complete ------------------------

def _reference_rows(domain_dir: str) -> list[dict[str, str]]:
    return [r for r in _rows(REFERENCE) if r["domain_file"] == f"instances/{domain_dir}/"
            "generated_domain.pddl" and r["problem_file"] not in KNOWN_BAD_REFERENCE]


@pytest.mark.parametrize(("domain", "domain_dir", "every"), [
    (BW, "blocksworld", 5), (MysteryBlocksworldDomain(), "blocksworld/mystery", 10),
    (LOGISTICS, "logistics", 1)])
def test_every_prefix_of_a_reference_plan_is_alive_and_the_plan_complete(
        domain: PlanningDomain, domain_dir: str, every: int) -> None:
    rows = _reference_rows(domain_dir)[::every]
    assert len(rows) >= 20
    for row in rows:
        problem = domain.parse_problem(_text(row["problem_file"]))
        lines = [ln for ln in row["plan"].splitlines() if ln.strip()]
        steps = steps_of(domain, problem, lines)
        assert len(steps) <= domain.max_steps(problem), row["problem_file"]
        for k in range(len(steps) + 1):
            result = check(domain, problem, steps[:k])
            assert result.status is Status.ACCEPT, (row["problem_file"], k, result.critiques)
            # optimal plans: no shorter prefix reaches the goal
            assert result.evidence["complete"] is (k == len(steps)), (row["problem_file"], k)
            assert result.evidence["steps"] == k
        assert whole(domain, problem, steps) is Status.ACCEPT


def test_every_labelled_dev_plan_agrees_with_the_whole_plan_check() -> None:
    """On PlanBench's 1,200 labelled plans (valid, unmet goal, unmet precondition): the
    prefixes before the first failing step are ACCEPT, the prefix ending in it is REJECT with
    the whole-plan check's first critique, and only a valid plan's last prefix is complete."""
    counts = {"valid": 0, "unmet_goal": 0, "unmet_precondition": 0}
    for row in _rows(DEV):
        problem = PDDL.parse_problem({"domain": _text(row["domain_file"]),
                                      "problem": _text(row["problem_file"])})
        lines = [ln for ln in row["plan"].splitlines() if ln.strip()]
        report = validate(cached_task(problem.payload["domain"], problem.payload["problem"]),
                          lines)
        steps = steps_of(PDDL, problem, lines)
        failing = (report.result.issues[0].step.index  # type: ignore[union-attr]
                   if report.failure == "unmet_precondition" else None)
        for k in range(1, len(steps) + 1):
            result = check(PDDL, problem, steps[:k])
            if failing is not None and k == failing:
                assert result.status is Status.REJECT, row["plan"]
                assert result.critiques[0] == report.critiques()[0]
                assert result.evidence["step"] == k and result.evidence["executed"] == k - 1
                break
            assert result.status is Status.ACCEPT, (row["plan"], k)
            assert result.evidence["complete"] is (report.valid and k == len(steps)), k
        assert report.valid is row["label_valid"]
        counts[report.failure or "valid"] += 1
    assert counts == {"valid": 374, "unmet_goal": 448, "unmet_precondition": 378}


def test_english_prefix_items_read_as_the_pddl_ones() -> None:
    problem = logistics_problem(1)
    lines = reference_plan("instances/logistics/generated_basic/instance-1.pddl")
    steps = steps_of(LOGISTICS, problem, lines)
    english = [s.text for s in steps]
    assert all(not t.startswith("(") for t in english)  # shown as the prompt asks
    for k in range(len(steps) + 1):
        assert check_lines(problem, english[:k]).evidence == \
            check(LOGISTICS, problem, steps[:k]).evidence


# -- dead prefixes ---------------------------------------------------------------------------

# name -> (steps after the first `keep` steps of instance-3's reference plan,
#          expected kind, failing step, message fragment)
BW_DEAD: dict[str, tuple[int, list[Step], str, int, str]] = {
    "precondition false at step 1 (the hand is empty)":
        (0, [step("stack", "a", "b")], "unmet_precondition", 1,
         "step 1 `(stack a b)` (stack the red block on top of the blue block) is not "
         "executable because `(holding a)`"),
    "precondition false after valid steps":
        (2, [step("pick-up", "a")], "unmet_precondition", 3, "step 3 `(pick-up a)`"),
    "unknown action": (1, [step("fly", "a", "b")], "unknown_action", 2,
                       "there is no action `fly`"),
    "unknown object": (0, [step("pick-up", "z")], "unknown_object", 1,
                       "there is no object `z` in this problem"),
    "wrong arity": (2, [step("pick-up", "a", "b")], "wrong_arity", 3,
                    "`pick-up` takes 1 argument, 2 given"),
}


@pytest.mark.parametrize("name", BW_DEAD)
def test_dead_blocksworld_prefixes_name_their_step(name: str) -> None:
    problem = bw_problem(3)
    valid = steps_of(BW, problem,
                     reference_plan("instances/blocksworld/generated_basic/instance-3.pddl"))
    keep, bad, kind, at, fragment = BW_DEAD[name]
    dead = valid[:keep] + bad
    result = check(BW, problem, dead)
    assert result.status is Status.REJECT, result.critiques
    first = result.critiques[0]
    assert (first.kind, first.data["step"], result.evidence["step"]) == (kind, at, at)
    assert fragment in first.message, first.message
    assert first.location == f"step {at}"
    # proven dead: no extension is a valid plan (the rest of the valid plan, random steps)
    rng = random.Random(name)
    tails = [valid[keep:], valid, []]
    actions = [step("pick-up", b) for b in "abcd"] + [step("put-down", b) for b in "abcd"] + \
        [step(a, x, y) for a in ("stack", "unstack") for x in "abcd" for y in "abcd"]
    tails += [[rng.choice(actions) for _ in range(rng.randrange(1, 12))] for _ in range(20)]
    for tail in tails:
        assert whole(BW, problem, dead + tail) is Status.REJECT
        assert check(BW, problem, dead + tail).status is Status.REJECT


def test_a_static_type_precondition_is_a_dead_prefix_in_logistics() -> None:
    """Untyped logistics: loading a package into a truck with load-airplane fails `(AIRPLANE
    t0)`, a precondition no step can change."""
    problem = logistics_problem(1)
    result = check(LOGISTICS, problem, [step("load-airplane", "p0", "t1", "l1-0")])
    assert result.status is Status.REJECT
    assert result.critiques[0].kind == "unmet_precondition"
    assert "`(airplane t1)`" in result.critiques[0].message


FEATURES_PROBLEM = {"domain": (FEATURES / "features-domain.pddl").read_text(),
                    "problem": (FEATURES / "features-problem.pddl").read_text()}


@pytest.mark.parametrize(("lines", "kind", "at"), [
    (["(light-all r1)", "(pick r1 hall hall)"], "wrong_type", 2),
    (["(move ball1 hall kitchen)"], "wrong_type", 1),
    (["(light-all r1)", "(light-all r1)"], "unmet_precondition", 2),  # exists false
    (["(flip r1 hall)", "(pick r1 ball1 hall)", "(flip r1 hall)", "(light-all r1)"],
     "unmet_precondition", 4),  # forall false after a conditional effect
    # VAL type-checks every step first: the unknown action is the failure, not step 1's
    (["(pick r1 ball1 hall)", "(fly r1)"], "unknown_action", 2),
])
def test_dead_prefixes_with_adl_features(lines: list[str], kind: str, at: int) -> None:
    problem = PDDL.parse_problem(FEATURES_PROBLEM)
    result = check_lines(problem, lines)
    assert result.status is Status.REJECT
    assert (result.critiques[0].kind, result.evidence["step"]) == (kind, at)
    assert validate(cached_task(FEATURES_PROBLEM["domain"], FEATURES_PROBLEM["problem"]),
                    lines).failure == kind


def test_conditional_effects_run_in_prefixes_as_in_whole_plans() -> None:
    problem = PDDL.parse_problem(FEATURES_PROBLEM)
    plan = ["(flip r1 hall)", "(pick r1 ball1 hall)", "(move r1 hall kitchen)",
            "(drop r1 ball1 kitchen)"]
    for k in range(len(plan) + 1):
        result = check_lines(problem, plan[:k])
        assert result.status is Status.ACCEPT and result.evidence["complete"] is (k == 4)


# -- complete and undecided prefixes --------------------------------------------------------

GOAL_AT_START = """(define (problem done) (:domain blocksworld-4ops) (:objects a b)
(:init (handempty) (ontable b) (on a b) (clear a)) (:goal (and (on a b))))"""


def test_the_empty_prefix() -> None:
    problem = bw_problem(3)
    assert check(BW, problem, []).evidence == {"complete": False, "steps": 0}
    done = BW.parse_problem(GOAL_AT_START)
    assert check(BW, done, []).evidence == {"complete": True, "steps": 0}
    # a complete prefix is a valid plan, and so is a longer one that keeps the goal
    assert check(BW, done, [step("unstack", "a", "b"), step("stack", "a", "b")]
                 ).evidence["complete"] is True
    assert check(BW, done, [step("unstack", "a", "b")]).evidence["complete"] is False


@pytest.mark.parametrize(("lines", "why"), [
    (["(pick-up b)", "1: (put-down b)"], "time stamp"),
    (["(pick-up b)", "(put-down b) (pick-up b)"], "is not one action"),
    (["(pick-up b)", ""], "has no action"),
    (["(pick-up b)", "then put it down"], "is not an action of this domain"),
    (["(pick-up b)", "```"], "has no action"),
    (["(pick-up b) \\"], "ends in `\\`"),
])
def test_prefix_lines_that_are_not_one_unstamped_action_are_unknown(lines: list[str],
                                                                    why: str) -> None:
    result = check_lines(bw_problem(3), lines)
    assert result.status is Status.UNKNOWN
    assert why in result.critiques[0].message, result.critiques[0].message


def test_unknown_cases_of_the_problem_and_the_candidate() -> None:
    durative = dict(FEATURES_PROBLEM, domain=FEATURES_PROBLEM["domain"].replace(
        ":conditional-effects)", ":conditional-effects :durative-actions)"))
    problem = Problem(domain="pddl", payload={**durative, "templates": None})
    result = check_lines(problem, ["(light-all r1)"])
    assert result.status is Status.UNKNOWN and result.critiques[0].kind == "unsupported"
    broken = Problem(domain="pddl", payload={"domain": "(define", "problem": "(", "templates":
                                             None})
    assert check_lines(broken, []).critiques[0].kind == "bad_problem"
    no_plan = VERIFIER.check_prefix(bw_problem(3), Candidate(raw="x", parse_error="nothing"))
    assert no_plan.status is Status.UNKNOWN
    assert VERIFIER.check_prefix(bw_problem(3), Candidate(raw="", answer={"plan": [3]})
                                 ).status is Status.UNKNOWN


def test_an_english_line_with_two_readings_is_unknown() -> None:
    problem = bw_problem(3)
    ambiguous = PDDL.parse_problem({
        "domain": problem.payload["domain"], "problem": problem.payload["problem"],
        "templates": {"actions": {"pick-up": "take the {}", "put-down": "take the {}",
                                  "stack": "stack {} on {}", "unstack": "unstack {} from {}"},
                      "domain_intro": "Blocks.", "encoded_objects": {"a": "red block"}}})
    result = check_lines(ambiguous, ["take the red block"])
    assert result.status is Status.UNKNOWN
    assert "can be read as more than one action" in result.critiques[0].message
    assert PDDL.parse_steps(ambiguous, [], "take the red block").steps == ()
    assert check_lines(ambiguous, ["(pick-up a)"]).status is not Status.UNKNOWN  # read


# -- incremental checking is the same as checking from scratch -----------------------------

def test_remembered_prefixes_give_the_verdicts_of_fresh_checks() -> None:
    problem = bw_problem(7)
    rng = random.Random(7)
    pool = [step("pick-up", b) for b in "abcd"] + [step("put-down", b) for b in "abcd"] + \
        [step(a, x, y) for a in ("stack", "unstack") for x in "abcd" for y in "abcd" if x != y]
    valid = steps_of(BW, problem,
                     reference_plan("instances/blocksworld/generated_basic/instance-7.pddl"))
    plans = [valid] + [valid[:rng.randrange(len(valid))] + [rng.choice(pool) for _ in range(6)]
                       for _ in range(40)]
    checks = [p[:k] for p in plans for k in range(len(p) + 1)]
    in_order = [check(BW, problem, c) for c in checks]
    shuffled = list(range(len(checks)))
    rng.shuffle(shuffled)
    for i in shuffled:
        prefix_module._KNOWN.clear() if rng.random() < 0.3 else None
        again = check(BW, problem, checks[i])
        assert (again.status, again.evidence, again.critiques) == \
            (in_order[i].status, in_order[i].evidence, in_order[i].critiques)
    assert len(prefix_module._KNOWN) <= prefix_module.KEEP


def test_remembered_prefixes_are_kept_apart_per_problem() -> None:
    """The same lines on two problems (and on one problem with and without templates)."""
    problems = [bw_problem(3), bw_problem(4), PDDL.parse_problem(
        {"domain": bw_problem(3).payload["domain"], "problem": bw_problem(3).payload["problem"]})]
    lines = reference_plan("instances/blocksworld/generated_basic/instance-3.pddl")
    expected = []
    for problem in problems:
        prefix_module._KNOWN.clear()
        expected.append([check_lines(problem, lines[:k]).status for k in range(len(lines) + 1)])
    assert expected[0] != expected[1] and expected[0] == expected[2]
    prefix_module._KNOWN.clear()
    for k in range(len(lines) + 1):
        for problem, statuses in zip(problems, expected, strict=True):
            assert check_lines(problem, lines[:k]).status is statuses[k]


# -- reading steps from model output --------------------------------------------------------

MESSY: dict[str, tuple[str, list[str]]] = {
    "plain lines": ("(unstack b a)\n(put-down b)", ["(unstack b a)", "(put-down b)"]),
    "numbered and bulleted": ("1. (UNSTACK B A)\n- (put-down b)\nStep 3: (pick-up a)",
                              ["(unstack b a)", "(put-down b)", "(pick-up a)"]),
    "time stamps are dropped": ("0: (unstack b a) [1]\n1: (put-down b)",
                                ["(unstack b a)", "(put-down b)"]),
    "blank lines and comments are skipped": ("\n\n(unstack b a) ; free a\n\n(put-down b)\n",
                                             ["(unstack b a)", "(put-down b)"]),
    "a fenced block": ("```pddl\n(unstack b a)\n(put-down b)\n```\nThat is the plan.",
                       ["(unstack b a)", "(put-down b)"]),
    "the first unreadable line ends the steps": (
        "(unstack b a)\nNow the blue block is free.\n(put-down b)", ["(unstack b a)"]),
    "[PLAN END] ends the steps": ("[PLAN]\n(unstack b a)\n[PLAN END]\n(put-down b)",
                                  ["(unstack b a)"]),
    "a second fenced block is a hedge that ends the steps": (
        "```\n(unstack b a)\n```\n```\n(put-down b)\n```", ["(unstack b a)"]),
    "two actions on a line": ("(unstack b a) (put-down b)", ["(unstack b a)", "(put-down b)"]),
    "English steps": ("unstack the blue block from on top of the red block\nput down the blue "
                      "block.", ["(unstack b a)", "(put-down b)"]),
    "unknown actions are steps (the prefix check rejects them)": (
        "(fly b a)\n(unstack b a)", ["(fly b a)", "(unstack b a)"]),
}


@pytest.mark.parametrize("name", MESSY)
def test_parse_steps_on_messy_output(name: str) -> None:
    problem = bw_problem(1)
    text, expected = MESSY[name]
    parsed = BW.parse_steps(problem, [], text)
    assert parsed.error is None
    assert [BW.prefix_candidate(problem, [s]).answer["plan"][0]  # type: ignore[index]
            for s in parsed.steps] == expected


@pytest.mark.parametrize("text", ["", "   \n", "Sure! Here is the plan: (unstack b a)",
                                  '{"plan": ["(unstack b a)"]}', "\x00\x01", "(" * 5000,
                                  "unstack the purple block from on top of the red block"])
def test_parse_steps_reads_nothing_from_no_action(text: str) -> None:
    parsed = BW.parse_steps(bw_problem(1), [], text)
    assert parsed.steps == () and parsed.error


def test_parse_steps_is_bounded_and_never_raises() -> None:
    problem = bw_problem(1)
    limit = BW.max_steps(problem)
    many = BW.parse_steps(problem, [], "(pick-up a)\n" * 100_000)
    assert len(many.steps) == limit
    prefix = [step("pick-up", "a")] * 5
    assert len(BW.parse_steps(problem, prefix, "(pick-up a)\n" * 100).steps) == limit - 5
    assert BW.parse_steps(problem, [step("pick-up", "a")] * limit, "(pick-up a)").steps == ()
    rng = random.Random(0)
    alphabet = "()ab \n:;-.[]`\\" + "unstack pick-up"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        assert isinstance(BW.parse_steps(problem, [], text), StepParse)


def test_a_continuation_cut_off_by_the_bound_is_not_read() -> None:
    problem = bw_problem(1)
    limit = BW.max_steps(problem)
    filler = "\n" * (4 * limit + 63)
    parsed = BW.parse_steps(problem, [], "(pick-up a)" + filler + "(unstack b \\\na)")
    assert [s.data["action"] for s in parsed.steps] == ["pick-up"]


# -- prompts, stops, bounds ------------------------------------------------------------------

def test_step_messages_state_the_problem_and_the_plan_so_far() -> None:
    problem = bw_problem(3)
    valid = steps_of(BW, problem,
                     reference_plan("instances/blocksworld/generated_basic/instance-3.pddl"))
    first = BW.step_messages(problem, [])
    later = BW.step_messages(problem, valid[:2])
    statement = BW.render_prompt(problem).split("What is the plan")[0]
    for messages in (first, later):
        assert [m.role for m in messages] == ["system", "user"]
        assert messages[1].content.startswith(statement)
        assert "Write the next action of the plan" in messages[1].content
        assert "JSON" not in messages[1].content
    assert "no actions yet" in first[1].content
    assert "My plan so far is:\n" + "\n".join(s.text for s in valid[:2]) in later[1].content
    assert valid[2].text not in later[1].content  # never the rest of a solution
    pddl = PDDL.step_messages(PDDL.parse_problem(FEATURES_PROBLEM), [])
    assert 'in PDDL form "(action-name object ...)"' in pddl[1].content
    assert BW.step_stop(problem) == ["\n"]


def test_max_steps() -> None:
    assert BW.max_steps(BW.parse_problem({"blocks": 5, "seed": 1})) == 4 * 5 + 2
    problem = logistics_problem(1)
    objects = len(cached_task(problem.payload["domain"], problem.payload["problem"]).object_types)
    assert LOGISTICS.max_steps(problem) == 12 * objects
    assert PDDL.max_steps(PDDL.parse_problem(FEATURES_PROBLEM)) == MAX_PLAN_STEPS
    assert BW.max_steps(BW.parse_problem({"blocks": 26, "seed": 1})) == 106
    for row in _rows(REFERENCE):  # every optimal plan fits under its bound
        if row["problem_file"] in KNOWN_BAD_REFERENCE:
            continue
        domain = {"blocksworld": BW, "logistics": LOGISTICS}.get(row["domain_file"].split("/")[1])
        if domain is None or "mystery" in row["domain_file"]:
            continue
        problem = domain.parse_problem(_text(row["problem_file"]))
        assert len(row["plan"].strip().splitlines()) <= domain.max_steps(problem)


# -- through the worker pool: extend, then assemble and judge --------------------------------

def test_extend_then_judge_round_trip(pool: WorkerPool) -> None:
    async def run() -> None:
        for domain, problem, file in [
                (BW, bw_problem(3), "instances/blocksworld/generated_basic/instance-3.pddl"),
                (LOGISTICS, logistics_problem(2),
                 "instances/logistics/generated_basic/instance-2.pddl")]:
            plan = reference_plan(file)
            english = [s.text for s in steps_of(domain, problem, plan)]
            half = len(plan) // 2
            prefix = steps_of(domain, problem, plan[:half])
            done, dead, past = await extend(domain, VERIFIER, problem, [
                ([], "\n".join(english)),  # the whole plan, as the prompt shows steps
                (prefix, "(fly x)\n" + plan[half]),  # dead at its first step
                ([], "\n".join(plan) + "\n" + plan[0]),  # one step past the goal
            ], pool=pool)
            assert done.complete and len(done.steps) == len(plan), done
            assert dead.dead and len(dead.steps) == 1
            assert dead.verdicts[0].critiques[0].kind == "unknown_action"
            assert dead.verdicts[0].critiques[0].data["step"] == half + 1
            assert past.complete and len(past.steps) == len(plan)  # stops at the goal
            [(candidate, verdict)] = await judge(domain, VERIFIER, problem,
                                                 [domain.assemble(problem, done.steps)],
                                                 pool=pool)
            assert verdict.status is Status.ACCEPT, verdict.critiques
            assert candidate.answer is not None
            assert len(candidate.answer["plan"]) == len(plan)
            bad = await judge(domain, VERIFIER, problem,
                              [domain.assemble(problem, [*prefix, step("fly", "x")])], pool=pool)
            assert bad[0][1].status is Status.REJECT

    asyncio.run(run())


def test_assemble_is_one_json_plan_the_domain_reads() -> None:
    problem = bw_problem(3)
    steps = steps_of(BW, problem,
                     reference_plan("instances/blocksworld/generated_basic/instance-3.pddl"))
    text = BW.assemble(problem, steps)
    # in the prompt's language (English for PlanBench blocksworld), as a one-shot answer
    assert json.loads(text) == {"plan": [s.text for s in steps]}
    assert all(not s.text.startswith("(") for s in steps)
    assert whole(BW, problem, steps) is Status.ACCEPT
    assert whole(BW, problem, steps[:-1]) is Status.REJECT
    generated = BW.parse_problem({"blocks": 6, "seed": 3})
    gsteps = steps_of(BW, generated, blocksworld_plan(generated))
    assert whole(BW, generated, gsteps) is Status.ACCEPT
    assert check(BW, generated, gsteps).evidence["complete"] is True
