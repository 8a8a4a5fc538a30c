"""Natural-language renderings of a planning domain, PlanBench style.

A :class:`Templates` holds a PlanBench config's ``actions`` (``"unstack the {}
from on top of the {}"``), ``predicates`` and ``encoded_objects`` (``a`` ->
``red block``, or a prefix rule ``l`` -> ``location_{}_{}`` filled with the
name's digits) and ``domain_intro``. It renders actions and facts as English
and reads English plan steps back as PDDL actions, by matching each action's
template as a regular expression whose slots are the problem's object names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from llm_modulo.bounds import read_text_capped, yaml_load_plain
from llm_modulo.errors import ProblemError
from llm_modulo.verifiers.pddl.sexpr import fold

#: PlanBench's templates are a few kilobytes.
MAX_TEMPLATES_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Templates:
    actions: dict[str, str]
    predicates: dict[str, str] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)
    intro: str = ""

    @classmethod
    def from_config(cls, config: Any, where: str = "config") -> Templates:
        if not isinstance(config, Mapping):
            raise ProblemError(f"{where}: templates must be a mapping with an `actions` mapping")
        actions = config.get("actions")
        if not isinstance(actions, dict) or not actions:
            raise ProblemError(f"{where}: needs an `actions` mapping of action templates")

        def strings(key: str) -> dict[str, str]:
            value = config.get(key) or {}
            if not isinstance(value, dict):
                raise ProblemError(f"{where}: `{key}` must be a mapping")
            return {fold(str(k)): str(v) for k, v in value.items()}

        intro = config.get("domain_intro", "")
        return cls(strings("actions"), strings("predicates"), strings("encoded_objects"),
                   str(intro or ""))

    @classmethod
    def load(cls, path: Path) -> Templates:
        text = read_text_capped(path, "templates", limit=MAX_TEMPLATES_BYTES,
                                encoding="utf-8-sig")
        data = yaml_load_plain(text, f"templates {path}")
        if not isinstance(data, dict):
            raise ProblemError(f"templates {path} must be a YAML mapping")
        return cls.from_config(data, str(path))

    def to_config(self) -> dict[str, Any]:
        return {"actions": self.actions, "predicates": self.predicates,
                "encoded_objects": self.objects, "domain_intro": self.intro}

    # -- rendering ------------------------------------------------------------------------

    def object_name(self, obj: str) -> str:
        """``a`` -> ``red block``; by a prefix rule ``l1-0`` -> ``location_1_0``.

        A rule applies when the name is its prefix followed by numbers (separated by ``-`` or
        ``_``), one per ``{}``: ``p10`` -> ``package_10``, ``o12`` -> ``object_12``.
        """
        name = self.objects.get(obj)
        if name is not None and "{}" not in name:
            return name
        for prefix, rule in self._rules:
            rest = obj[len(prefix):]
            if obj.startswith(prefix) and _NUMBERS.fullmatch(rest):
                numbers = re.findall(r"\d+", rest)
                if rule.count("{}") == len(numbers):
                    return fill(rule, numbers)
        return obj

    @cached_property
    def _rules(self) -> list[tuple[str, str]]:
        """The prefix rules (values with ``{}``), longest prefix first."""
        return sorted(((k, v) for k, v in self.objects.items() if "{}" in v),
                      key=lambda kv: -len(kv[0]))

    def action_text(self, action: str, args: Iterable[str]) -> str | None:
        template = self.actions.get(action)
        names = [self.object_name(a) for a in args]
        if template is None or template.count("{}") != len(names):
            return None
        return fill(template, names)

    def fact_text(self, atom: tuple[str, ...]) -> str | None:
        template = self.predicates.get(atom[0])
        if not template or template.count("{}") != len(atom) - 1:
            return None
        return fill(template, [self.object_name(a) for a in atom[1:]])

    def facts_text(self, atoms: Iterable[tuple[str, ...]]) -> str:
        """PlanBench's sentence: ``a, b, c and d`` over the atoms sorted by name."""
        texts = [t for a in sorted(atoms, key=lambda a: " ".join(a))
                 if (t := self.fact_text(a)) is not None]
        if len(texts) > 1:
            return ", ".join(texts[:-1]) + f" and {texts[-1]}"
        return texts[0] if texts else ""

    # -- reading --------------------------------------------------------------------------

    def reader(self, objects: Iterable[str]) -> NLReader:
        return NLReader(self, tuple(sorted(objects)))


def fill(template: str, values: Sequence[str]) -> str:
    """``template`` with each ``{}`` replaced by the next value (no other brace is special)."""
    pieces = template.split("{}")
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out += [value, piece]
    return "".join(out)


_SPACES = re.compile(r"\s+")
_NUMBERS = re.compile(r"\d+(?:[-_]\d+)*")
_TRAILING = " .;,!"
MAX_READINGS = 16


def normalize(text: str) -> str:
    """Lower-cased (ASCII), single-spaced, without a final full stop."""
    return _SPACES.sub(" ", fold(text).strip()).rstrip(_TRAILING)


class NLReader:
    """English plan steps -> every (action, args) reading, for one problem's objects.

    Text and templates are compared after :func:`normalize`; where a template has a space
    the text needs one, where it has none the text may have none, and a slot is exactly
    one object's name. Every way of reading the line is found (names that are prefixes of
    each other, like "red block" and "red block 2", or templates that share words), so an
    ambiguous line is seen as such and never silently read one way.
    """

    def __init__(self, templates: Templates, objects: tuple[str, ...]) -> None:
        self.templates = templates
        self.by_name: dict[str, str] = {}
        clashes: set[str] = set()
        for o in objects:
            name = normalize(templates.object_name(o))
            if name in self.by_name or not name:
                clashes.add(name)
            self.by_name[name] = o
        for name in clashes:
            self.by_name.pop(name, None)
        self.names = sorted(self.by_name, key=len, reverse=True)

    @cached_property
    def patterns(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each action's template as its literal pieces between the slots, normalized."""
        out = []
        for action, template in self.templates.actions.items():
            pieces = [_SPACES.sub(" ", fold(p)) for p in template.split("{}")]
            pieces[0] = pieces[0].lstrip()
            pieces[-1] = pieces[-1].rstrip().rstrip(_TRAILING)
            out.append((action, tuple(pieces)))
        return out

    def read(self, line: str) -> list[tuple[str, tuple[str, ...]]]:
        """Every distinct (action, args) reading of ``line`` (none if it is no action).

        More than :data:`MAX_READINGS` readings are cut off; any two mean ambiguity. The
        search is memoized on (position, piece), so names that are prefixes of each other
        cannot make it exponential.
        """
        text = normalize(line)
        found: list[tuple[str, tuple[str, ...]]] = []
        for action, pieces in self.patterns:
            memo: dict[tuple[int, int], list[tuple[str, ...]]] = {}
            for args in self._match(text, 0, pieces, 0, memo):
                if (action, args) not in found:
                    found.append((action, args))
                if len(found) > MAX_READINGS:
                    return found
        return found

    def _match(self, text: str, pos: int, pieces: tuple[str, ...], k: int,
               memo: dict[tuple[int, int], list[tuple[str, ...]]]) -> list[tuple[str, ...]]:
        """The argument tuples that read ``text[pos:]`` as ``pieces[k:]``."""
        key = (pos, k)
        if key in memo:
            return memo[key]
        out: list[tuple[str, ...]] = []
        piece = pieces[k]
        if text.startswith(piece, pos):
            pos += len(piece)
            if k == len(pieces) - 1:
                if pos == len(text):
                    out.append(())
            else:
                for name in self.names:
                    if text.startswith(name, pos):
                        for rest in self._match(text, pos + len(name), pieces, k + 1, memo):
                            out.append((self.by_name[name], *rest))
                            if len(out) > MAX_READINGS:
                                break
                    if len(out) > MAX_READINGS:
                        break
        memo[key] = out
        return out
