"""Plan simulation with VAL's semantics.

Each step: the action exists, the arity is right, every argument is a known
object of the parameter's type, every precondition holds in the current state
(each false literal is named). Effects: conditions (``when``) and ``forall``
effects are evaluated in the state before the step, then deletes are applied
before adds. After the last step every goal literal must hold.

As in VAL, every step is type-checked (action, arity, objects, types) before
any is run: a problem there is the plan's failure even when an earlier step's
precondition is false, and nothing counts as executed.

With ``all_errors`` the simulation goes on past a failure where that is
meaningful: a step whose precondition is false is applied anyway (so later
problems are reported as they would be if it had worked), a step that names
an unknown action or object, or gives a wrong arity or type, is skipped. The
first issue is always the one VAL reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal as Lit

from verifiers.pddl.formula import And, Atom, AtomF, bindings, ground, work
from verifiers.pddl.model import Action, DomainDef, Effect, ProblemDef
from verifiers.pddl.sexpr import UnsupportedPDDL

#: most atom evaluations one step's precondition and effects, or the goal, may need
MAX_WORK = 2_000_000

IssueKind = Lit["unknown_action", "wrong_arity", "unknown_object", "wrong_type",
                "unmet_precondition", "unmet_goal"]


@dataclass(frozen=True, slots=True)
class Step:
    """One parsed plan step (``index`` counts from 1, ``line`` is the source line)."""

    index: int
    action: str
    args: tuple[str, ...]
    line: int = 0
    source: str = ""

    @property
    def text(self) -> str:
        return "(" + " ".join((self.action, *self.args)) + ")"


@dataclass(frozen=True, slots=True)
class Issue:
    kind: IssueKind
    step: Step | None  # None for goal issues
    literals: tuple[str, ...] = ()
    detail: str = ""
    #: found after an earlier failure, assuming the failed steps had their effects
    after_failure: bool = False


@dataclass
class Result:
    issues: list[Issue]
    steps: int
    executed: int  # steps simulated before the first failure
    cost: float | None
    states: list[frozenset[Atom]] = field(default_factory=list)  # with trace: init, then 1/step

    @property
    def valid(self) -> bool:
        return not self.issues

    @property
    def failure(self) -> IssueKind | None:
        return self.issues[0].kind if self.issues else None


class Task:
    """A domain and problem compiled for fast repeated validation."""

    def __init__(self, domain: DomainDef, problem: ProblemDef) -> None:
        self.domain = domain
        self.problem = problem
        self.object_types: dict[str, frozenset[str]] = {}
        for obj, declared in problem.objects.items():
            acc: set[str] = set()
            for t in declared:
                acc |= domain.types.get(t, {t, "object"})
            self.object_types[obj] = frozenset(acc)
        self._universe: dict[frozenset[str], tuple[str, ...]] = {}
        self.init = problem.init
        self._check_work()

    def _check_work(self) -> None:
        """Refuse (UNKNOWN) a task whose quantifiers would take too long to evaluate."""
        def size(types: frozenset[str]) -> int:
            return len(self.objects_of(types))

        def effect_work(e: Effect) -> int:
            n = 1 if e.cond is None else work(e.cond, size) + 1
            for _, t in e.params:
                n *= size(t)
            return n

        loads = [("the goal", work(self.problem.goal, size))]
        for name, a in self.domain.actions.items():
            loads.append((f"action {name}", work(a.pre, size)
                          + sum(effect_work(e) for e in a.effects)))
        where, most = max(loads, key=lambda x: x[1])
        if most > MAX_WORK:
            raise UnsupportedPDDL(f"{where} quantifies over {most:,} combinations of objects "
                                  f"in this problem (limit {MAX_WORK:,})")

    # -- objects and types --------------------------------------------------------------

    def objects_of(self, types: frozenset[str]) -> tuple[str, ...]:
        found = self._universe.get(types)
        if found is None:
            found = tuple(sorted(o for o, t in self.object_types.items() if t & types))
            self._universe[types] = found
        return found

    def check_step(self, step: Step) -> Issue | None:
        """An issue with the step's action, arity, objects or types, or None."""
        action = self.domain.actions.get(step.action)
        if action is None:
            return Issue("unknown_action", step, detail=step.action)
        if len(step.args) != len(action.params):
            return Issue("wrong_arity", step, detail=f"{len(action.params)}:{len(step.args)}")
        for arg, (var, types) in zip(step.args, action.params, strict=True):
            have = self.object_types.get(arg)
            if have is None:
                return Issue("unknown_object", step, detail=arg)
            if not have & types:
                return Issue("wrong_type", step, detail=f"{arg}:{var}")
        return None

    def static_types_ok(self, action: Action, args: Sequence[str]) -> bool:
        """False if a one-argument never-changing precondition is false in the init.

        Untyped domains give types as such predicates (logistics' ``(truck ?t)``, gripper's
        ``(ball ?b)``): an argument that fails one is of the wrong kind, like a wrong type.
        """
        b = dict(zip(action.var_names, args, strict=True))
        parts = action.pre.parts if isinstance(action.pre, And) else (action.pre,)
        static = self.domain.static_predicates
        for p in parts:
            if isinstance(p, AtomF) and len(p.args) == 1 and p.pred in static and \
                    ground(p.pred, p.args, b) not in self.init:
                return False
        return True

    # -- simulation ---------------------------------------------------------------------

    def validate(self, plan: Sequence[Step], *, all_errors: bool = True,
                 trace: bool = False) -> Result:
        state = set(self.init)
        universe = self.objects_of
        issues: list[Issue] = []
        states = [frozenset(state)] if trace else []
        cost: float | None = 0.0
        # VAL type-checks the whole plan before running any of it: an unknown action or
        # object, a wrong arity or type anywhere is its failure, and nothing is executed
        checks = [self.check_step(step) for step in plan]
        bad = next((c for c in checks if c is not None), None)
        if bad is not None and not all_errors:
            return Result([bad], len(plan), 0, None, states)
        executed = len(plan) if bad is None else 0
        failed = False
        for step, problem in zip(plan, checks, strict=True):
            if problem is not None:
                issues.append(problem)  # the plan's form: no earlier step changes it
                failed = True
                if trace:
                    states.append(frozenset(state))
                continue
            action = self.domain.actions[step.action]
            b = dict(zip(action.var_names, step.args, strict=True))
            if not action.pre.holds(state, b, universe):
                lits = tuple(action.pre.explain(state, b, universe))
                issues.append(Issue("unmet_precondition", step, lits, after_failure=failed))
                if not failed and bad is None:
                    executed = step.index - 1
                failed = True
                if not all_errors:
                    break
            adds: list[Atom] = []
            dels: list[Atom] = []
            for e in action.effects:
                for bb in (bindings(e.params, b, universe) if e.params else (b,)):
                    if e.cond is not None and not e.cond.holds(state, bb, universe):
                        continue
                    adds.extend(ground(p, a, bb) for p, a in e.adds)
                    dels.extend(ground(p, a, bb) for p, a in e.dels)
                    if e.cost is not None and cost is not None:
                        if isinstance(e.cost, float):
                            cost += e.cost
                        else:
                            value = self.problem.numeric.get(ground(e.cost[0], e.cost[1], bb))
                            cost = None if value is None else cost + value
            state.difference_update(dels)
            state.update(adds)
            if trace:
                states.append(frozenset(state))
        if all_errors or not failed:
            goal = self.problem.goal
            if not goal.holds(state, {}, universe):
                issues.append(Issue("unmet_goal", None, tuple(goal.explain(state, {}, universe)),
                                    after_failure=failed))
        return Result(issues, len(plan), executed, cost, states)
