"""Lean 4 theorem proving in core Lean (no Mathlib): the problem states, the model proves.

Problems: ``{"statement": "theorem t (a b : Nat) : a + b = b + a"}`` (also
``example ...`` or a bare proposition), or the statement as plain text; an optional
``"imports"`` list names modules from the allow-list (Init, Std, and the prefixes in
``$LLM_MODULO_LEAN_IMPORTS``, e.g. ``Mathlib`` with a Lake project). The
candidate is only the proof: a term or a ``by`` tactic block, as
``{"proof": "by omega"}`` or as plain text / a fenced ``lean`` block. The verifier
writes the theorem itself, so a restated (different) theorem in the answer is
ignored, never checked in place of the problem's.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domain import MAX_COMPLETION_CHARS, Domain
from llm_modulo.errors import ProblemError
from llm_modulo.types import Candidate, Problem
from llm_modulo.verifiers.lean.batch import Statement, validate_imports

# one run of blanks, then an optional language word and its blanks: two adjacent `[ \t]*`
# runs backtracked quadratically on a long blank line after a fence
_FENCE = re.compile(r"```[ \t]*(?:(?:lean4?|Lean)[ \t]*)?\n(.*?)```", re.DOTALL)
_DECL = re.compile(r"^\s*(?:theorem|lemma|example)\b[^\n]*?:=\s*", re.DOTALL)


class LeanAnswer(BaseModel):
    proof: str = Field(description="The proof only: a Lean 4 term or a `by` tactic block",
                       max_length=20_000)


class LeanDomain(Domain):
    name = "lean"
    version = "1.0"
    verifier = "lean"
    answer_model = LeanAnswer
    description = ("Prove a Lean 4 theorem stated in core Lean (omega / decide / simp "
                   "territory); the answer is the proof only.")

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        pid: str | None = None
        if isinstance(raw, dict):
            statement = raw.get("statement")
            if not isinstance(statement, str):
                raise ProblemError('a lean problem needs a "statement" string, e.g. '
                                   '"theorem t (a b : Nat) : a + b = b + a"')
            unknown = set(raw) - {"statement", "imports", "id"}
            if unknown:
                raise ProblemError(f"unknown field(s) in the lean problem: "
                                   f"{', '.join(sorted(unknown))} (statement, imports, id)")
            imports = validate_imports(raw.get("imports"))
            if raw.get("id") is not None:
                pid = str(raw["id"])
        elif isinstance(raw, str):
            statement, imports = raw, ()
        else:
            raise ProblemError("a lean problem is a statement string or a JSON object")
        payload: dict[str, Any] = {"statement": Statement.parse(statement).text}
        if imports:
            payload["imports"] = list(imports)
        return Problem(domain=self.name, payload=payload, id=pid)

    def generate_problems(self, count: int, seed: int = 0) -> list[Problem]:
        """``count`` true statements of core Lean (arithmetic and lists), fixed by ``seed``."""
        rng = random.Random(seed)
        out: list[Problem] = []
        seen: set[str] = set()
        while len(out) < count:
            text = rng.choice(_TEMPLATES)(rng)
            if text not in seen:
                seen.add(text)
                out.append(self.parse_problem({"statement": text}))
        return out

    # -- prompts ----------------------------------------------------------------------

    def system_prompt(self) -> str:
        return ("You are an expert Lean 4 prover. You answer with a single JSON object "
                "and nothing else.")

    def render_prompt(self, problem: Problem) -> str:
        return (
            "Prove this Lean 4 theorem (core Lean 4, no Mathlib; tactics such as omega, "
            "decide, simp, rfl, induction and exact are available):\n"
            f"{problem.payload['statement']} := ?\n"
            "Give only the proof that replaces `?`: a term or a `by` tactic block. Do not "
            "restate the theorem. Commands, `sorry`, `native_decide` and new axioms are "
            "refused.\n"
            # the example's statement is never a generated problem
            'Example: for `theorem ex (n : Nat) : n + 0 = n` an answer is {"proof":"by simp"}.\n'
            + self.answer_instruction(problem)
        )

    def answer_instruction(self, problem: Problem) -> str:
        return 'Answer as {"proof":"..."}.'

    def parse_fallback(self, problem: Problem, completion: str) -> Candidate:
        """Plain text or a fenced ``lean`` block is the proof; a restated header is cut off."""
        text = completion[:MAX_COMPLETION_CHARS]
        fence = _FENCE.search(text)
        if fence is not None:
            text = fence.group(1)
        text = _DECL.sub("", text, count=1).strip()
        if not text:
            return Candidate(raw=completion, parse_error="no proof found in the reply")
        return Candidate(raw=completion, answer={"proof": text})


def _vars(rng: random.Random) -> tuple[str, str]:
    return rng.choice([("a", "b"), ("m", "n"), ("x", "y"), ("p", "q")])


#: Linear arithmetic and parity over Nat/Int: omega territory.
_LINEAR = [
    "theorem t ({a} {b} : Nat) : {a} + {k} * {b} + {m} = {m} + {b} * {k} + {a}",
    "theorem t ({a} {b} : Nat) : {k} * ({a} + {b}) = {k} * {a} + {k} * {b}",
    "theorem t ({a} {b} : Nat) (h : {a} < {b}) : {a} + {m} < {b} + {m}",
    "theorem t ({a} {b} : Nat) : {e} * {a} ≠ {e} * {b} + 1",
    "theorem t ({a} : Int) (h : {a} > {m}) : 2 * {a} - {m} > {a}",
]


def _linear(rng: random.Random) -> str:
    a, b = _vars(rng)
    return rng.choice(_LINEAR).format(a=a, b=b, k=rng.randint(2, 12), m=rng.randint(1, 50),
                                      e=2 * rng.randint(1, 5))


def _arith_fact(rng: random.Random) -> str:
    x, y = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(["*", "+", "%"])
    value = {"*": x * y, "+": x + y, "%": x % y}[op]
    return f"theorem t : ({x} : Nat) {op} {y} = {value}"


def _list_length(rng: random.Random) -> str:
    n, m = rng.randint(1, 5), rng.randint(1, 5)
    xs = ", ".join(str(rng.randint(0, 9)) for _ in range(n))
    ys = ", ".join(str(rng.randint(0, 9)) for _ in range(m))
    return f"theorem t : ([{xs}] ++ [{ys}] : List Nat).length = {n + m}"


def _list_reverse(rng: random.Random) -> str:
    n = rng.randint(2, 6)
    xs = [rng.randint(0, 9) for _ in range(n)]
    shown = ", ".join(map(str, xs))
    rev = ", ".join(map(str, reversed(xs)))
    return f"theorem t : ([{shown}] : List Nat).reverse = [{rev}]"


def _list_append_length(rng: random.Random) -> str:
    kind = rng.choice(["Nat", "Int", "Bool"])
    return (f"theorem t (xs ys : List {kind}) : "
            "(xs ++ ys).length = ys.length + xs.length")


def _replicate(rng: random.Random) -> str:
    n, x = rng.randint(1, 40), rng.randint(0, 9)
    return f"theorem t : (List.replicate {n} ({x} : Nat)).length = {n}"


def _reverse_involutive(rng: random.Random) -> str:
    kind = rng.choice(["Nat", "Int", "Bool", "String"])
    return f"theorem t (xs : List {kind}) : xs.reverse.reverse = xs"


_TEMPLATES: list[Callable[[random.Random], str]] = [
    _linear, _linear, _linear, _arith_fact, _list_length, _list_reverse,
    _list_append_length, _replicate, _reverse_involutive,
]
