"""A tiny stepwise domain, its verifiers and a tiny tree-building strategy, for the corpus's
search-tree tests (importable by worker processes).

``spell``: the answer is a word spelled one letter per step (``{"word": "abc"}``). The prefix
check ACCEPTs a prefix of the problem's word (``complete`` when it is the whole word),
REJECTs a prefix that no spelling of the word starts with, and is UNKNOWN on a ``?`` step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from llm_modulo.domain import Domain
from llm_modulo.stepwise import StepParse, StepwiseDomain
from llm_modulo.strategy import SearchContext, Strategy
from llm_modulo.types import (
    Attempt,
    Candidate,
    Critique,
    Message,
    Problem,
    SearchNode,
    SearchTree,
    Step,
)
from llm_modulo.verifier import CheckResult, Verifier


class Word(BaseModel):
    word: str


class SpellDomain(Domain, StepwiseDomain):
    name: ClassVar[str] = "spell"
    verifier: ClassVar[str] = "spell"
    answer_model: ClassVar[type[BaseModel]] = Word

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        word = raw if isinstance(raw, str) else str(raw["word"])
        return Problem(domain=self.name, payload={"word": word})

    def system_prompt(self) -> str | None:
        return "You spell words."

    def render_prompt(self, problem: Problem) -> str:
        return f"Spell a {len(problem.payload['word'])}-letter word, one letter per line."

    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        done = "".join(s.text for s in prefix)
        return [*self.initial_messages(problem),
                Message(role="user", content=f"So far: {done or '(nothing)'}")]

    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        steps = []
        for line in completion.splitlines():
            line = line.strip()
            if len(line) != 1:
                break
            steps.append(Step(text=line, data={"letter": line}))
        return StepParse(tuple(steps), None if steps else "no letter")

    def prefix_candidate(self, problem: Problem, steps: Sequence[Step]) -> Candidate:
        word = "".join(str(s.data.get("letter", "")) for s in steps)
        return Candidate(raw=word, answer={"word": word})

    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        return json.dumps({"word": "".join(s.text for s in steps)})

    def max_steps(self, problem: Problem) -> int:
        return len(problem.payload["word"]) + 2


class SpellVerifier(Verifier):
    name: ClassVar[str] = "spell"
    version: ClassVar[str] = "1.0"
    critique_kinds: ClassVar[dict[str, str]] = {"letter": "a letter no spelling has there"}

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        word = (candidate.answer or {}).get("word")
        if word == problem.payload["word"]:
            return CheckResult.accept()
        return CheckResult.reject(Critique(kind="letter", message="not the word asked for"))

    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        target = problem.payload["word"]
        prefix = str((candidate.answer or {}).get("word", ""))
        if "?" in prefix:
            return CheckResult.unknown("a letter could not be read")
        for i, letter in enumerate(prefix):
            if i >= len(target) or target[i] != letter:
                return CheckResult.reject(Critique(
                    kind="letter", message=f"step {i + 1} ({letter}): no spelling has it there",
                    location=f"step {i + 1}"))
        return CheckResult.accept(complete=True) if prefix == target else CheckResult.accept()


class UnsoundSpellVerifier(SpellVerifier):
    name: ClassVar[str] = "spell_unsound"
    sound: ClassVar[bool] = False


class DoubtingSpellVerifier(SpellVerifier):
    """Today's verifier in a --reverify test: it cannot decide a prefix holding an ``x``."""

    version: ClassVar[str] = "1.1"

    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        if "x" in str((candidate.answer or {}).get("word", "")):
            return CheckResult.unknown("x is undecided today")
        return super().check_prefix(problem, candidate)


class FakeRegistry:
    """What :class:`~llm_modulo.corpus.formats.Reverifier` asks of a registry."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def domain_and_verifier(self, name: str) -> tuple[Domain, Verifier]:
        if name != "spell":
            raise KeyError(name)
        return SpellDomain(), self.verifier


class TinyTree(Strategy):
    """One request for the first steps; every completion read into a chain under the root;
    a complete chain judged as a whole answer (round 1). Fills ``ctx.tree``."""

    name: ClassVar[str] = "tiny_tree"
    stepwise: ClassVar[bool] = True

    async def search(self, ctx: SearchContext) -> Attempt | None:
        stepwise = ctx.stepwise
        prompt = stepwise.step_messages(ctx.problem, [])
        ctx.tree = SearchTree(strategy=self.name, prompt=prompt, nodes=[SearchNode(id=0)])
        nodes = ctx.tree.nodes  # (the model holds a copy of the list it was given)
        params = ctx.params()
        generation = await ctx.generate(prompt, params)
        extensions = await ctx.extend([((), c.text) for c in generation.choices])
        complete: list[tuple[int, list[Step]]] = []
        for ext in extensions:
            parent = 0
            for depth, (step, verdict) in enumerate(zip(ext.steps, ext.verdicts,
                                                        strict=True), start=1):
                node = SearchNode(id=len(nodes), parent=parent, depth=depth, step=step,
                                  completion=ext.completion, verdict=verdict,
                                  terminal=verdict.evidence.get("complete") is True)
                nodes.append(node)
                parent = node.id
            if ext.complete:
                complete.append((parent, list(ext.steps)))
        if not complete:
            return None
        made = await ctx.judge_steps(1, [steps for _, steps in complete], params)
        for (node_id, _), attempt in zip(complete, made, strict=True):
            nodes[node_id] = nodes[node_id].model_copy(
                update={"attempt": (attempt.round, attempt.sample)})
        return next((a for a in made if a.verdict.accepted), None)


class BrokenTree(TinyTree):
    """Builds a tree the corpus cannot store (two nodes with one id); solves nothing."""

    name: ClassVar[str] = "broken_tree"

    async def search(self, ctx: SearchContext) -> Attempt | None:
        await super().search(ctx)
        assert ctx.tree is not None
        ctx.tree.nodes.append(ctx.tree.nodes[-1])
        return None
