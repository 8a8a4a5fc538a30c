"""The layout's promises: one import package, a core that never imports a plugin, verifiers
that never import a domain, no import cycles, and a wheel that installs beside PrimeIntellect's
``verifiers`` distribution without either breaking the other."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE, VERIFIERS, DOMAINS = ROOT / "llm_modulo", ROOT / "verifiers", ROOT / "domains"
#: Where bootstrap.sh puts the PyPI ``verifiers`` wheel this test installs beside ours.
WHEELS = ROOT / ".cache" / "test-wheels"


def _module_name(path: Path) -> str:
    if path.is_relative_to(VERIFIERS):
        parts = ("llm_modulo", "verifiers", *path.relative_to(VERIFIERS).with_suffix("").parts)
    elif path.is_relative_to(DOMAINS):
        parts = ("llm_modulo", "domains", *path.relative_to(DOMAINS).with_suffix("").parts)
    else:
        parts = ("llm_modulo", *path.relative_to(CORE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*.py")):
        if folder == CORE and path.relative_to(CORE).parts[0] in ("verifiers", "domains"):
            continue  # the symlinks: those files are checked as plugins
        yield path


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Absolute module names ``path`` imports (``from a import b`` counts ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_core_never_imports_a_plugin() -> None:
    offenders = [(str(p.relative_to(ROOT)), name) for p in _sources(CORE) for name in _imports(p)
                 if _under(name, "llm_modulo.verifiers") or _under(name, "llm_modulo.domains")]
    assert offenders == []


def test_a_verifier_never_imports_a_domain() -> None:
    offenders = [(str(p.relative_to(ROOT)), name) for p in _sources(VERIFIERS)
                 for name in _imports(p) if _under(name, "llm_modulo.domains")]
    assert offenders == []


def test_nothing_imports_the_bare_folder_names() -> None:
    """``verifiers`` and ``domains`` are folders of this repository, not import names: an
    import of them would load a second copy of every module (and collide with PyPI's
    ``verifiers``)."""
    offenders = []
    for folder in (CORE, VERIFIERS, DOMAINS, ROOT / "tests", ROOT / "benchmarks"):
        for path in sorted(folder.rglob("*.py")):
            if "plugin_dist" in path.parts:
                continue
            offenders += [(str(path.relative_to(ROOT)), name) for name in _imports(path)
                          if _under(name, "verifiers") or _under(name, "domains")]
    assert offenders == []


def test_no_import_cycles_at_module_level() -> None:
    modules = {_module_name(p): p for f in (CORE, VERIFIERS, DOMAINS) for p in _sources(f)}
    graph = {name: {m for m in _imports(path, top_level_only=True) if m in modules and m != name}
             for name, path in modules.items()}
    # a package's __init__ importing its own submodules is not a cycle
    for name in graph:
        graph[name] = {m for m in graph[name] if not _under(m, name)}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend([*stack[stack.index(nxt):], node, nxt] if nxt in stack
                             else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*stack, node]):
                return True
        state[node] = 2
        return False

    for name in sorted(graph):
        if state.get(name) is None and visit(name, []):
            break
    assert cycle == []


def test_the_symlinks_are_the_plugin_folders() -> None:
    assert (CORE / "verifiers").resolve() == VERIFIERS
    assert (CORE / "domains").resolve() == DOMAINS


@pytest.mark.skipif(not list(WHEELS.glob("verifiers-*.whl")),
                    reason="bootstrap.sh downloads the PyPI verifiers wheel for this test")
def test_the_wheel_installs_beside_pypi_verifiers(tmp_path: Path) -> None:
    """Build our wheel, install it and PyPI's ``verifiers`` into one target, and use both."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(ROOT)], check=True, capture_output=True,
                   timeout=600)
    ours = next(dist.glob("llm_modulo-*.whl"))
    theirs = next(WHEELS.glob("verifiers-*.whl"))
    site = tmp_path / "site"
    for wheel in (ours, theirs):
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                        "--target", str(site), str(wheel)], check=True, capture_output=True,
                       timeout=600)
    names = sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info"))
    assert "verifiers" in names and "llm_modulo" in names and "domains" not in names
    assert (site / "llm_modulo" / "verifiers" / "pddl" / "data" / "planbench"
            / "blocksworld.pddl").is_file()
    assert (site / "llm_modulo" / "py.typed").is_file()
    code = (
        "import importlib.metadata as md, sys\n"
        "import verifiers\n"
        "assert verifiers.__file__.startswith(sys.argv[1]), verifiers.__file__\n"
        "assert verifiers.__version__ == md.version('verifiers'), verifiers.__version__\n"
        "import llm_modulo\n"
        "assert llm_modulo.__file__.startswith(sys.argv[1]), llm_modulo.__file__\n"
        "from llm_modulo.registry import default_registry\n"
        "dom, ver = default_registry.domain_and_verifier('game24')\n"
        "problem = dom.parse_problem('4 4 6 8')\n"
        "candidate = dom.parse_candidate(problem, '{\"expression\": \"(4+8)*(6-4)\"}')\n"
        "print(ver.check(problem, candidate).status.value, verifiers.__version__)\n"
    )
    # only the target and the venv's dependencies: not this checkout, not its editable install
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, "
                           f"{str(site)!r}); exec({code!r})", str(site)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    status, version = done.stdout.split()
    assert status == "accept" and version == theirs.name.split("-")[1]
