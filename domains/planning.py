"""Classical planning domains: PlanBench's blocksworld, mystery blocksworld,
logistics (plain and both obfuscated forms) and depots, and ``pddl`` for any
user-supplied domain and problem.

Problems: a PDDL problem (text or a file path), or JSON ``{"problem": ...}``;
blocksworld and mystery blocksworld also take ``{"blocks": n, "seed": s}`` (a
seeded random start and goal). ``pddl`` takes ``{"domain": ..., "problem": ...,
"templates": ...}`` (texts or file paths; templates optional, a PlanBench-style
YAML config). Prompts follow PlanBench: the domain described in English, the
initial state and the goal. Plans may be PDDL actions or English steps.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from collections.abc import Collection, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from llm_modulo.bounds import file_reads_allowed, read_text_capped
from llm_modulo.domain import Domain
from llm_modulo.domains.plan_steps import assemble_plan, make_step, prefix_answer, read_steps
from llm_modulo.errors import ProblemError
from llm_modulo.jsonanswer import HEDGE
from llm_modulo.stepwise import NoStepLeft, StepParse, StepwiseDomain
from llm_modulo.structured import Grammar, StructuredOutput
from llm_modulo.types import Candidate, Message, Problem, Step
from llm_modulo.verifiers.pddl.formula import And, AtomF, Formula
from llm_modulo.verifiers.pddl.nl import Templates
from llm_modulo.verifiers.pddl.packaged import (
    has_templates,
    packaged_domain,
    packaged_templates,
)
from llm_modulo.verifiers.pddl.sexpr import PDDLError, UnsupportedPDDL
from llm_modulo.verifiers.pddl.validator import cached_task
from llm_modulo.verifiers.pddl.verifier import templates_of

MAX_PLAN_STEPS = 1000
MAX_FILE_CHARS = 2_000_000


class PlanAnswer(BaseModel):
    plan: list[str] = Field(description="The plan's actions in order, one action per item",
                            max_length=MAX_PLAN_STEPS)


def _text_or_file(value: Any, what: str) -> str:
    """PDDL text as given, or read from the file it names."""
    if not isinstance(value, str) or not value.strip():
        raise ProblemError(f"{what} must be PDDL text or a file path")
    if "(" in value:
        return value
    if not file_reads_allowed():  # before looking: whether a file exists is not told either
        raise ProblemError(f"{what} must be PDDL text here (file paths are not read)")
    path = Path(value.strip())
    if not os.path.exists(path):  # never raises (a name too long, a NUL byte: False)
        raise ProblemError(f"{what} is neither PDDL text (it has no parenthesis) nor a readable "
                           f"file: {str(path)[:200]}")
    text = read_text_capped(path, f"{what} file", limit=4 * MAX_FILE_CHARS, encoding="utf-8-sig")
    if len(text) > MAX_FILE_CHARS:
        raise ProblemError(f"{what} file {path} is larger than {MAX_FILE_CHARS} characters")
    return text


class PlanningDomain(Domain, StepwiseDomain):
    """Base of the planning domains: one verifier, PlanBench-style prompts, stepwise plans
    (a step is one ground action, see :mod:`llm_modulo.domains.plan_steps`)."""

    verifier = "pddl_plan"
    answer_model = PlanAnswer
    #: packaged PDDL domain and templates (PlanBench); None for ``pddl``
    packaged: ClassVar[str | None] = None
    #: the search depth cap is ``steps_per_object * objects + steps_extra`` (at most
    #: MAX_PLAN_STEPS); None: MAX_PLAN_STEPS, the longest plan an answer may give
    steps_per_object: ClassVar[int | None] = None
    steps_extra: ClassVar[int] = 0

    # -- problems ---------------------------------------------------------------------

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        pid: str | None = None
        if isinstance(raw, dict):
            pid = None if raw.get("id") is None else str(raw["id"])
            payload = self.payload_from_dict(raw)
        elif isinstance(raw, str):
            payload = self.payload_from_dict({"problem": raw})
        else:
            raise ProblemError(f"{self.name} problem must be PDDL text, a file or a JSON object")
        try:
            cached_task(payload["domain"], payload["problem"])
            templates_of(payload)
        except UnsupportedPDDL:
            pass  # a valid problem the validator cannot decide: its verdicts are UNKNOWN
        except PDDLError as exc:
            raise ProblemError(f"{self.name}: {exc}") from None
        return Problem(domain=self.name, payload=payload, id=pid)

    def payload_from_dict(self, raw: dict[str, Any]) -> dict[str, Any]:
        if "problem" not in raw:
            raise ProblemError(f'{self.name} problem needs a "problem" field: PDDL text or a '
                               f'file path')
        assert self.packaged is not None
        return {"domain": packaged_domain(self.packaged),
                "problem": _text_or_file(raw["problem"], "problem"),
                "templates": self.packaged}

    # -- prompts ----------------------------------------------------------------------

    def system_prompt(self) -> str:
        return "You are a careful planner. You answer with a single JSON object and nothing else."

    def render_prompt(self, problem: Problem) -> str:
        english = _english(problem)
        question = ("What is the plan to achieve my goal?" if english else
                    "What is the plan to achieve the goal?")
        return (self._statement(problem) + question
                + " Just give the actions in the plan.\n" + self.answer_instruction(problem))

    def _statement(self, problem: Problem) -> str:
        """The problem as the prompts state it: PlanBench's English description, initial
        state and goal, or the PDDL domain and problem (ends with a blank line)."""
        payload: dict[str, Any] = problem.payload
        templates = templates_of(payload)
        if templates is None or not templates.intro:
            domain, problem_text = str(payload["domain"]), str(payload["problem"])
            return ("Here is a planning domain in PDDL:\n\n" + domain.strip()
                    + "\n\nand a problem in that domain:\n\n" + problem_text.strip()
                    + "\n\n")
        task = cached_task(payload["domain"], payload["problem"])
        init = templates.facts_text(task.init)
        goal = _goal_text(task.problem.goal, templates)
        return (f"{templates.intro.rstrip()}\n\n[STATEMENT]\n"
                f"As initial conditions I have that, {init}.\n"
                f"My goal is to have that {goal}.\n\n")

    def answer_instruction(self, problem: Problem) -> str:
        return ('Answer with only a JSON object {"plan": [...]} listing the actions in order, '
                f"one per item, each {_action_forms(problem)}.")

    # -- stepwise ---------------------------------------------------------------------

    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        """The problem as the one-shot prompt states it, the plan so far, and a request for
        the next action(s), one per line."""
        if prefix:
            so_far = "My plan so far is:\n" + "\n".join(s.text for s in prefix) + "\n\n"
        else:
            so_far = "My plan has no actions yet.\n\n"
        ask = (f"Write the next action of the plan, {_action_forms(problem)}. Write one action "
               "per line and nothing else.")
        return [Message(role="system", content="You are a careful planner. You answer with "
                        "plan actions, one per line, and nothing else."),
                Message(role="user", content=self._statement(problem) + so_far + ask)]

    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        try:
            task = cached_task(problem.payload["domain"], problem.payload["problem"])
            templates = templates_of(problem.payload)
        except PDDLError as exc:
            return StepParse(error=f"the planning problem cannot be used: {exc}")
        return read_steps(task, templates, completion, self.max_steps(problem) - len(prefix))

    def prefix_candidate(self, problem: Problem, steps: Sequence[Step]) -> Candidate:
        answer = prefix_answer(steps)
        return Candidate(raw="\n".join(answer["plan"]), answer=answer)

    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        return assemble_plan(steps)

    def max_steps(self, problem: Problem) -> int:
        """``steps_per_object`` times the problem's objects plus ``steps_extra`` (a bound on
        the length of a shortest plan, when the class has one), else MAX_PLAN_STEPS."""
        if self.steps_per_object is None:
            return MAX_PLAN_STEPS
        try:
            task = cached_task(problem.payload["domain"], problem.payload["problem"])
        except PDDLError:
            return MAX_PLAN_STEPS
        bound = self.steps_per_object * len(task.object_types) + self.steps_extra
        return min(MAX_PLAN_STEPS, bound)

    def step_structured(self, problem: Problem, prefix: Sequence[Step], steps: int,
                        exclude: Collection[str] = frozenset()) -> StructuredOutput | None:
        """Well-formed, well-typed action lines (one, or one per line for ``steps`` > 1), as
        the whole-plan grammar admits them; only shapes sampling: every step is still read
        and checked. One step leaves out the actions in ``exclude`` when the problem has at
        most :data:`MAX_GROUND_ACTIONS` well-typed ground actions (then they are listed)."""
        templates_json = json.dumps(problem.payload.get("templates"), sort_keys=True)
        if steps <= 1 and exclude:
            ground = ground_actions(problem.payload["domain"], problem.payload["problem"],
                                    templates_json)
            if ground is not None:
                left = [a for a in ground if a not in exclude]
                if not left:
                    raise NoStepLeft("every well-typed action was tried after this prefix")
                return Grammar(ebnf="root ::= " + " | ".join(_ebnf(a) for a in left) + "\n")
        grammar = step_grammar(problem.payload["domain"], problem.payload["problem"],
                               templates_json, steps > 1)
        return None if grammar is None else Grammar(ebnf=grammar)

    def step_stop(self, problem: Problem) -> list[str] | None:
        return ["\n"]

    # -- structured output and extraction ---------------------------------------------

    def structured_output(self, problem: Problem) -> StructuredOutput:
        """A grammar admitting only ``{"plan":[...]}`` of well-formed, well-typed actions.

        A format critic moved into decoding: every sampled step names a real action with the
        right number of objects of the right types, so the verifier judges the plan itself.
        """
        grammar = plan_grammar(problem.payload["domain"], problem.payload["problem"],
                               json.dumps(problem.payload.get("templates"), sort_keys=True))
        if grammar is None:
            return super().structured_output(problem)  # type: ignore[return-value]
        return Grammar(ebnf=grammar)

    # -- extraction -------------------------------------------------------------------

    def parse_candidate(self, problem: Problem, completion: str) -> Candidate:
        """A reply that gives more than one plan is a hedge, refused before any is read.

        More than one Markdown fenced block, more than one ``"plan":`` key (two JSON
        answers, or one object with the key twice) or more than one ``[PLAN]`` block: the
        verifier REJECTs it with this critique, never judges the first or the last.
        """
        hedge = plan_hedge(completion[:MAX_HEDGE_SCAN])
        if hedge is not None:
            return Candidate(raw=completion, parse_error=hedge)
        return super().parse_candidate(problem, completion)

    def parse_fallback(self, problem: Problem, completion: str) -> Candidate:
        """Free text: the lines of its one fenced block, else those between PlanBench's
        [PLAN] and [PLAN END], else every line (then read leniently, see plantext)."""
        text = completion
        fences = [i for i, ln in enumerate(text.splitlines()) if _FENCE_LINE.match(ln)]
        low = text.lower()
        start = low.find("[plan]")
        if len(fences) >= 2:
            text = "\n".join(text.splitlines()[fences[0] + 1: fences[1]])
        elif start >= 0:
            end = low.find("[plan end]", start)
            text = text[start + len("[plan]"): end if end >= 0 else None]
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines:
            return Candidate(raw=completion, parse_error="no plan found in the reply")
        if len(lines) > MAX_PLAN_STEPS:
            # never validate a cut-off prefix: the dropped steps could fail
            return Candidate(raw=completion, parse_error=f"the plan has {len(lines)} lines, more "
                                                         f"than {MAX_PLAN_STEPS} steps")
        return Candidate(raw=completion, answer={"plan": lines})


#: a Markdown fence line: ``` with an optional language word
_FENCE_LINE = re.compile(r"^\s*```\s*[\w+-]*\s*$")
_PLAN_KEY = re.compile(r'"plan"\s*:')
_PLAN_OPEN = re.compile(r"\[\s*plan\s*\]", re.IGNORECASE)
MAX_HEDGE_SCAN = 2_000_000


def plan_hedge(text: str) -> str | None:
    """Why a reply gives more than one plan (a hedge), or None."""
    fences = sum(1 for ln in text.splitlines() if _FENCE_LINE.match(ln))
    if fences > 2:
        return (f"{HEDGE}it has {(fences + 1) // 2} fenced blocks; more than one answer is a "
                f"hedge; give exactly one plan")
    keys = len(_PLAN_KEY.findall(text))
    if keys > 1:
        return (f'{HEDGE}it gives "plan" {keys} times; more than one answer is a hedge; give '
                f"exactly one plan")
    blocks = len(_PLAN_OPEN.findall(text))
    if blocks > 1:
        return (f"{HEDGE}it has {blocks} [PLAN] blocks; more than one answer is a hedge; give "
                f"exactly one plan")
    return None


_EBNF_UNSAFE = re.compile(r'["\\\x00-\x1f]')


def _ebnf(text: str) -> str:
    return '"' + text + '"'


@lru_cache(maxsize=256)
def plan_grammar(domain: str, problem: str, templates_json: str) -> str | None:
    """xgrammar EBNF of a plan answer for this problem (None if a name cannot be expressed)."""
    rules = action_rules(domain, problem, templates_json)
    if rules is None:
        return None
    head = ['root ::= "{\\"plan\\":[" (step ("," step)*)? "]}"',
            'step ::= "\\"" act "\\""']
    return "\n".join(head + rules) + "\n"


#: The most ground actions a step constraint lists one by one (to leave tried ones out).
MAX_GROUND_ACTIONS = 2000


@lru_cache(maxsize=64)
def ground_actions(domain: str, problem: str, templates_json: str) -> tuple[str, ...] | None:
    """Every well-typed ground action of the problem as the prompts write a step, or None when
    there are more than :data:`MAX_GROUND_ACTIONS` or one cannot go in a grammar."""
    task = cached_task(domain, problem)
    spec = json.loads(templates_json)
    templates = templates_of({"templates": spec}) if spec is not None else None
    out: list[str] = []
    for name, action in sorted(task.domain.actions.items()):
        pools = [task.objects_of(types) for _, types in action.params]
        count = 1
        for pool in pools:
            count *= len(pool)
        if len(out) + count > MAX_GROUND_ACTIONS:
            return None
        for args in itertools.product(*pools):
            text = make_step(name, list(args), templates).text
            if _EBNF_UNSAFE.search(text):
                return None
            out.append(text)
    return tuple(dict.fromkeys(out)) or None


@lru_cache(maxsize=256)
def step_grammar(domain: str, problem: str, templates_json: str, chain: bool) -> str | None:
    """xgrammar EBNF of one action line (``chain``: action lines, one per line)."""
    rules = action_rules(domain, problem, templates_json)
    if rules is None:
        return None
    root = 'root ::= act ("\\n" act)*' if chain else "root ::= act"
    return "\n".join([root, *rules]) + "\n"


@lru_cache(maxsize=256)
def action_rules(domain: str, problem: str, templates_json: str) -> list[str] | None:
    """The EBNF rules of one well-formed, well-typed action (``act ::= ...`` and its object
    rules), as the prompts write actions; None if a name cannot be expressed."""
    task = cached_task(domain, problem)
    spec = json.loads(templates_json)
    templates = templates_of({"templates": spec}) if spec is not None else None
    english = templates is not None and bool(templates.intro)
    rules: dict[frozenset[str], str] = {}
    lines: list[str] = []
    alternatives: list[str] = []
    for name, action in sorted(task.domain.actions.items()):
        slots: list[str] = []
        for _, types in action.params:
            if types not in rules:
                objects = task.objects_of(types)
                if not objects:
                    break
                shown = [templates.object_name(o) if templates and english else o
                         for o in objects]
                if any(_EBNF_UNSAFE.search(x) for x in shown):
                    return None
                rules[types] = f"o{len(rules)}"
                lines.append(f"{rules[types]} ::= " + " | ".join(_ebnf(x) for x in shown))
            slots.append(rules[types])
        else:
            template = templates.actions.get(name) if templates and english else None
            if template is not None and template.count("{}") == len(slots):
                pieces = template.split("{}")
                parts = [_ebnf(pieces[0])] if pieces[0] else []
                for slot, piece in zip(slots, pieces[1:], strict=True):
                    parts += [slot, _ebnf(piece)] if piece else [slot]
            else:
                parts = [_ebnf("(" + name)]
                for slot in slots:
                    parts += [_ebnf(" "), slot]
                parts.append(_ebnf(")"))
            if _EBNF_UNSAFE.search(name):
                return None
            alternatives.append(" ".join(parts))
    if not alternatives:
        return None
    return ["act ::= " + " | ".join(alternatives), *lines]


def _english(problem: Problem) -> bool:
    """Whether prompts describe ``problem`` in English (PlanBench templates with an intro)."""
    templates = templates_of(problem.payload)
    return templates is not None and bool(templates.intro)


def _action_forms(problem: Problem) -> str:
    templates = templates_of(problem.payload)
    if templates is not None and templates.intro:
        forms = "; ".join(f'"{t.replace("{}", "<object>")}"' for t in templates.actions.values())
        return f"written as one of: {forms}"
    return 'in PDDL form "(action-name object ...)"'


def _goal_text(goal: Formula, templates: Templates) -> str:
    parts = goal.parts if isinstance(goal, And) else (goal,)
    atoms = [(p.pred, *p.args) for p in parts if isinstance(p, AtomF)]
    text = templates.facts_text(atoms) if len(atoms) == len(parts) else ""
    return text or goal.text({})


# -- blocksworld and its generator ------------------------------------------------------

#: mystery blocksworld's names for blocksworld's predicates and actions
MYSTERY = {"ontable": "planet", "clear": "province", "handempty": "harmony", "on": "craves",
           "holding": "pain"}


def random_towers(blocks: list[str], rng: random.Random) -> list[list[str]]:
    """A random arrangement of ``blocks`` into towers (bottom first)."""
    order = blocks[:]
    rng.shuffle(order)
    towers: list[list[str]] = []
    for b in order:
        if towers and rng.random() < 0.6:
            rng.choice(towers).append(b)
        else:
            towers.append([b])
    return towers


def blocksworld_problem(n: int, seed: int, *, mystery: bool = False) -> str:
    """PDDL of a random blocksworld problem with ``n`` blocks, deterministic for ``seed``.

    The start is random towers; the goal is the ``on`` facts of other random towers,
    never already true at the start.
    """
    if not 1 <= n <= 26:
        raise ProblemError("blocksworld problems have 1 to 26 blocks")
    rng = random.Random(f"blocksworld-{n}-{seed}")
    blocks = [chr(ord("a") + i) for i in range(n)]
    start = random_towers(blocks, rng)
    on_start = {(t[i + 1], t[i]) for t in start for i in range(len(t) - 1)}
    for _ in range(1000):
        goal_towers = random_towers(blocks, rng)
        goal = sorted((t[i + 1], t[i]) for t in goal_towers for i in range(len(t) - 1))
        if goal and not set(goal) <= on_start:
            break
    else:
        raise ProblemError(f"no blocksworld goal found for {n} blocks (use at least 2)")
    name = (lambda p: MYSTERY[p]) if mystery else (lambda p: p)
    init = [f"({name('handempty')})"]
    for t in start:
        init.append(f"({name('ontable')} {t[0]})")
        init.extend(f"({name('on')} {t[i + 1]} {t[i]})" for i in range(len(t) - 1))
        init.append(f"({name('clear')} {t[-1]})")
    goals = " ".join(f"({name('on')} {a} {b})" for a, b in goal)
    domain = "mystery-4ops" if mystery else "blocksworld-4ops"
    return (f"(define (problem BW-rand-{n}-seed-{seed})\n(:domain {domain})\n"
            f"(:objects {' '.join(blocks)})\n(:init\n" + "\n".join(init) + "\n)\n"
            f"(:goal (and {goals}))\n)\n")


class BlocksworldDomain(PlanningDomain):
    name = "blocksworld"
    version = "1.0"
    packaged = "blocksworld"
    description = "PlanBench blocksworld: stack blocks into the goal towers (4 operators)."
    mystery: ClassVar[bool] = False
    #: a shortest plan has at most 4n + 2 steps for n blocks: put down what is held, put
    #: every stacked block on the table (2 each), build the goal towers (2 each), pick one up
    steps_per_object = 4
    steps_extra = 2

    def payload_from_dict(self, raw: dict[str, Any]) -> dict[str, Any]:
        if "blocks" in raw and "problem" not in raw:
            n, seed = raw.get("blocks"), raw.get("seed", 0)
            if isinstance(n, bool) or not isinstance(n, int) or isinstance(seed, bool) \
                    or not isinstance(seed, int):
                raise ProblemError('"blocks" and "seed" must be integers')
            raw = {"problem": blocksworld_problem(n, seed, mystery=self.mystery)}
        return super().payload_from_dict(raw)

    def generate_problems(self, count: int, seed: int = 0, *, blocks: int = 4) -> list[Problem]:
        """``count`` random problems with ``blocks`` blocks, deterministic for ``seed``."""
        return [self.parse_problem({"blocks": blocks, "seed": seed * 1_000_003 + i})
                for i in range(count)]


class MysteryBlocksworldDomain(BlocksworldDomain):
    name = "mystery_blocksworld"
    version = "1.0"
    packaged = "mystery_blocksworld"
    description = "PlanBench mystery blocksworld: blocksworld with obfuscated names."
    mystery = True


class LogisticsDomain(PlanningDomain):
    name = "logistics"
    version = "1.0"
    packaged = "logistics"
    description = ("PlanBench logistics: move packages by truck within and by airplane "
                   "between cities.")
    #: a shortest plan has at most 12 steps per package (truck to it, load, truck to the
    #: airport, unload, plane to it, load, fly, unload, truck to it, load, drive, unload)
    #: plus one per vehicle: 12 per object bounds it
    steps_per_object = 12


class DepotsDomain(PlanningDomain):
    name = "depots"
    version = "1.0"
    packaged = "depots"
    description = "PlanBench depots: hoists and trucks move crates between depots and distributors."


class ObfuscatedDeceptiveLogisticsDomain(PlanningDomain):
    name = "obfuscated_deceptive_logistics"
    version = "1.0"
    packaged = "obfuscated_deceptive_logistics"
    description = ("PlanBench logistics with misleading words for its actions and predicates "
                   "(`clip`, `next`) and objects named object_N.")
    steps_per_object = 12  # logistics renamed: the same bound


class ObfuscatedRandomizedLogisticsDomain(PlanningDomain):
    name = "obfuscated_randomized_logistics"
    version = "1.0"
    packaged = "obfuscated_randomized_logistics"
    description = ("PlanBench logistics with random strings for its actions and predicates "
                   "and objects named object_N.")
    steps_per_object = 12  # logistics renamed: the same bound


class PDDLDomain(PlanningDomain):
    name = "pddl"
    version = "1.0"
    description = ("Any PDDL domain and problem (STRIPS, typing, ADL preconditions, "
                   "conditional effects).")

    def payload_from_dict(self, raw: dict[str, Any]) -> dict[str, Any]:
        if "domain" not in raw or "problem" not in raw:
            raise ProblemError('pddl problem needs "domain" and "problem" fields (PDDL text or '
                               'file paths), e.g. {"domain": "d.pddl", "problem": "p.pddl"}')
        templates: Any = raw.get("templates")
        if isinstance(templates, str):
            templates = (packaged_templates(templates).to_config()
                         if has_templates(templates)
                         else Templates.load(Path(templates)).to_config())
        elif templates is not None:
            templates = Templates.from_config(templates, "templates").to_config()
        return {"domain": _text_or_file(raw["domain"], "domain"),
                "problem": _text_or_file(raw["problem"], "problem"), "templates": templates}

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        if isinstance(raw, str):
            raise ProblemError('pddl problem must be JSON: {"domain": "d.pddl", "problem": '
                               '"p.pddl"}')
        return super().parse_problem(raw)


_MYSTERY_ACTIONS = {"pick-up": "attack", "put-down": "succumb", "stack": "overcome",
                    "unstack": "feast"}


def blocksworld_plan(problem: Problem) -> list[str]:
    """A (not optimal) plan for a blocksworld or mystery blocksworld problem with ``on`` goals.

    Everything is put on the table, then the goal towers are built bottom-up. For
    tests, demos and scripted servers; it is no planner for other goals.
    """
    task = cached_task(problem.payload["domain"], problem.payload["problem"])
    mystery = problem.payload.get("templates") == "mystery_blocksworld"
    names = {v: k for k, v in MYSTERY.items()} if mystery else {k: k for k in MYSTERY}
    on = {a[1]: a[2] for a in task.init if names.get(a[0]) == "on"}
    holding = [a[1] for a in task.init if names.get(a[0]) == "holding"]
    steps: list[tuple[str, ...]] = [("put-down", b) for b in holding]
    while on:
        below = set(on.values())
        top = next(b for b in sorted(on) if b not in below)
        steps += [("unstack", top, on.pop(top)), ("put-down", top)]
    goal = task.problem.goal
    parts = goal.parts if isinstance(goal, And) else (goal,)
    want = {p.args[0]: p.args[1] for p in parts if isinstance(p, AtomF)
            and names.get(p.pred) == "on"}

    def depth(b: str) -> int:
        return 0 if b not in want else 1 + depth(want[b])

    for b in sorted(want, key=depth):
        steps += [("pick-up", b), ("stack", b, want[b])]
    rename = _MYSTERY_ACTIONS if mystery else {k: k for k in _MYSTERY_ACTIONS}
    return ["(" + " ".join((rename[s[0]], *s[1:])) + ")" for s in steps]
