"""Process labels from stored search trees: the paths the ``prm`` export writes.

A node's label is its sound prefix verdict: True for ACCEPT (the prefix may still be part of
a correct answer as far as the check can prove), False for REJECT (proven dead). Nothing else
is a label: an UNKNOWN verdict, an unsound verifier's verdict, a node without a step or a
verdict, and a complete prefix whose whole answer the corpus no longer trusts (its solution
was flagged by a later verifier, or the whole-answer check rejected what the prefix check
accepted) all end the path *before* that node.

A row is a maximal labelled path from the root: it ends at a REJECT (inclusive: nothing below
a dead prefix is followed) or at an ACCEPT none of whose children carries a label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llm_modulo.types import Problem, Step


@dataclass(frozen=True, slots=True)
class Node:
    """One stored node, as the ``prm`` export reads it."""

    id: int
    parent: int | None
    step_text: str | None
    step_data: str | None
    status: str | None
    sound: bool
    terminal: bool
    verifier: str | None
    verifier_version: str | None
    #: the linked whole-answer attempt: its status when it was a sound verdict, else None
    attempt_status: str | None = None
    #: that attempt's answer is a stored solution a later verifier flagged
    attempt_flagged: bool = False


def label(node: Node) -> bool | None:
    """The node's process label, or None when it has none."""
    if node.step_text is None or not node.sound or node.status not in ("accept", "reject"):
        return None
    accepted = node.status == "accept"
    if node.terminal and accepted and (node.attempt_flagged or node.attempt_status == "reject"):
        return None  # the complete prefix's answer is not trusted today: no label either way
    return accepted


def labelled_paths(nodes: Iterable[Node]) -> list[tuple[list[Node], list[bool]]]:
    """Every maximal labelled path from the root (node 0), depth first, children by id."""
    children: dict[int, list[Node]] = defaultdict(list)
    for n in nodes:
        if n.parent is not None and n.id != 0:
            children[n.parent].append(n)
    out: list[tuple[list[Node], list[bool]]] = []
    # iterative: a deep (or a hostile) tree never exhausts the stack; a cycle is never reached
    # from the root, since every node of a cycle has its parent inside the cycle
    stack: list[tuple[int, list[Node], list[bool]]] = [(0, [], [])]
    while stack:
        node_id, path, labels = stack.pop()
        follow: list[tuple[int, list[Node], list[bool]]] = []
        leaf = True
        for child in sorted(children.get(node_id, ()), key=lambda c: c.id):
            value = label(child)
            if value is None:
                continue
            leaf = False
            if value:
                follow.append((child.id, [*path, child], [*labels, True]))
            else:
                out.append(([*path, child], [*labels, False]))
        if leaf and path:
            out.append((path, labels))
        stack.extend(reversed(follow))
    return out


def prompt_text(messages: Sequence[dict[str, Any]]) -> str:
    """The tree's root prompt as one string (TRL's stepwise rows take a plain prompt): the
    contents of the messages up to and including the first user turn, a blank line apart."""
    end = next((i for i, m in enumerate(messages) if m.get("role") == "user"), 0)
    return "\n\n".join(str(m.get("content", "")) for m in messages[: end + 1])


def check_prefix_of(domain: Any, verifier: Any, problem: Problem, steps: list[Step]) -> Any:
    """Worker side of a prefix re-check (``export --reverify``)."""
    return verifier.check_prefix(problem, domain.prefix_candidate(problem, steps))
