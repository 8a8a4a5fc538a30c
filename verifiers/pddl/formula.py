"""Formulas (preconditions, goals, effect conditions) and how they are evaluated.

A state is a set of ground atoms, each a tuple ``(predicate, arg1, ...)`` of
lower-cased names (closed world: absent means false). A binding maps variable
names (``?x``) to objects; a term is a variable or a constant. ``explain``
names, for a formula that is false, the ground literals or sub-formulas that
make it false, as PDDL text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import ClassVar

Atom = tuple[str, ...]
Binding = Mapping[str, str]
State = set[Atom] | frozenset[Atom]
#: objects of a type set, for quantifiers
Universe = Callable[[frozenset[str]], Sequence[str]]


def ground(pred: str, args: tuple[str, ...], b: Binding) -> Atom:
    return (pred, *[b[t] if t[0] == "?" else t for t in args])


def ground_text(pred: str, args: tuple[str, ...], b: Binding) -> str:
    """Like :func:`ground` as text, leaving variables that ``b`` does not bind."""
    return atom_text((pred, *[b.get(t, t) if t[0] == "?" else t for t in args]))


def atom_text(atom: Atom) -> str:
    return "(" + " ".join(atom) + ")"


class Formula:
    __slots__ = ()

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        raise NotImplementedError

    def explain(self, state: State, b: Binding, universe: Universe) -> list[str]:
        """For a false formula: what is false, as ground PDDL text (most specific first)."""
        return [self.text(b)]

    def text(self, b: Binding) -> str:
        raise NotImplementedError



@dataclass(frozen=True, slots=True)
class Truth(Formula):
    value: bool

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return self.value

    def text(self, b: Binding) -> str:
        return "(and)" if self.value else "(or)"


@dataclass(frozen=True, slots=True)
class AtomF(Formula):
    pred: str
    args: tuple[str, ...]

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return ground(self.pred, self.args, b) in state

    def text(self, b: Binding) -> str:
        return ground_text(self.pred, self.args, b)



@dataclass(frozen=True, slots=True)
class Equal(Formula):
    left: str
    right: str

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        lt = b[self.left] if self.left[0] == "?" else self.left
        rt = b[self.right] if self.right[0] == "?" else self.right
        return lt == rt

    def text(self, b: Binding) -> str:
        return ground_text("=", (self.left, self.right), b)


@dataclass(frozen=True, slots=True)
class Not(Formula):
    arg: Formula

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return not self.arg.holds(state, b, universe)

    def text(self, b: Binding) -> str:
        return f"(not {self.arg.text(b)})"



@dataclass(frozen=True, slots=True)
class And(Formula):
    parts: tuple[Formula, ...]

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return all(p.holds(state, b, universe) for p in self.parts)

    def explain(self, state: State, b: Binding, universe: Universe) -> list[str]:
        out: list[str] = []
        for p in self.parts:
            if not p.holds(state, b, universe):
                out.extend(p.explain(state, b, universe))
        return out

    def text(self, b: Binding) -> str:
        return "(and " + " ".join(p.text(b) for p in self.parts) + ")"



@dataclass(frozen=True, slots=True)
class Or(Formula):
    parts: tuple[Formula, ...]

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return any(p.holds(state, b, universe) for p in self.parts)

    def text(self, b: Binding) -> str:
        return "(or " + " ".join(p.text(b) for p in self.parts) + ")"



@dataclass(frozen=True, slots=True)
class Imply(Formula):
    cond: Formula
    then: Formula

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return not self.cond.holds(state, b, universe) or self.then.holds(state, b, universe)

    def text(self, b: Binding) -> str:
        return f"(imply {self.cond.text(b)} {self.then.text(b)})"



Params = tuple[tuple[str, frozenset[str]], ...]


def params_text(params: Params) -> str:
    return " ".join(f"{v} - {type_text(t)}" for v, t in params)


def type_text(types: frozenset[str]) -> str:
    return next(iter(types)) if len(types) == 1 else "(either " + " ".join(sorted(types)) + ")"


def bindings(params: Params, b: Binding, universe: Universe) -> Iterator[dict[str, str]]:
    """Every extension of ``b`` binding ``params`` to objects of their types, lazily."""
    names = [v for v, _ in params]
    for combo in product(*(universe(t) for _, t in params)):
        yield {**b, **dict(zip(names, combo, strict=True))}


@dataclass(frozen=True, slots=True)
class _Quantified(Formula):
    params: Params
    body: Formula
    word: ClassVar[str] = ""

    def text(self, b: Binding) -> str:
        inner = {k: v for k, v in b.items() if k not in dict(self.params)}
        return f"({self.word} ({params_text(self.params)}) {self.body.text(inner)})"


@dataclass(frozen=True, slots=True)
class Exists(_Quantified):
    word = "exists"

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return any(self.body.holds(state, bb, universe)
                   for bb in bindings(self.params, b, universe))


@dataclass(frozen=True, slots=True)
class Forall(_Quantified):
    word = "forall"

    def holds(self, state: State, b: Binding, universe: Universe) -> bool:
        return all(self.body.holds(state, bb, universe)
                   for bb in bindings(self.params, b, universe))

    def explain(self, state: State, b: Binding, universe: Universe) -> list[str]:
        out: list[str] = []
        for bb in bindings(self.params, b, universe):
            if not self.body.holds(state, bb, universe):
                where = ", ".join(f"{v} = {bb[v]}" for v, _ in self.params)
                out.extend(f"{t} (for {where} in {self.text(b)})"
                           for t in self.body.explain(state, bb, universe))
        return out


def work(f: Formula, size: Callable[[frozenset[str]], int]) -> int:
    """An upper bound on the atoms evaluated to decide ``f`` (quantifiers multiply)."""
    if isinstance(f, _Quantified):
        n = work(f.body, size)
        for _, t in f.params:
            n *= size(t)
        return n
    if isinstance(f, And | Or):
        return sum(work(p, size) for p in f.parts) or 1
    if isinstance(f, Not):
        return work(f.arg, size)
    if isinstance(f, Imply):
        return work(f.cond, size) + work(f.then, size)
    return 1
