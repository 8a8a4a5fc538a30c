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

Time stamps are honoured as VAL does (``Plan::Plan`` and ``planBuilder`` in VAL's
Plan.cpp): a step without a stamp gets the time 1, 2, 3, ... counting only the
unstamped steps; the steps are ordered by time (stably); steps whose times are
within a tenth of VAL's default tolerance (0.01 / 10) of the first step of a
group are one *happening*, executed simultaneously. A happening of one step is
the classical case above. For a happening of several steps VAL checks every
precondition in the same state, then a mutual-exclusion rule over their
preconditions and effects (``Ownership.cpp``); that rule is not implemented
here, so such a happening is refused (``Result.undecided``, an UNKNOWN) unless
one of its preconditions is false, which is VAL's failure too. A stamp of
magnitude 10^6 or more (VAL reads integer stamps with C's ``atoi`` into a
``float``, which neither keeps nor bounds them) is refused the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal as Lit

from llm_modulo.verifiers.pddl.formula import And, Atom, AtomF, bindings, ground, work
from llm_modulo.verifiers.pddl.model import Action, DomainDef, Effect, ProblemDef
from llm_modulo.verifiers.pddl.sexpr import UnsupportedPDDL

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
    #: the ``N:`` time stamp given, if any
    time: float | None = None

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
    #: the time of the step's happening (VAL's), None for goal issues
    time: float | None = None


@dataclass
class Result:
    issues: list[Issue]
    steps: int
    executed: int  # steps simulated before the first failure
    cost: float | None
    states: list[frozenset[Atom]] = field(default_factory=list)  # with trace: init, then 1/step
    #: with trace, the steps in the order they were executed (one per state after the first)
    order: list[tuple[float, Step]] = field(default_factory=list)
    #: why the plan can be neither accepted nor rejected (simultaneous steps, huge stamps)
    undecided: str | None = None

    @property
    def valid(self) -> bool:
        return not self.issues and self.undecided is None

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
        """Run ``plan`` from the initial state by VAL's rules (see the module docstring)."""
        run = _Run(self, trace)
        # VAL type-checks the whole plan before running any of it: an unknown action or
        # object, a wrong arity or type anywhere is its failure, and nothing is executed
        checks = {step.index: self.check_step(step) for step in plan}
        bad = [c for c in checks.values() if c is not None]
        if bad and not all_errors:
            return Result(bad[:1], len(plan), 0, None, run.states)
        happenings, refused = schedule(plan)
        if refused is not None:
            if bad:  # VAL's "Bad plan description!" comes first
                return Result(bad, len(plan), 0, None, run.states)
            return Result([], len(plan), 0, None, run.states, undecided=refused)
        run.failed = bool(bad)
        finished = True
        for happening in happenings:
            for t, step in happening:
                problem = checks[step.index]
                if problem is not None:  # the plan's form: no earlier step changes it
                    run.issues.append(Issue(problem.kind, step, problem.literals,
                                            problem.detail, time=t))
            good = [(t, step) for t, step in happening if checks[step.index] is None]
            if len(happening) == 1:
                if good and not run.step(*good[0], apply_failed=all_errors):
                    finished = False
                    break
                continue
            finished = False  # several steps at one time: this happening ends the run
            if not run.simultaneous(good) and not run.failed:
                names = ", ".join(f"`{s.text}` (line {s.line})" for _, s in happening)
                run.undecided = (f"steps {names} have the same time "
                                 f"{time_text(happening[0][0])}: VAL executes them together "
                                 f"under a mutual-exclusion rule this validator does not "
                                 f"implement")
            break
        if finished:
            goal = self.problem.goal
            if not goal.holds(run.state, {}, self.objects_of):
                run.issues.append(Issue("unmet_goal", None,
                                        tuple(goal.explain(run.state, {}, self.objects_of)),
                                        after_failure=run.failed))
        return Result(run.issues, len(plan), 0 if bad else run.done,
                      run.cost if not run.failed else None, run.states, run.order,
                      run.undecided)

    def advance(self, state: frozenset[Atom], steps: Sequence[Step]
                ) -> tuple[frozenset[Atom], list[Issue]]:
        """Run unstamped ``steps`` one after another from ``state``, by the rules
        :meth:`validate` runs a plan of unstamped steps by: every step is type-checked first
        (action, arity, objects, types; any problem there is the failure and nothing runs),
        then each is executed in turn, stopping at the first whose precondition is false.

        Returns the state after the steps that ran and the issues (none: every step ran).
        Used to check a plan's prefixes one step at a time without re-running them.
        """
        if any(step.time is not None for step in steps):
            raise ValueError("advance() runs unstamped steps only")
        bad = [issue for step in steps if (issue := self.check_step(step)) is not None]
        if bad:
            return state, bad
        run = _Run(self, trace=False)
        run.state = set(state)
        for step in steps:
            if not run.step(float(step.index), step, apply_failed=False):
                return frozenset(run.state), run.issues
        return frozenset(run.state), []

    def goal_holds(self, state: frozenset[Atom]) -> bool:
        """True when the problem's goal holds in ``state``."""
        return self.problem.goal.holds(state, {}, self.objects_of)


class _Run:
    """The state of one simulation: what has been applied, found and recorded."""

    def __init__(self, task: Task, trace: bool) -> None:
        self.task = task
        self.trace = trace
        self.state = set(task.init)
        self.states = [frozenset(self.state)] if trace else []
        self.order: list[tuple[float, Step]] = []
        self.issues: list[Issue] = []
        self.cost: float | None = 0.0
        self.failed = False
        self.done = 0  # steps applied before the first failure
        self.undecided: str | None = None

    def step(self, t: float, step: Step, *, apply_failed: bool) -> bool:
        """Run one step alone; False if its precondition was false and it was not applied."""
        action = self.task.domain.actions[step.action]
        b = dict(zip(action.var_names, step.args, strict=True))
        universe = self.task.objects_of
        if not action.pre.holds(self.state, b, universe):
            lits = tuple(action.pre.explain(self.state, b, universe))
            self.issues.append(Issue("unmet_precondition", step, lits,
                                     after_failure=self.failed, time=t))
            self.failed = True
            if not apply_failed:
                return False
        elif not self.failed:
            self.done += 1
        self._apply(action, b)
        if self.trace:
            self.states.append(frozenset(self.state))
            self.order.append((t, step))
        return True

    def simultaneous(self, steps: list[tuple[float, Step]]) -> bool:
        """True (decided: the plan fails here) if a precondition of one of ``steps`` is
        false in the current state, which is where VAL checks them all."""
        universe = self.task.objects_of
        found = False
        for t, step in steps:
            action = self.task.domain.actions[step.action]
            b = dict(zip(action.var_names, step.args, strict=True))
            if not action.pre.holds(self.state, b, universe):
                self.issues.append(Issue("unmet_precondition", step,
                                         tuple(action.pre.explain(self.state, b, universe)),
                                         after_failure=self.failed, time=t))
                found = True
        self.failed = self.failed or found
        return found

    def _apply(self, action: Action, b: dict[str, str]) -> None:
        universe = self.task.objects_of
        adds: list[Atom] = []
        dels: list[Atom] = []
        for e in action.effects:
            for bb in (bindings(e.params, b, universe) if e.params else (b,)):
                if e.cond is not None and not e.cond.holds(self.state, bb, universe):
                    continue
                adds.extend(ground(p, a, bb) for p, a in e.adds)
                dels.extend(ground(p, a, bb) for p, a in e.dels)
                if e.cost is not None and self.cost is not None:
                    if isinstance(e.cost, float):
                        self.cost += e.cost
                    else:
                        value = self.task.problem.numeric.get(ground(e.cost[0], e.cost[1], bb))
                        self.cost = None if value is None else self.cost + value
        self.state.difference_update(dels)
        self.state.update(adds)


#: VAL's default tolerance (``Validate -t``); steps less than a tenth of it apart are one
#: happening (``Plan.h``, ``struct after``)
TOLERANCE = 0.01
#: stamps this large or larger are refused: VAL reads integer stamps with ``atoi`` into a
#: C ``float``, which keeps integers exactly only below 2^24 and overflows past 2^31
MAX_STAMP = 1e6


def time_text(t: float) -> str:
    """A time as VAL prints it (C++ streams at precision 10: ``0``, ``0.5``, ``12``)."""
    return f"{t:.10g}"


def schedule(plan: Sequence[Step]) -> tuple[list[list[tuple[float, Step]]], str | None]:
    """VAL's happenings: (time, step) groups in time order, or a reason to refuse the stamps.

    Unstamped steps get 1, 2, 3, ... (counting only them, VAL's ``defaultTime``); the
    steps are sorted by time, stably; a happening takes every following step whose time
    is at most its first step's time plus ``TOLERANCE / 10``.
    """
    timed: list[tuple[float, Step]] = []
    default = 1
    for step in plan:
        if step.time is None:
            timed.append((float(default), step))
            default += 1
        elif not abs(step.time) < MAX_STAMP:
            return [], (f"line {step.line}: the time stamp {step.time:g} is too large to "
                        f"order as VAL would (limit {MAX_STAMP:g})")
        else:
            timed.append((step.time, step))
    timed.sort(key=lambda x: x[0])
    out: list[list[tuple[float, Step]]] = []
    for t, step in timed:
        if out and not t > out[-1][0][0] + TOLERANCE / 10:
            out[-1].append((t, step))
        else:
            out.append([(t, step)])
    return out, None
