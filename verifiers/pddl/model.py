"""Parsed domains and problems: plain, picklable, lower-cased."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from llm_modulo.verifiers.pddl.formula import Atom, Formula, Params

Literal = tuple[str, tuple[str, ...]]  # (predicate, terms)


@dataclass(frozen=True, slots=True)
class Effect:
    """``(forall params (when cond (and adds (not dels))))``; each part may be empty."""

    params: Params
    cond: Formula | None
    adds: tuple[Literal, ...]
    dels: tuple[Literal, ...]
    #: (increase (total-cost) N): a number, or a function term looked up in the init
    cost: float | Literal | None = None


@dataclass(frozen=True)
class Action:
    name: str
    params: Params
    pre: Formula
    effects: tuple[Effect, ...]

    @cached_property
    def var_names(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.params)


@dataclass(frozen=True)
class DomainDef:
    name: str
    requirements: frozenset[str]
    #: type -> itself and all its ancestors (always including "object")
    types: dict[str, frozenset[str]]
    constants: dict[str, frozenset[str]]
    predicates: dict[str, Params]
    actions: dict[str, Action]
    functions: dict[str, Params] = field(default_factory=dict)

    @cached_property
    def static_predicates(self) -> frozenset[str]:
        """Predicates no action changes: only the initial state decides them."""
        changed = {lit[0] for a in self.actions.values() for e in a.effects
                   for lit in (*e.adds, *e.dels)}
        return frozenset(self.predicates) - changed


@dataclass(frozen=True)
class ProblemDef:
    name: str
    domain_name: str
    #: object (domain constants included) -> its declared types
    objects: dict[str, frozenset[str]]
    init: frozenset[Atom]
    goal: Formula
    numeric: dict[Atom, float] = field(default_factory=dict)
