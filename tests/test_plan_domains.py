"""Planning domains: problems, generator, prompts, extraction, feedback, check and solve."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llm_modulo import (
    Attempt,
    Candidate,
    FeedbackLevel,
    ProblemError,
    Status,
    Verdict,
    default_registry,
)
from llm_modulo.domains.planning import (
    BlocksworldDomain,
    MysteryBlocksworldDomain,
    PDDLDomain,
    blocksworld_plan,
    blocksworld_problem,
)
from llm_modulo.testing import ScriptedServer
from llm_modulo.verifiers.pddl.verifier import PlanVerifier

DATA = Path(__file__).parent / "data" / "pddl"
PLANBENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "planbench"
BW = BlocksworldDomain()
VERIFIER = PlanVerifier()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def verdict_of(domain: Any, problem: Any, plan: list[str] | str) -> Any:
    answer = {"plan": plan}
    return VERIFIER.check(problem, Candidate(raw=json.dumps(answer), answer=answer))


def test_registered() -> None:
    names = {e.name for e in default_registry.domains.entries()}
    assert {"blocksworld", "mystery_blocksworld", "logistics", "depots", "pddl"} <= names
    for name in ("blocksworld", "mystery_blocksworld", "logistics", "depots", "pddl"):
        _dom, ver = default_registry.domain_and_verifier(name)
        assert ver.name == "pddl_plan" and ver.sound


@pytest.mark.parametrize("blocks", [2, 3, 4, 6, 12, 26])
def test_generator_is_seeded_and_solvable(blocks: int) -> None:
    for seed in range(5):
        text = blocksworld_problem(blocks, seed)
        assert text == blocksworld_problem(blocks, seed)
        problem = BW.parse_problem({"blocks": blocks, "seed": seed})
        assert f"(:objects {' '.join(chr(97 + i) for i in range(blocks))})" in text
        assert verdict_of(BW, problem, []).status is Status.REJECT  # goal not already true
        assert verdict_of(BW, problem, blocksworld_plan(problem)).status is Status.ACCEPT
    seeds = {blocksworld_problem(blocks, s) for s in range(10)}
    assert len(seeds) > 1 or blocks == 2


def test_generate_problems_and_mystery() -> None:
    problems = BW.generate_problems(4, seed=7, blocks=5)
    assert len({p.hash for p in problems}) == 4
    assert [p.hash for p in problems] == [p.hash for p in BW.generate_problems(4, 7, blocks=5)]
    mystery = MysteryBlocksworldDomain().generate_problems(3, seed=1, blocks=4)
    for p in mystery:
        plan = blocksworld_plan(p)
        assert plan and all(s.split()[0][1:] in {"attack", "succumb", "overcome", "feast"}
                            for s in plan)
        assert verdict_of(None, p, plan).status is Status.ACCEPT


def test_bad_problems_are_one_line_errors() -> None:
    for raw in [{"blocks": 0}, {"blocks": "4"}, {"nothing": 1}, "(define (problem x)",
                {"problem": "/does/not/exist.pddl"},
                {"problem": "(define (problem p) (:domain d) (:objects a) (:init (on a z)) "
                            "(:goal (on a a)))"}]:
        with pytest.raises(ProblemError) as info:
            BW.parse_problem(raw)  # type: ignore[arg-type]
        assert "\n" not in str(info.value)
    with pytest.raises(ProblemError, match="domain"):
        PDDLDomain().parse_problem({"problem": "p.pddl"})


def test_prompt_follows_planbench() -> None:
    problem = BW.parse_problem({"problem": "(define (problem p) (:domain blocksworld-4ops) "
                                           "(:objects a b) (:init (handempty) (ontable a) "
                                           "(on b a) (clear b)) (:goal (on a b)))"})
    prompt = BW.render_prompt(problem)
    assert prompt.startswith("I am playing with a set of blocks")
    assert ("[STATEMENT]\nAs initial conditions I have that, the blue block is clear, "
            "the hand is empty, the blue block is on top of the red block and the red block "
            "is on the table.\nMy goal is to have that the red block is on top of the blue "
            "block.") in prompt
    assert "What is the plan to achieve my goal?" in prompt
    assert '"unstack the <object> from on top of the <object>"' in prompt


def test_pddl_domain_prompt_shows_the_files() -> None:
    dom = PDDLDomain()
    problem = dom.parse_problem({"domain": str(DATA / "features-domain.pddl"),
                                 "problem": str(DATA / "features-problem.pddl")})
    prompt = dom.render_prompt(problem)
    assert "(:action light-all" in prompt and "features-1" in prompt
    assert '"(action-name object ...)"' in prompt


def test_extraction_json_and_planbench_text() -> None:
    problem = BW.parse_problem({"blocks": 3, "seed": 0})
    plan = blocksworld_plan(problem)
    from_json = BW.parse_candidate(problem, json.dumps({"plan": plan}))
    assert from_json.answer == {"plan": plan}
    english = [BW_templates_text(s) for s in plan]
    text = "Sure. Here it is.\n[PLAN]\n" + "\n".join(english) + "\n[PLAN END]\nGood luck."
    candidate = BW.parse_candidate(problem, text)
    assert VERIFIER.check(problem, candidate).status is Status.ACCEPT
    assert BW.parse_candidate(problem, "   ").parse_error


def BW_templates_text(step: str) -> str:
    from llm_modulo.domains.planning import packaged_templates

    action, *args = step.strip("()").split()
    text = packaged_templates("blocksworld").action_text(action, args)
    assert text is not None
    return text.capitalize() + "."


def test_feedback_levels() -> None:
    problem = BW.parse_problem({"blocks": 4, "seed": 3})
    plan = ["(stack a b)", "(put-down c)"]
    result = verdict_of(BW, problem, plan)
    verdict = Verdict(status=result.status, critiques=result.critiques, verifier="pddl_plan",
                      verifier_version="1.0")
    attempt = Attempt(round=1, sample=0, prompt=[], completion=json.dumps({"plan": plan}),
                      candidate=Candidate(raw="", answer={"plan": plan}), verdict=verdict)
    first = BW.render_feedback(problem, attempt, FeedbackLevel.FIRST)
    everything = BW.render_feedback(problem, attempt, FeedbackLevel.ALL)
    binary = BW.render_feedback(problem, attempt, FeedbackLevel.BINARY)
    assert "step 1 `(stack a b)`" in first and "is not executable because" in first
    assert "step 2" not in first and "step 2" in everything
    assert "after the plan" in everything
    assert "step" not in binary


def test_check_command_on_blocksworld(tmp_path: Path) -> None:
    problem = blocksworld_problem(4, 1)
    pfile = tmp_path / "p.pddl"
    pfile.write_text(problem)
    plan = blocksworld_plan(BW.parse_problem(problem))
    ok = cli("check", "--domain", "blocksworld", "--problem", str(pfile), "--candidate",
             json.dumps({"plan": plan}), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "accept"
    bad = cli("check", "--domain", "blocksworld", "--problem", str(pfile), "--candidate",
              "(pick-up a)\n(pick-up b)")
    assert bad.returncode == 1
    assert "REJECT" in bad.stdout and "is not executable" in bad.stdout


def test_check_and_validate_say_unknown_for_unsupported(tmp_path: Path) -> None:
    domain = tmp_path / "d.pddl"
    domain.write_text((DATA / "features-domain.pddl").read_text()
                      .replace("(:constants", "(:derived (ready ?r - robot) (free ?r))\n"
                                              "  (:constants"))
    problem = DATA / "features-problem.pddl"
    spec = json.dumps({"domain": str(domain), "problem": str(problem)})
    r = cli("check", "--domain", "pddl", "--problem", spec, "--candidate",
            '{"plan": ["(light-all r1)"]}', "--json")
    assert r.returncode == 3, r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["status"] == "unknown" and verdict["critiques"][0]["kind"] == "unsupported"
    plan = tmp_path / "plan"
    plan.write_text("(light-all r1)\n")
    v = cli("validate", str(domain), str(problem), str(plan))
    assert v.returncode == 3 and "derived predicates" in v.stdout


@pytest.mark.parametrize("text,fragment", [
    ("(define (domain d) (:predicates (p))", "never closed"),
    ("(define (domain d) (:predicates (p)) (:action a :parameters () :precondition (q) "
     ":effect (p)))", "undeclared predicate `q`"),
    ("(define (domain d) (:types a - b b - a))", "cycle"),
    ("(define (domain d) (:predicates (p ?x)) (:action a :parameters (?x) "
     ":precondition (p ?y) :effect (p ?x)))", "variable `?y` is not bound"),
    ("(define (domain d) (:predicates (p ?x)) (:action a :parameters (?x - thing) "
     ":effect (p ?x)))", "undeclared type `thing`"),
])
def test_validate_gives_one_line_errors_for_bad_files(tmp_path: Path, text: str,
                                                      fragment: str) -> None:
    domain = tmp_path / "d.pddl"
    domain.write_text(text)
    problem = tmp_path / "p.pddl"
    problem.write_text("(define (problem p) (:domain d) (:init) (:goal (and)))")
    plan = tmp_path / "plan"
    plan.write_text("")
    r = cli("validate", str(domain), str(problem), str(plan))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert fragment in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_validate_verbose_prints_each_state() -> None:
    r = cli("validate", "-v", str(DATA / "features-domain.pddl"),
            str(DATA / "features-problem.pddl"), "/dev/stdin")
    assert r.returncode == 1  # an empty plan: the goal is not satisfied
    assert "Initial state: " in r.stdout and "Goal not satisfied" in r.stdout
    plan_file = DATA.parent / "nonexistent"
    missing = cli("validate", str(DATA / "features-domain.pddl"),
                  str(DATA / "features-problem.pddl"), str(plan_file))
    assert missing.returncode == 2 and "cannot read plan file" in missing.stderr


def test_validate_verbose_states_after_steps(tmp_path: Path) -> None:
    plan = tmp_path / "plan"
    plan.write_text("(light-all r1)\n(pick r1 ball1 hall)\n(move r1 hall kitchen)\n"
                    "(drop r1 ball1 kitchen)\n")
    r = cli("validate", "-v", str(DATA / "features-domain.pddl"),
            str(DATA / "features-problem.pddl"), str(plan))
    assert r.returncode == 0 and "Plan valid" in r.stdout
    assert "State after step 2 (pick r1 ball1 hall): " in r.stdout
    assert "(holding r1 ball1)" in r.stdout.split("State after step 2")[1].split("\n")[0]
    j = cli("validate", "-v", "--json", str(DATA / "features-domain.pddl"),
            str(DATA / "features-problem.pddl"), str(plan))
    payload = json.loads(j.stdout)
    assert payload["status"] == "accept" and len(payload["states"]) == 5


def test_solve_blocksworld_against_a_scripted_server() -> None:
    problem = BW.parse_problem({"blocks": 4, "seed": 5})
    good = blocksworld_plan(problem)

    def responder(body: dict[str, Any]) -> list[str]:
        messages = body.get("messages", [])
        if len(messages) <= 2:
            return [json.dumps({"plan": good[1:]})]  # skips the first step
        return [json.dumps({"plan": good})]

    with ScriptedServer(responder) as server:
        r = cli("solve", "--domain", "blocksworld", "--problem", '{"blocks": 4, "seed": 5}',
                "--base-url", server.base_url, "--json", "-n", "1")
        requests = server.completion_requests()
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["stop_reason"] == "accepted" and result["solution"]["round"] == 2
    back_prompt = requests[1]["messages"][-1]["content"]
    assert "is not executable because" in back_prompt
    first_prompt = requests[0]["messages"][1]["content"]
    assert "[STATEMENT]" in first_prompt and "My goal is to have that" in first_prompt


@pytest.mark.skipif(not PLANBENCH.is_dir(), reason="PlanBench data missing")
def test_planbench_instances_load_in_every_named_domain() -> None:
    for name, rel in [("blocksworld", "instances/blocksworld/generated_basic/instance-1.pddl"),
                      ("mystery_blocksworld",
                       "instances/blocksworld/mystery/generated_basic/instance-1.pddl"),
                      ("logistics", "instances/logistics/generated_basic/instance-1.pddl"),
                      ("depots", "instances/depots/generated_basic/instance-1.pddl")]:
        dom, _ = default_registry.domain_and_verifier(name)
        problem = dom.load_problem(str(PLANBENCH / rel))
        prompt = dom.render_prompt(problem)
        assert "[STATEMENT]" in prompt and "My goal is to have that" in prompt, name


@pytest.mark.skipif(not PLANBENCH.is_dir(), reason="PlanBench data missing")
def test_depots_plans_in_pddl_and_english() -> None:
    dom, _ = default_registry.domain_and_verifier("depots")
    problem = dom.load_problem(str(PLANBENCH / "instances/depots/generated_basic/instance-1.pddl"))
    pddl = ["(lift hoist1 crate2 crate0 depot1)", "(drive truck0 depot2 depot1)",
            "(load hoist1 crate2 truck0 depot1)"]
    english = ["Use hoist1 to lift crate2 from crate0 at depot1", "drive truck0 from depot2 to "
               "depot1", "use hoist1 to load crate2 into truck0 at depot1."]
    for plan in (pddl, english):
        result = verdict_of(dom, problem, plan)
        assert result.status is Status.REJECT
        assert [c.kind for c in result.critiques] and \
            {c.kind for c in result.critiques} == {"unmet_goal"}
    wrong = verdict_of(dom, problem, ["(drive hoist1 depot1 depot2)"])
    assert wrong.critiques[0].kind == "wrong_type"
    assert "`hoist1` is of type hoist, but parameter ?x of `drive` must be of type truck" in \
        wrong.critiques[0].message


@pytest.mark.skipif(not PLANBENCH.is_dir(), reason="PlanBench data missing")
def test_pddl_domain_with_packaged_templates_reads_english() -> None:
    dom = PDDLDomain()
    problem = dom.parse_problem({
        "domain": str(PLANBENCH / "instances/blocksworld/generated_domain.pddl"),
        "problem": str(PLANBENCH / "instances/blocksworld/generated_basic/instance-1.pddl"),
        "templates": "blocksworld"})
    assert "[STATEMENT]" in dom.render_prompt(problem)
    plan = ["unstack the blue block from on top of the orange block", "put down the blue block",
            "pick up the orange block", "stack the orange block on top of the blue block"]
    assert verdict_of(dom, problem, plan).status is Status.ACCEPT


@pytest.mark.parametrize("reply,why", [
    ('```json\n{"plan": ["(pick-up a)"]}\n```\n```json\n{"plan": ["(pick-up b)"]}\n```',
     "2 fenced blocks"),
    ('{"plan": ["(pick-up a)"]} or else {"plan": ["(pick-up b)"]}', '"plan" 2 times'),
    ('{"plan": ["(pick-up a)"], "plan": ["(pick-up b)"]}', '"plan" 2 times'),
    ("[PLAN]\n(pick-up a)\n[PLAN END]\nOr:\n[PLAN]\n(pick-up b)\n[PLAN END]", "2 [PLAN] blocks"),
    ("```\n(pick-up a)\n```\nor\n```\n(pick-up b)\n```", "2 fenced blocks"),
])
def test_a_reply_with_several_plans_is_a_hedge(reply: str, why: str) -> None:
    problem = BW.parse_problem({"blocks": 3, "seed": 0})
    candidate = BW.parse_candidate(problem, reply)
    assert candidate.answer is None and candidate.parse_error is not None
    assert why in candidate.parse_error and "hedge" in candidate.parse_error
    result = VERIFIER.check(problem, candidate)
    assert result.status is Status.REJECT and result.critiques[0].kind == "hedge"


def test_one_fenced_plan_in_prose_is_extracted() -> None:
    problem = BW.parse_problem({"blocks": 3, "seed": 0})
    plan = blocksworld_plan(problem)
    reply = ("Here is my plan:\n```pddl\n" + "\n".join(f"{i}. {s}" for i, s in
                                                        enumerate(plan, 1)) + "\n```\nDone.")
    candidate = BW.parse_candidate(problem, reply)
    assert candidate.answer == {"plan": [f"{i}. {s}" for i, s in enumerate(plan, 1)]}
    assert VERIFIER.check(problem, candidate).status is Status.ACCEPT


def test_validate_is_vals_format_unless_lenient_and_unknown_exits_3(tmp_path: Path) -> None:
    domain, problem = DATA / "miconic-domain.pddl", DATA / "miconic-problem.pddl"
    plan = tmp_path / "plan"
    plan.write_text("1. (board f0 p0)\n2. (up f0 f1)\n3. (depart f1 p0)\n")
    strict = cli("validate", str(domain), str(problem), str(plan))
    assert strict.returncode == 1 and "Bad plan description!" in strict.stdout
    assert "is not in VAL's plan format" in strict.stdout
    lenient = cli("validate", "--lenient", str(domain), str(problem), str(plan))
    assert lenient.returncode == 0 and "Plan valid" in lenient.stdout
    plan.write_text("1: (board f0 p0)\n1: (up f0 f1)\n2: (depart f1 p0)\n")
    unknown = cli("validate", str(domain), str(problem), str(plan))
    assert unknown.returncode == 3, unknown.stdout
    line = next(x for x in unknown.stdout.splitlines() if x.startswith("Plan validity unknown"))
    assert len(line) > 80 and line.endswith("does not implement")  # piped: never wrapped
    as_json = json.loads(cli("validate", "--json", str(domain), str(problem), str(plan)).stdout)
    assert as_json["status"] == "unknown" and as_json["valid"] is None
    plan.write_text("1: (board f0 p0)\n2: (up f0 f1)\n0: (depart f1 p0)\n")
    bad = cli("validate", "-v", str(domain), str(problem), str(plan))
    assert bad.returncode == 1
    assert "(depart f1 p0) has an unsatisfied precondition at time 0" in bad.stdout
    assert "Checking next happening (time 0)\nPlan failed because of unsatisfied " \
           "precondition in:\n(depart f1 p0)" in bad.stdout
