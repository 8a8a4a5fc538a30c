"""The PDDL domains and English plan templates that ship with the validator (PlanBench's
blocksworld, mystery blocksworld, logistics, depots and the obfuscated logistics variants;
see ``data/planbench/PROVENANCE.md``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from llm_modulo.bounds import trusted_file_reads
from llm_modulo.errors import ProblemError
from llm_modulo.verifiers.pddl.nl import Templates

DATA = Path(__file__).parent / "data" / "planbench"


def packaged_names() -> list[str]:
    """The names of the packaged domains (``blocksworld``, ``logistics``, ...)."""
    return sorted(p.stem for p in DATA.glob("*.pddl"))


def _plain(name: str) -> bool:
    """A packaged name: letters, digits and ``_`` (never a path out of the data folder)."""
    return bool(name) and len(name) <= 100 and name.replace("_", "").isalnum() \
        and name.isascii()


def has_templates(name: str) -> bool:
    return _plain(name) and (DATA / f"{name}.yaml").is_file()


@cache
def packaged_domain(name: str) -> str:
    path = DATA / f"{name}.pddl"
    if not _plain(name) or not path.is_file():
        raise ProblemError(f"no packaged PDDL domain named {name!r}")
    return path.read_text()


@cache
def packaged_templates(name: str) -> Templates:
    path = DATA / f"{name}.yaml"
    if not has_templates(name):
        raise ProblemError(f"no packaged templates named {name[:100]!r}")
    with trusted_file_reads():  # the package's own file, also for a problem from a client
        return Templates.load(path)
