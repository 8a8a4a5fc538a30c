"""PDDL parsing and plan validation with VAL's semantics (see docs/plan-validator.md)."""

from llm_modulo.verifiers.pddl.nl import Templates
from llm_modulo.verifiers.pddl.parse import parse_domain, parse_problem
from llm_modulo.verifiers.pddl.sexpr import PDDLError, UnsupportedPDDL
from llm_modulo.verifiers.pddl.simulate import Issue, Result, Step, Task
from llm_modulo.verifiers.pddl.validator import Report, cached_task, load_task, validate

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
