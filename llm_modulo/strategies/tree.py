"""What the tree searches (``beam``, ``mcts``) share: the search tree they fill in
``ctx.tree``, the options read from one request's samples, and turning a domain's failure
into the end of this problem (never of the batch).

An *option* is one step proposed after a node's prefix: the first step a sample proposes, as
:meth:`~llm_modulo.strategy.SearchContext.extend` read and prefix-checked it. Its verdict is
the sound prefix check's and is stored unchanged in the tree (a process label when it is
ACCEPT or REJECT, never when UNKNOWN). A search's own bookkeeping ("nothing left to try
below this node") is kept beside the tree, never written into a verdict.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from llm_modulo.errors import CorpusError
from llm_modulo.stepwise import Extension, NoStepLeft
from llm_modulo.strategies.logprobs import mean_logprob
from llm_modulo.strategy import Generation, SearchContext, Stop
from llm_modulo.structured import StructuredOutput
from llm_modulo.types import (
    Attempt,
    Message,
    SearchNode,
    SearchTree,
    Status,
    Step,
    StopReason,
    Verdict,
)


@contextmanager
def domain_errors(ctx: SearchContext, what: str) -> Iterator[None]:
    """A domain's exception inside the block ends this problem with ``stop_reason=error``
    (budget stops and a failing corpus pass through unchanged)."""
    try:
        yield
    except (Stop, CorpusError, NoStepLeft):
        raise
    except Exception as exc:
        raise Stop(StopReason.ERROR, f"domain {ctx.domain.name} failed to {what}: "
                                     f"{type(exc).__name__}: {exc}") from None


def step_constraint(ctx: SearchContext, prefix: Sequence[Step], steps: int,
                    exclude: Collection[str] = frozenset()) -> StructuredOutput | None:
    """The domain's decoding constraint for the next ``steps`` steps (leaving out the step
    texts in ``exclude`` where it can), when the loop asks for structured output
    (``LoopConfig.structured``), else None. Raises :class:`NoStepLeft` when the constraint
    admits no untried step."""
    if not ctx.config.structured:
        return None
    with domain_errors(ctx, "build its step constraint"):
        return ctx.stepwise.step_structured(ctx.problem, prefix, steps, exclude)


def is_alive(verdict: Verdict | None) -> bool:
    """The prefix check found nothing wrong (it may still be part of a correct answer)."""
    return verdict is not None and verdict.status is Status.ACCEPT


def is_dead(verdict: Verdict | None) -> bool:
    """The prefix is proven dead: a sound REJECT (an unsound one proves nothing)."""
    return verdict is not None and verdict.status is Status.REJECT and verdict.sound


def is_complete(verdict: Verdict | None) -> bool:
    """The prefix check says the prefix is a whole answer (judge it with the full check)."""
    return is_alive(verdict) and verdict is not None and \
        verdict.evidence.get("complete") is True


@dataclass
class Option:
    """One distinct step proposed after a parent's prefix, with what its samples said."""

    step: Step
    verdict: Verdict
    completion: str
    #: how many samples proposed this step
    count: int
    #: the best mean token logprob among those samples (None: the endpoint gave none)
    logprob: float | None
    #: the first sample (index in the request) that proposed it
    order: int


def read_options(generation: Generation, extensions: Sequence[Extension],
                 known: set[str]) -> tuple[list[Option], int]:
    """The distinct options a request's samples propose (in sample order), leaving out the
    step texts in ``known`` (the parent's children already in the tree), and how many
    samples proposed no readable step."""
    options: dict[str, Option] = {}
    unreadable = 0
    for i, (choice, ext) in enumerate(zip(generation.choices, extensions, strict=True)):
        if not ext.steps or not ext.verdicts:
            unreadable += 1
            continue
        step, verdict = ext.steps[0], ext.verdicts[0]
        if step.text in known:
            continue
        logprob = mean_logprob(choice.logprobs)
        seen = options.get(step.text)
        if seen is None:
            options[step.text] = Option(step, verdict, choice.text, 1, logprob, i)
            continue
        seen.count += 1
        if seen.logprob is not None and logprob is not None:
            seen.logprob = max(seen.logprob, logprob)
        else:
            seen.logprob = None  # one sample without a logprob: no comparable score
    return list(options.values()), unreadable


class TreeBuilder:
    """Fills a :class:`SearchTree` (``ctx.tree``) and keeps each node's prefix and children."""

    def __init__(self, strategy: str, prompt: list[Message]) -> None:
        self.tree = SearchTree(strategy=strategy, prompt=prompt, nodes=[SearchNode(id=0)])
        self.children: list[list[int]] = [[]]
        self._prefixes: list[tuple[Step, ...]] = [()]
        self._texts: list[dict[str, int]] = [{}]

    def node(self, node_id: int) -> SearchNode:
        return self.tree.nodes[node_id]

    def prefix(self, node_id: int) -> tuple[Step, ...]:
        """The steps from the root down to ``node_id``."""
        return self._prefixes[node_id]

    def known(self, node_id: int) -> set[str]:
        """The step texts of ``node_id``'s children."""
        return set(self._texts[node_id])

    def child(self, node_id: int, text: str) -> int | None:
        """The child of ``node_id`` whose step is ``text``, if any."""
        return self._texts[node_id].get(text)

    def add(self, parent: int, step: Step, verdict: Verdict, completion: str, *,
            prior: float | None = None, value: float = 0.0) -> int:
        """A new child of ``parent`` for ``step`` (whose prefix check gave ``verdict``)."""
        node_id = len(self.tree.nodes)
        self.tree.nodes.append(SearchNode(
            id=node_id, parent=parent, depth=self.tree.nodes[parent].depth + 1, step=step,
            completion=completion, verdict=verdict, terminal=is_complete(verdict),
            prior=prior, value=value))
        self.children.append([])
        self._prefixes.append((*self._prefixes[parent], step))
        self._texts.append({})
        self.children[parent].append(node_id)
        self._texts[parent][step.text] = node_id
        return node_id

    def link(self, node_ids: Sequence[int], attempts: Sequence[Attempt]) -> Attempt | None:
        """Note at each node the whole-answer attempt judged there; the first accepted one."""
        accepted: Attempt | None = None
        for node_id, attempt in zip(node_ids, attempts, strict=True):
            self.tree.nodes[node_id].attempt = (attempt.round, attempt.sample)
            if accepted is None and attempt.verdict.accepted:
                accepted = attempt
        return accepted
