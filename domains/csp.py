"""Generic constraint satisfaction: any CSP written in the declarative format
(``docs/csp-format.md``), given as a JSON or YAML file or inline JSON. The answer is
``{"assignment": {"x": 1, ...}}``; the ``csp`` verifier checks it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domains.csp_base import CSPDomainBase
from llm_modulo.structured import JsonSchema, StructuredOutput
from llm_modulo.types import Problem
from llm_modulo.verifiers.csp import model as m
from llm_modulo.verifiers.csp.checker import compile_csp, constraint_text

#: Above this many variables the prompt and schema stay generic.
_SCHEMA_MAX_VARIABLES = 200
_ENUM_MAX_VALUES = 200


class CSPAnswer(BaseModel):
    assignment: dict[str, int | str] = Field(description="variable name -> value")


class CSPDomain(CSPDomainBase):
    name = "csp"
    version = "1.0"
    verifier = "csp"
    answer_model = CSPAnswer
    answer_key = "assignment"
    description = "Any finite-domain CSP in the declarative JSON/YAML format."

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        data = m.decode_text(raw) if isinstance(raw, str) else raw
        pid = data.get("id") if isinstance(data, dict) else None
        if isinstance(data, dict):  # a JSONL row's bookkeeping is not part of the CSP
            data = {k: v for k, v in data.items() if k not in ("id", "idx")}
        csp = m.parse_csp(data)
        compile_csp(csp)  # type-checks expressions: a bad file fails here, not in a worker
        payload: dict[str, Any] = {"csp": csp.model_dump(mode="json", exclude_none=True)}
        return Problem(domain=self.name, payload=payload, id=None if pid is None else str(pid))

    def render_prompt(self, problem: Problem) -> str:
        csp = m.CSP.model_validate(problem.payload["csp"])
        lines = [csp.description or "Solve this constraint satisfaction problem: give every "
                 "variable a value from its domain so that every constraint holds."]
        lines.append("Variables and their domains:")
        for name in csp.variables:
            lines.append(f"- {name}: {_domain_text(csp.domain_of(name))}")
        lines.append("Constraints:")
        lines.extend(f"- {c.name + ': ' if c.name else ''}{constraint_text(c)}"
                     for c in csp.constraints)
        if csp.objective is not None:
            lines.append(f"Find an assignment that {csp.objective.sense}s "
                         f"{csp.objective.text}.")
        lines.append(self.answer_instruction(problem))
        return "\n".join(lines)

    def answer_instruction(self, problem: Problem) -> str:
        return ('Answer with only a JSON object {"assignment": {"<variable>": <value>, ...}} '
                "giving every variable a value.")

    def structured_output(self, problem: Problem) -> StructuredOutput:
        csp = m.CSP.model_validate(problem.payload["csp"])
        if len(csp.variables) > _SCHEMA_MAX_VARIABLES:
            return JsonSchema(name="CSPAnswer", schema=CSPAnswer.model_json_schema())
        props: dict[str, Any] = {}
        for name in csp.variables:
            dom = csp.domain_of(name)
            if isinstance(dom, range):
                props[name] = {"type": "integer", "minimum": dom.start, "maximum": dom[-1]}
            elif len(dom) <= _ENUM_MAX_VALUES:
                props[name] = {"enum": list(dom)}
            else:
                props[name] = {"type": "integer" if isinstance(dom[0], int) else "string"}
        schema = {"type": "object", "additionalProperties": False, "required": ["assignment"],
                  "properties": {"assignment": {"type": "object", "properties": props,
                                                "required": list(csp.variables),
                                                "additionalProperties": False}}}
        return JsonSchema(name="CSPAnswer", schema=schema)


def _domain_text(dom: list[int | str] | range) -> str:
    if isinstance(dom, range):
        return f"integers {dom.start} to {dom[-1]}"
    shown = ", ".join(json.dumps(v) for v in dom[:20])
    return "{" + shown + (", ..." if len(dom) > 20 else "") + "}"
