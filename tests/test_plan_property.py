"""Property tests: the validator against an independent blocksworld simulator, and parsing."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_modulo.domains.planning import BlocksworldDomain, blocksworld_plan, packaged_domain
from llm_modulo.verifiers.pddl.validator import cached_task, validate

BW = BlocksworldDomain()


def reference(init: frozenset[tuple[str, ...]], goal: list[tuple[str, str]],
              plan: list[tuple[str, ...]]) -> tuple[int | None, bool]:
    """(index of the first inapplicable step or None, goal reached), written from the rules."""
    on = {a[1]: a[2] for a in init if a[0] == "on"}
    table = {a[1] for a in init if a[0] == "ontable"}
    held = next((a[1] for a in init if a[0] == "holding"), None)

    def clear(b: str) -> bool:
        return b != held and b not in on.values()

    for i, (name, *args) in enumerate(plan, 1):
        x = args[0]
        if name == "pick-up":
            if held is not None or x not in table or not clear(x):
                return i, False
            table.discard(x)
            held = x
        elif name == "put-down":
            if held != x:
                return i, False
            held = None
            table.add(x)
        elif name == "unstack":
            if held is not None or on.get(x) != args[1] or not clear(x):
                return i, False
            del on[x]
            held = x
        else:  # stack
            if held != x or not clear(args[1]):
                return i, False
            on[x] = args[1]
            held = None
    return None, all(on.get(a) == b for a, b in goal)


@settings(max_examples=150, deadline=None)
@given(blocks=st.integers(2, 6), seed=st.integers(0, 10_000), data=st.data())
def test_agrees_with_an_independent_simulator(blocks: int, seed: int, data: st.DataObject) -> None:
    problem = BW.parse_problem({"blocks": blocks, "seed": seed})
    task = cached_task(packaged_domain("blocksworld"), problem.payload["problem"])
    names = [chr(97 + i) for i in range(blocks)]
    block = st.sampled_from(names)
    step = st.one_of(st.tuples(st.sampled_from(["pick-up", "put-down"]), block),
                     st.tuples(st.sampled_from(["stack", "unstack"]), block, block))
    prefix = blocksworld_plan(problem)[: data.draw(st.integers(0, 12))]
    plan = [tuple(s.strip("()").split()) for s in prefix]
    plan += data.draw(st.lists(step, max_size=8))
    goal = [(p.args[0], p.args[1]) for p in task.problem.goal.parts]  # type: ignore[attr-defined]
    first_bad, reached = reference(task.init, goal, plan)
    report = validate(task, ["(" + " ".join(s) + ")" for s in plan], all_errors=False)
    if first_bad is not None:
        assert report.failure == "unmet_precondition"
        issue = report.result.issues[0]
        assert issue.step is not None and issue.step.index == first_bad
    else:
        assert report.valid is reached
        assert report.failure == (None if reached else "unmet_goal")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_verdict_never_an_exception(text: str) -> None:
    problem = BW.parse_problem({"blocks": 3, "seed": 0})
    task = cached_task(packaged_domain("blocksworld"), problem.payload["problem"])
    from llm_modulo.domains.planning import packaged_templates

    report = validate(task, text, packaged_templates("blocksworld"))
    assert isinstance(report.valid, bool)
    if report.valid:  # only an empty plan can be valid here, and this goal is never initial
        raise AssertionError(f"accepted {text!r}")


FEATURES = Path(__file__).parent / "data" / "pddl"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_pddl_is_a_pddl_error_never_a_crash(data: st.DataObject) -> None:
    from llm_modulo.verifiers.pddl.parse import parse_domain, parse_problem
    from llm_modulo.verifiers.pddl.sexpr import PDDLError

    stem = data.draw(st.sampled_from(["features", "costs"]))
    domain = (FEATURES / f"{stem}-domain.pddl").read_text()
    problem = (FEATURES / f"{stem}-problem.pddl").read_text()
    which = data.draw(st.booleans())
    text = domain if which else problem
    tokens = text.split()
    i = data.draw(st.integers(0, len(tokens) - 1))
    j = data.draw(st.integers(i, min(len(tokens), i + 4)))
    junk = data.draw(st.sampled_from(["", "(", ")", "()", "-", "?x", "(either)", "(and",
                                      ":effect", "(not)", "(forall (?z) (p))", "((", "(()",
                                      "(= (f) 1)", "(increase (total-cost) x)", "(when ())",
                                      "- (either room)", "(:functions (f))", ":parameters",
                                      "(())", "(= (() a) 1)", "(length ?a ?b)", "1.5"]))
    damaged = " ".join([*tokens[:i], junk, *tokens[j:]])
    try:
        if which:
            parse_problem(problem, parse_domain(damaged))
        else:
            parse_problem(damaged, parse_domain(domain))
    except PDDLError as exc:
        assert "\n" not in str(exc)
