"""PDDL parsing and plan validation with VAL's semantics (see docs/plan-validator.md)."""

from verifiers.pddl.nl import Templates
from verifiers.pddl.parse import parse_domain, parse_problem
from verifiers.pddl.sexpr import PDDLError, UnsupportedPDDL
from verifiers.pddl.simulate import Issue, Result, Step, Task
from verifiers.pddl.validator import Report, cached_task, load_task, validate

__all__ = [
    "Issue",
    "PDDLError",
    "Report",
    "Result",
    "Step",
    "Task",
    "Templates",
    "UnsupportedPDDL",
    "cached_task",
    "load_task",
    "parse_domain",
    "parse_problem",
    "validate",
]
