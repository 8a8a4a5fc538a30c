"""Graph colouring (Stechly et al.'s self-verification study): colour the vertices so that
no edge joins two vertices of the same colour, with at most k colours.

Problems: a DIMACS ``.col`` file or text (``e u v`` edge lines, optional ``p edge n m``,
comments; ``c OPTIMAL CHROMATIC NUMBER === k`` sets k), or JSON
``{"edges": [[u, v], ...], "vertices": n, "colors": k, "minimize": false,
"require_all_vertices": false}``. Without k the colouring must use as few colours as possible
(proved by the verifier's solver). A vertex without edges may be left uncoloured unless
``require_all_vertices`` is true.
Answers: one ``vertex: colour`` per line (the paper's format) or
``{"coloring": {"0": 1, ...}}``. Colours are numbers (``2``, ``Color 2``, ``color2``), from 0
or from 1: what counts is how many different colours are used (at most k).

Stepwise (for search strategies): a step colours one vertex, ``3: 2``, in the fixed order of
the problem's vertices (smallest first); the step prompt names the vertex that comes next. A
reply's steps are its ``vertex: colour`` lines (the one-shot answer's format; the first line
may give just the colour, ``2`` or ``Color 2``, for the vertex asked for) up to the first line
that is not one, or that colours any vertex but the next: reading stops there (a reply whose
first step is for another vertex has no step: UNKNOWN, never a REJECT, since colouring
vertices in another order is not wrong, only not this search's order).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import BaseModel, Field

from llm_modulo.domains.csp_base import (
    CSPDomainBase,
    assignment_grammar,
    next_step_request,
    step_lines,
    step_messages_of,
)
from llm_modulo.errors import ProblemError
from llm_modulo.stepwise import StepParse, StepwiseDomain
from llm_modulo.structured import Grammar, StructuredOutput
from llm_modulo.types import Candidate, Message, Problem, Step

MAX_VERTICES = 1_000_000
MAX_EDGES = 5_000_000
_CHROMATIC = re.compile(r"OPTIMAL CHROMATIC NUMBER\s*===\s*(\d+)")
# "3: 2", "Vertex 3: 2", "- 3: 2", "Vertex3: Color 2", "**Vertex 3**: Color2" (a markdown
# bullet, bold and the word "vertex" are allowed; the colour is the rest of the line, which
# the verifier reads: a number, optionally after "colour"; anything else is unreadable)
_LINE = re.compile(r"(?:[-*+]\s+)?(?:vertex\s*)?(\d{1,9})\s*:(.*)", re.IGNORECASE)
_GRAMMAR_MAX_VERTICES = 400
# a step's colour: "2", "Color 2", "colour2", "2." (a number, as the verifier reads colours)
_STEP_COLOUR = re.compile(r"(?:colou?r\s*)?([0-9]{1,18})\.?", re.IGNORECASE)


class ColoringAnswer(BaseModel):
    coloring: dict[str, int] = Field(description="vertex number -> colour (1..k)")


def parse_dimacs(text: str) -> dict[str, Any]:
    """Vertices, edges and the stated chromatic number of a DIMACS-style ``.col`` text."""
    edges: list[tuple[int, int]] = []
    declared: int | None = None
    promised = 0
    chromatic: int | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        head = parts[0]
        if head == "c":
            if found := _CHROMATIC.search(line):
                chromatic = int(found.group(1))
            continue
        try:
            if head == "e" and len(parts) == 3:
                edges.append((int(parts[1]), int(parts[2])))
                if len(edges) > MAX_EDGES:
                    raise ProblemError(f"graph has more than {MAX_EDGES} edges")
                continue
            if head == "p" and len(parts) == 4 and parts[1] in ("edge", "col"):
                declared, promised = int(parts[2]), int(parts[3])
                continue
        except ValueError:
            pass
        raise ProblemError(f"line {lineno} of the graph is not `e U V`, `p edge N M` or a "
                           f"`c` comment: {line.strip()[:60]!r}")
    if not edges and declared is None:
        raise ProblemError("the graph has no edges and no `p edge N M` line")
    if len(edges) < promised:  # a truncated file would silently drop constraints
        raise ProblemError(f"the `p edge` line promises {promised} edges but the file has "
                           f"only {len(edges)} `e` lines (truncated?)")
    return {"edges": edges, "vertices": declared, "colors": chromatic}


class GraphColoringDomain(CSPDomainBase, StepwiseDomain):
    name = "graph_coloring"
    version = "1.0"
    verifier = "graph_coloring"
    answer_model = ColoringAnswer
    answer_key = "coloring"
    description = ("Colour a graph's vertices with at most k colours so that no edge joins two "
                   "vertices of the same colour (DIMACS .col problems).")

    # -- problems ---------------------------------------------------------------------

    def parse_problem(self, raw: str | dict[str, Any]) -> Problem:
        pid = None
        if isinstance(raw, str):
            data = parse_dimacs(raw)
            minimize = data["colors"] is None
        elif isinstance(raw, dict):
            if "edges" not in raw:
                raise ProblemError('graph_coloring problem needs "edges": [[u, v], ...] '
                                   "(or a DIMACS .col file)")
            data = {"edges": raw["edges"], "vertices": raw.get("vertices"),
                    "colors": raw.get("colors"),
                    "require_all_vertices": raw.get("require_all_vertices", False)}
            minimize = raw.get("minimize", data["colors"] is None)
            pid = None if raw.get("id") is None else str(raw["id"])
        else:
            raise ProblemError("graph_coloring problem must be DIMACS text or a JSON object")
        return Problem(domain=self.name, payload=self._payload(data, minimize), id=pid)

    def _payload(self, data: dict[str, Any], minimize: Any) -> dict[str, Any]:
        edges = data["edges"]
        if not isinstance(edges, list):
            raise ProblemError("edges must be a list of [u, v] pairs")
        seen: set[tuple[int, int]] = set()
        for e in edges:
            if (not isinstance(e, list | tuple) or len(e) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in e)):
                raise ProblemError(f"edge {e!r} is not a pair of vertex numbers")
            u, v = e
            if not (0 <= u < MAX_VERTICES and 0 <= v < MAX_VERTICES):
                raise ProblemError(f"edge {u}-{v}: vertex numbers must be 0 to "
                                   f"{MAX_VERTICES - 1}")
            if u == v:
                raise ProblemError(f"edge {u}-{v} joins a vertex to itself: no colouring "
                                   "exists")
            seen.add((min(u, v), max(u, v)))
        declared = data.get("vertices")
        mentioned = {x for e in seen for x in e}
        if isinstance(declared, list):
            if not all(type(x) is int and 0 <= x < MAX_VERTICES for x in declared):
                raise ProblemError(f"vertices must be vertex numbers 0 to {MAX_VERTICES - 1}")
            vertices = sorted(set(declared))
        elif isinstance(declared, int) and not isinstance(declared, bool):
            if not 1 <= declared <= MAX_VERTICES:
                raise ProblemError(f"a graph needs 1 to {MAX_VERTICES} vertices, not "
                                   f"{declared}")
            # `p edge N M`: DIMACS numbers vertices 1..N; a 0 in the edges means 0-based
            base = 0 if 0 in mentioned else 1
            vertices = list(range(base, base + declared))
        elif declared is None:
            # Stechly et al.: vertices 0..max (isolated ones too), or 1..max if none is 0
            top = max(mentioned, default=0)
            vertices = list(range(0 if 0 in mentioned else 1, top + 1))
        else:
            raise ProblemError("vertices must be a count or a list of vertex numbers")
        if not mentioned <= set(vertices):
            raise ProblemError(f"an edge uses vertex {min(mentioned - set(vertices))}, which "
                               "is not among the graph's vertices")
        if not vertices or len(vertices) > MAX_VERTICES:
            raise ProblemError(f"a graph needs 1 to {MAX_VERTICES} vertices")
        colors = data.get("colors")
        if colors is not None and (not isinstance(colors, int) or isinstance(colors, bool)
                                   or colors < 1):
            raise ProblemError("colors must be a positive integer")
        if colors is not None and colors > MAX_VERTICES:
            raise ProblemError(f"colors must be at most {MAX_VERTICES}, not {colors}")
        if not isinstance(minimize, bool):
            raise ProblemError("minimize must be true or false")
        require_all = data.get("require_all_vertices", False)
        if not isinstance(require_all, bool):
            raise ProblemError("require_all_vertices must be true or false")
        payload = {"vertices": vertices, "edges": [list(e) for e in sorted(seen)],
                   "colors": colors, "minimize": minimize}
        if require_all:  # only when set, so the hashes of existing problems stay as they were
            payload["require_all_vertices"] = True
        return payload

    def generate_problems(self, count: int, seed: int = 0, *, vertices: int = 12,
                          colors: int = 3, density: float = 0.35) -> list[Problem]:
        """``count`` k-colourable graphs, deterministic for ``seed``: a hidden colouring is
        planted and only edges between differently coloured vertices are drawn."""
        rng = random.Random(seed)
        out = []
        for _ in range(count):
            hidden = [rng.randrange(colors) for _ in range(vertices)]
            edges = [[u, v] for u in range(vertices) for v in range(u + 1, vertices)
                     if hidden[u] != hidden[v] and rng.random() < density]
            out.append(self.parse_problem({"edges": edges, "vertices": vertices,
                                           "colors": colors}))
        return out

    # -- prompts ----------------------------------------------------------------------

    def render_prompt(self, problem: Problem) -> str:
        return "\n".join([*self._instance_lines(problem), self.answer_instruction(problem)])

    def _instance_lines(self, problem: Problem) -> list[str]:
        p = problem.payload
        vs = p["vertices"]
        lines = ["Color the following graph, described as a set of edges, such that no two "
                 "vertices on the same edge share a color."]
        if p["colors"] is not None:
            lines.append(f"You may use at most {p['colors']} colors, the numbers 1 to "
                         f"{p['colors']}.")
        if p["minimize"]:
            lines.append("Use as few colors as possible; colors are the numbers 1, 2, 3, ...")
        lines.extend(f"Vertex {u} is connected to vertex {v}." for u, v in p["edges"])
        lines.append(f"There are a total of {len(vs)} vertices ({vs[0]} to {vs[-1]}). "
                     "Please label every vertex, even if it is disconnected from the rest of "
                     "the graph.")
        return lines

    def answer_instruction(self, problem: Problem) -> str:
        return ('Give each vertex\'s color on its own line, formatted as '
                '"{VERTEX NUMBER}: {COLOR}", and nothing else.')

    def structured_output(self, problem: Problem) -> StructuredOutput | None:
        p = problem.payload
        if len(p["vertices"]) > _GRAMMAR_MAX_VERTICES:
            return None
        # more colours than vertices are never needed (and k may be huge)
        k = min(p["colors"] or len(p["vertices"]), len(p["vertices"]))
        colour = " | ".join(f'"{c}"' for c in range(1, k + 1))
        body = " ".join(f'"{v}: " c "\\n"' for v in p["vertices"])
        return Grammar(ebnf=f"root ::= {body}\nc ::= {colour}\n")

    # -- answers ----------------------------------------------------------------------

    def answer_limit(self, problem: Problem) -> int:
        return max(self.max_answer_chars, 40 * len(problem.payload["vertices"]))

    def parse_fallback(self, problem: Problem, completion: str) -> Candidate:
        pairs = [[m.group(1), m.group(2).strip()] for line in completion.splitlines()
                 if (m := _LINE.fullmatch(line.replace("**", "").strip()))
                 and m.group(2).strip()]
        if not pairs:
            return Candidate(raw=completion, parse_error="no `vertex: color` lines and no "
                                                         "JSON coloring in the reply")
        return Candidate(raw=completion, answer={"coloring": pairs})

    # -- stepwise: one vertex's colour per step --------------------------------------

    def _remaining(self, problem: Problem, prefix: Sequence[Step]) -> list[int]:
        """The vertices the prefix has not coloured, in the fixed order."""
        done = {s.data.get("vertex") for s in prefix}
        return [v for v in problem.payload["vertices"] if v not in done]

    def step_messages(self, problem: Problem, prefix: Sequence[Step]) -> list[Message]:
        lines = self._instance_lines(problem)
        if prefix:
            lines.append("The colors given so far:")
            lines.extend(s.text for s in prefix)
        remaining = self._remaining(problem, prefix)
        k = problem.payload["colors"]
        colours = f"a number from 1 to {k}" if k is not None else "a number 1, 2, 3, ..."
        if not remaining:
            lines.append("Every vertex has a color.")
        else:
            lines.append(next_step_request(remaining, "vertex", "vertices",
                                           'color as "{first}: COLOR"', f"COLOR is {colours}"))
        return step_messages_of(self.system_prompt(), lines)

    def parse_steps(self, problem: Problem, prefix: Sequence[Step], completion: str
                    ) -> StepParse:
        remaining = self._remaining(problem, prefix)
        if not remaining:
            return StepParse(error="every vertex is already coloured")
        steps: list[Step] = []
        first = True
        for line in step_lines(completion, self.answer_limit(problem)):
            if len(steps) == len(remaining):
                break
            expected = remaining[len(steps)]
            colour_text: str | None = None
            if m := _LINE.fullmatch(line):
                vertex = int(m.group(1))
                if vertex != expected:
                    if steps:
                        break
                    return StepParse(error=f"vertex {expected} comes next, but the reply "
                                           f"colours vertex {vertex}")
                colour_text = m.group(2).strip()
            elif first and _STEP_COLOUR.fullmatch(line):
                colour_text = line  # just the colour, for the vertex asked for
            first = False
            colour = _STEP_COLOUR.fullmatch(colour_text) if colour_text is not None else None
            if colour is None:
                if steps or colour_text is not None:
                    break
                continue  # prose before the first step
            c = int(colour.group(1))
            steps.append(Step(text=f"{expected}: {c}", data={"vertex": expected, "color": c}))
        if not steps:
            return StepParse(error=f"no `{remaining[0]}: COLOR` line in the reply")
        return StepParse(steps=tuple(steps))

    def prefix_candidate(self, problem: Problem, steps: Sequence[Step]) -> Candidate:
        pairs = [[s.data.get("vertex"), s.data.get("color")] for s in steps]
        return Candidate(raw="\n".join(s.text for s in steps),
                         answer={"coloring": pairs, "partial": True})

    def assemble(self, problem: Problem, steps: Sequence[Step]) -> str:
        """``{"coloring": {"0": 2, ...}}``, written pair by pair so that a vertex given twice
        stays given twice (the check reports it)."""
        items = ", ".join(f"{json.dumps(str(s.data.get('vertex')))}: "
                          f"{json.dumps(s.data.get('color'), default=str)}" for s in steps)
        return f'{{"coloring": {{{items}}}}}'

    def max_steps(self, problem: Problem) -> int:
        return len(problem.payload["vertices"])

    def step_structured(self, problem: Problem, prefix: Sequence[Step], steps: int,
                        exclude: Collection[str] = frozenset()) -> StructuredOutput | None:
        """``V: COLOR`` lines for the next ``steps`` vertices in order, colours 1..k (only
        shapes sampling: every step is still read and checked)."""
        remaining = self._remaining(problem, prefix)[: max(1, steps)]
        vertices = problem.payload["vertices"]
        if not remaining or len(vertices) > _GRAMMAR_MAX_VERTICES:
            return None
        k = min(problem.payload["colors"] or len(vertices), len(vertices))
        if steps > 1:
            return assignment_grammar(remaining, "{key}: ", k, (), "")
        return assignment_grammar(remaining[:1], "{key}: ", k, exclude,
                                  "every colour of vertex {key} was tried")

    def step_stop(self, problem: Problem) -> list[str] | None:
        return ["\n"]
