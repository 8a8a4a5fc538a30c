"""A toy stepwise domain, its sound verifier and scripted policies, for the search
strategies' tests and benchmarks (module level, so worker processes can unpickle them).

The domain: reach ``target`` by adding steps, each a whole number from 1 to ``max_step``,
in at most ``max_steps`` steps. An answer is ``{"steps": [4, 4, 4]}``; a step is written
``+4``. The prefix check is exact: a prefix is dead (REJECT) when a step is not allowed, the
sum overshoots, or the rest cannot be reached in the steps left; complete when the sum is the
target. Steps listed in the problem's ``unknown`` cannot be decided (UNKNOWN), to test how a
search treats an undecided prefix.

The policies answer like a model through :class:`llm_modulo.testing.FunctionGenerator`,
emulating what a server does with ``stop`` and ``max_tokens`` (a completion ends at the
first stop string and holds at most ``max_tokens`` words).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from llm_modulo import CheckResult, Critique, Domain, Problem, Verifier
from llm_modulo.generator import Completion, SamplingParams
from llm_modulo.stepwise import StepParse, StepwiseDomain
from llm_modulo.structured import StructuredOutput
from llm_modulo.testing import FunctionGenerator
from llm_modulo.types import Candidate, Message, Step

MAX_STEP_CHARS = 12


def toy_problem(target: int = 12, max_step: int = 5, max_steps: int = 4,
                unknown: Sequence[int] = ()) -> Problem:
    return Problem(domain="toysum", payload={"target": target, "max_step": max_step,
                                             "max_steps": max_steps, "unknown": list(unknown)})


class ToySumAnswer(BaseModel):
    steps: list[int]


class ToySumVerifier(Verifier):
    name = "toysum"
    version = "1"
    critique_kinds: ClassVar[Mapping[str, str]] = {
        "unparseable": "the answer could not be read",
        "step": "a step is not a whole number from 1 to max_step",
        "length": "more steps than allowed",
        "sum": "the steps do not add up to the target",
        "overshoot": "the steps so far add up to more than the target",
        "unreachable": "the target cannot be reached in the steps left",
        "undecided": "the prefix check cannot decide this step",
    }

    def check(self, problem: Problem, candidate: Candidate) -> CheckResult:
        steps = _steps(candidate)
        if steps is None:
            return CheckResult.reject(Critique(kind="unparseable", message="no steps read"))
        p = problem.payload
        for i, value in enumerate(steps, 1):
            if not 1 <= value <= p["max_step"]:
                return CheckResult.reject(Critique(
                    kind="step", message=f"step {i}: {value} is not an allowed step",
                    location=f"step {i}"))
        if len(steps) > p["max_steps"]:
            return CheckResult.reject(Critique(kind="length", message="too many steps"))
        if sum(steps) != p["target"]:
            return CheckResult.reject(Critique(kind="sum", message="the steps miss the target"))
        return CheckResult.accept()

    def check_prefix(self, problem: Problem, candidate: Candidate) -> CheckResult:
        steps = _steps(candidate)
        if steps is None:
            return CheckResult.unknown("no steps read")
        p = problem.payload
        total = 0
        for i, value in enumerate(steps, 1):
            if value in p["unknown"]:
                return CheckResult.unknown(f"step {i}: cannot decide {value}")
            if not 1 <= value <= p["max_step"]:
                return CheckResult.reject(Critique(
                    kind="step", message=f"step {i}: {value} is not an allowed step",
                    location=f"step {i}"))
            total += value
            if total > p["target"]:
                return CheckResult.reject(Critique(
                    kind="overshoot", message=f"step {i}: the sum passes the target",
                    location=f"step {i}"))
            if i > p["max_steps"]:
                return CheckResult.reject(Critique(kind="length", message="too many steps",
                                                   location=f"step {i}"))
        if total == p["target"]:
            return CheckResult.accept(complete=True)
        if p["target"] - total > p["max_step"] * (p["max_steps"] - len(steps)):
            return CheckResult.reject(Critique(
                kind="unreachable", message=f"step {len(steps)}: the target is out of reach",
                location=f"step {len(steps)}"))
        return CheckResult.accept()


def _steps(candidate: Candidate) -> list[int] | None:
    steps = (candidate.answer or {}).get("steps")
    if not isinstance(steps, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in steps):
        return None
    return steps


class ToySumDomain(Domain, StepwiseDomain):
    name = "toysum"
    verifier = "toysum"
    answer_model = ToySumAnswer

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        return toy_problem(int(raw)) if isinstance(raw, str) else toy_problem(**raw)

    def render_prompt(self, problem: Problem) -> str:
        return (f"{_task(problem)}\n"
                'Answer with only a JSON object like {"steps": [1, 2]}.')

    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        so_far = " ".join(s.text for s in prefix) or "(none)"
        return [Message(role="user", content=(
            f"{_task(problem)}\nSteps so far: {so_far}\n"
            "Write the next steps, one per line, like +3."))]

    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        steps: list[Step] = []
        for line in completion[:4096].splitlines():
            line = line.strip()
            if not line:
                continue
            if len(line) > MAX_STEP_CHARS or not line.startswith("+") or \
                    not line[1:].isdigit() or not line[1:].isascii():
                break
            value = int(line[1:])
            steps.append(Step(text=f"+{value}", data={"value": value}))
        return StepParse(tuple(steps), None if steps else "no step like +3 was read")

    def prefix_candidate(self, problem: Problem, steps: Sequence[Step]) -> Candidate:
        values = [s.data["value"] for s in steps]
        return Candidate(raw=" ".join(s.text for s in steps), answer={"steps": values})

    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        return json.dumps({"steps": [s.data["value"] for s in steps]})

    def max_steps(self, problem: Problem) -> int:
        return int(problem.payload["max_steps"])

    def step_stop(self, problem: Problem) -> list[str] | None:
        return ["\n"]


def _task(problem: Problem) -> str:
    p = problem.payload
    return (f"Reach {p['target']} by adding steps from 1 to {p['max_step']}, "
            f"at most {p['max_steps']} steps.")


# -- policies ---------------------------------------------------------------------------------

def read_task(messages: Sequence[Message]) -> tuple[int, int, int, list[int] | None]:
    """target, max_step, max_steps and (in a step prompt) the prefix's values."""
    first = messages[0].content.split("\n")
    words = first[0].split()
    target, max_step, max_steps = int(words[1]), int(words[8].rstrip(",")), int(words[11])
    prefix: list[int] | None = None
    for line in first[1:]:
        if line.startswith("Steps so far: "):
            rest = line[len("Steps so far: "):]
            prefix = [] if rest == "(none)" else [int(w[1:]) for w in rest.split()]
    return target, max_step, max_steps, prefix


def emulate_server(texts: list[str], params: SamplingParams) -> list[str]:
    """What a server sends back: each text cut at the first stop string and to at most
    ``max_tokens`` words (the scripted servers count a word as a token)."""
    out = []
    for text in texts:
        for stop in params.stop or []:
            if stop and stop in text:
                text = text[: text.index(stop)]
        words, kept, i = 0, 0, 0
        while i < len(text) and words < params.max_tokens:
            while i < len(text) and text[i].isspace():
                i += 1
            if i == len(text):
                break
            while i < len(text) and not text[i].isspace():
                i += 1
            words, kept = words + 1, i
        out.append(text[:kept] if words >= params.max_tokens else text)
    return out


@dataclass
class RushPolicy:
    """A model that knows the next step but rushes: in any completion, the second step it
    writes is wrong (``max_step + 2``, not an allowed step). Asked for one step at a time
    (a stop at the line end) it is always right; asked for a whole answer it always makes
    the mistake at step 2, critique or not (unless ``learns``: then a back-prompt that names
    the bad step gets the right answer).

    Step prompts get ``[continuation, bad step, continuation, *extras]`` (cycled to ``n``):
    the continuation starts with the right step (``good``, or what is left of the target).
    """

    good: int | None = 4
    extras: tuple[str, ...] = ()
    learns: bool = False
    calls: list[list[Message]] = field(default_factory=list)

    def __call__(self, messages: list[Message], params: SamplingParams) -> list[str]:
        self.calls.append(list(messages))
        target, max_step, _, prefix = read_task(messages)
        wrong = max_step + 2
        if prefix is None:  # a whole answer (the first prompt or a back-prompt)
            critiqued = len(messages) > 1 and "not an allowed step" in messages[-1].content
            plan = self.plan(target, 0)
            if not (self.learns and critiqued) and len(plan) > 1:
                plan[1] = wrong
            return emulate_server([json.dumps({"steps": plan})], params)
        texts: list[str] = []
        if self.good is not None:
            plan = self.plan(target, sum(prefix))
            if len(plan) > 1:
                plan[1] = wrong
            continuation = "\n".join(f"+{v}" for v in plan) or f"+{wrong}"
            texts = [continuation, f"+{wrong}", continuation]
        texts.extend(self.extras)
        return emulate_server(texts or [f"+{wrong}"], params)

    def plan(self, target: int, done: int) -> list[int]:
        good = self.good or 1
        plan, left = [], target - done
        while left > 0:
            plan.append(min(good, left))
            left -= plan[-1]
        return plan


def prefix_of(messages: Sequence[Message]) -> list[int] | None:
    """The prefix a step prompt asks to continue (None: a whole-answer prompt)."""
    return read_task(messages)[3]


LogprobFn = Callable[[int, str], Any]


class PolicyGenerator:
    """A :class:`FunctionGenerator` over a policy that also attaches logprobs to each choice
    (``logprobs(index, text)``, any shape: hostile-server tests), can take ``delay_s`` per
    request, and keeps each request's usage."""

    def __init__(self, policy: Callable[[list[Message], SamplingParams], list[str]], *,
                 logprobs: LogprobFn | None = None, delay_s: float = 0.0) -> None:
        self.inner = FunctionGenerator(policy, model="policy")
        self.model: str | None = "policy"
        self.logprobs, self.delay_s = logprobs, delay_s
        self.usages: list[tuple[int, int]] = []

    @property
    def calls(self) -> list[tuple[list[Message], SamplingParams, StructuredOutput | None]]:
        return self.inner.calls

    async def generate(self, messages: list[Message], params: SamplingParams,
                       structured: StructuredOutput | None = None) -> Completion:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        completion = await self.inner.generate(messages, params, structured)
        if self.logprobs is not None:
            fn = self.logprobs
            completion = completion.model_copy(update={"choices": [
                c.model_copy(update={"logprobs": fn(c.index, c.text)})
                for c in completion.choices]})
        self.usages.append((completion.usage.prompt_tokens, completion.usage.completion_tokens))
        return completion


def responder(body: dict[str, Any]) -> list[str]:
    """A :class:`~llm_modulo.testing.ScriptedServer` responder: :class:`RushPolicy` over
    HTTP (``tests.stepwise_fakes:responder``)."""
    messages = [Message(role=str(m.get("role", "user")), content=str(m.get("content", "")))
                for m in body.get("messages", [])]
    stop = body.get("stop")
    params = SamplingParams(n=int(body.get("n", 1)), max_tokens=int(body.get("max_tokens", 256)),
                            stop=[stop] if isinstance(stop, str) else stop)
    return RushPolicy(learns=True)(messages, params)


class BrokenPromptDomain(ToySumDomain):
    """Its step prompts raise (a domain bug)."""

    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        if prefix:
            raise ValueError("no prompt for you")
        return super().step_messages(problem, prefix)


class BrokenReaderDomain(ToySumDomain):
    """Its step reader raises (in the worker)."""

    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        raise RuntimeError("reader bug")


class BrokenAssembleDomain(ToySumDomain):
    """It cannot write a whole answer."""

    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        raise KeyError("assemble bug")
