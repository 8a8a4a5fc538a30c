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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from llm_modulo.errors import ProblemError


@dataclass(frozen=True)
class Templates:
    actions: dict[str, str]
    predicates: dict[str, str] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)
    intro: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any], where: str = "config") -> Templates:
        actions = config.get("actions")
        if not isinstance(actions, dict) or not actions:
            raise ProblemError(f"{where}: needs an `actions` mapping of action templates")

        def strings(key: str) -> dict[str, str]:
            value = config.get(key) or {}
            if not isinstance(value, dict):
                raise ProblemError(f"{where}: `{key}` must be a mapping")
            return {str(k).lower(): str(v) for k, v in value.items()}

        intro = config.get("domain_intro", "")
        return cls(strings("actions"), strings("predicates"), strings("encoded_objects"),
                   str(intro or ""))

    @classmethod
    def load(cls, path: Path) -> Templates:
        import yaml

        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ProblemError(f"cannot read templates {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ProblemError(f"templates {path} are not valid YAML: "
                               f"{str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ProblemError(f"templates {path} must be a YAML mapping")
        return cls.from_config(data, str(path))

    def to_config(self) -> dict[str, Any]:
        return {"actions": self.actions, "predicates": self.predicates,
                "encoded_objects": self.objects, "domain_intro": self.intro}

    # -- rendering ------------------------------------------------------------------------

    def object_name(self, obj: str) -> str:
        if obj in self.objects:
            return self.objects[obj]
        rule = self.objects.get(obj[0]) if obj else None
        if rule is not None and "{}" in rule:
            digits = [c for c in obj if c.isdigit()]
            if rule.count("{}") == len(digits):
                return rule.format(*digits)
        return obj

    def action_text(self, action: str, args: Iterable[str]) -> str | None:
        template = self.actions.get(action)
        names = [self.object_name(a) for a in args]
        if template is None or template.count("{}") != len(names):
            return None
        return template.format(*names)

    def fact_text(self, atom: tuple[str, ...]) -> str | None:
        template = self.predicates.get(atom[0])
        if not template or template.count("{}") != len(atom) - 1:
            return None
        return template.format(*(self.object_name(a) for a in atom[1:]))

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


_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower()).rstrip(" .;,!")


class NLReader:
    """English plan steps -> candidate (action, args) readings, for one problem's objects."""

    def __init__(self, templates: Templates, objects: tuple[str, ...]) -> None:
        self.templates = templates
        self.by_name: dict[str, str] = {}
        clashes: set[str] = set()
        for o in objects:
            name = normalize(templates.object_name(o))
            if name in self.by_name:
                clashes.add(name)
            self.by_name[name] = o
        for name in clashes:
            del self.by_name[name]

    @cached_property
    def patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        names = sorted(self.by_name, key=len, reverse=True)
        slot = "(" + "|".join(re.escape(n) for n in names) + ")" if names else "(?!)"
        out = []
        for action, template in self.templates.actions.items():
            pieces = [re.escape(normalize(p)) if p.strip() else "" for p in template.split("{}")]
            pattern = ""
            for i, piece in enumerate(pieces):
                if i:
                    pattern += r"\s*" + slot + r"\s*"
                pattern += piece.replace(r"\ ", r"\s+")
            out.append((action, re.compile(pattern)))
        return out

    def read(self, line: str) -> list[tuple[str, tuple[str, ...]]]:
        """Every (action, args) reading of ``line``; usually one, none if it is no action."""
        text = normalize(line)
        found = []
        for action, pattern in self.patterns:
            m = pattern.fullmatch(text)
            if m:
                found.append((action, tuple(self.by_name[g] for g in m.groups())))
        return found
