"""Registry: decorators, duplicates, entry points, and a real installed plugin distribution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_modulo import (
    CheckResult,
    DuplicateNameError,
    PluginLoadError,
    Registry,
    UnknownNameError,
    Verifier,
)
from llm_modulo.domains.game24 import Game24Domain
from llm_modulo.registry import default_registry
from llm_modulo.verifiers.game24.verifier import Game24Verifier

PLUGIN_DIST = Path(__file__).parent / "plugin_dist"


class One(Verifier):
    name = "one"

    def check(self, problem, candidate):  # type: ignore[no-untyped-def]
        return CheckResult.accept()


class OtherOne(Verifier):
    name = "one"

    def check(self, problem, candidate):  # type: ignore[no-untyped-def]
        return CheckResult.accept()


def test_register_and_get() -> None:
    reg = Registry()
    reg.register_verifier(One)
    assert isinstance(reg.verifier("one"), One)
    reg.register_verifier(One)  # the same class again is harmless
    assert [e.name for e in reg.verifiers.entries() if e.name == "one"] == ["one"]


def test_duplicate_name_is_an_error() -> None:
    reg = Registry()
    reg.register_verifier(One)
    with pytest.raises(DuplicateNameError, match="already registered"):
        reg.register_verifier(OtherOne)


def test_unknown_name_lists_what_exists() -> None:
    with pytest.raises(UnknownNameError, match="game24"):
        Registry().domain("nope")


def test_not_a_verifier_is_refused() -> None:
    with pytest.raises(TypeError):
        Registry().register_verifier(dict)  # type: ignore[arg-type]


def test_builtins_come_from_entry_points() -> None:
    reg = Registry()
    assert reg.domains.get("game24") is Game24Domain
    assert reg.verifiers.get("game24") is Game24Verifier
    entry = next(e for e in reg.domains.entries() if e.name == "game24")
    assert entry.origin.startswith("entry point llm-modulo==")


def test_entry_points_load_lazily() -> None:
    reg = Registry()
    assert not reg.domains._loaded
    reg.domain("game24")
    assert not reg.domains._loaded  # a lookup loads only the plugin it names
    assert [e.name for e in reg.domains._entries.values()] == ["game24"]
    reg.domains.entries()
    assert reg.domains._loaded and len(reg.domains._entries) > 1


def test_a_game24_check_imports_no_sympy() -> None:
    code = ("import sys\n"
            "from llm_modulo.registry import default_registry\n"
            "default_registry.domain_and_verifier('game24')\n"
            "print('sympy' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_default_registry_domain_names_its_verifier() -> None:
    domain, verifier = default_registry.domain_and_verifier("game24")
    assert domain.verifier == verifier.name == "game24"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Really install the plugin distribution (pip, no network) into a private target."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "--target", str(target),
         str(PLUGIN_DIST)],
        check=True, capture_output=True, timeout=300,
    )
    assert list(target.glob("llm_modulo_parity-*.dist-info"))
    return target


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLM_MODULO_PLUGINS": "llm-modulo,llm-modulo-parity",
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "llm_modulo.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_installed_plugin_is_registered_and_usable(installed_plugin: Path) -> None:
    listing = json.loads(_cli(installed_plugin, "domains", "--json").stdout)
    parity = next(row for row in listing["domains"] if row["name"] == "parity")
    assert parity["origin"] == "entry point llm-modulo-parity==0.0.1"
    verifiers = json.loads(_cli(installed_plugin, "verifiers", "--json").stdout)
    assert "parity" in [row["name"] for row in verifiers["verifiers"]]
    accept = _cli(installed_plugin, "check", "--domain", "parity", "--problem", "4",
                  "--candidate", '{"even": true}', "--json")
    assert accept.returncode == 0, accept.stderr
    assert json.loads(accept.stdout)["status"] == "accept"
    reject = _cli(installed_plugin, "check", "--domain", "parity", "--problem", "5",
                  "--candidate", '{"even": true}', "--json")
    assert reject.returncode == 1
    assert json.loads(reject.stdout)["critiques"][0]["message"] == "the parity is wrong"


def test_broken_plugin_is_reported_not_skipped(installed_plugin: Path) -> None:
    listing = _cli(installed_plugin, "domains", "--json")
    assert listing.returncode == 2
    broken = json.loads(listing.stdout)["errors"]
    assert [b["name"] for b in broken] == ["broken"]
    assert "ModuleNotFoundError" in broken[0]["error"]
    assert "broken" in listing.stderr and "Traceback" not in listing.stderr
    used = _cli(installed_plugin, "check", "--domain", "broken", "--problem", "1",
                "--candidate", "x")
    assert used.returncode == 2
    assert "failed to load" in used.stderr and "Traceback" not in used.stderr


def test_plugin_load_error_carries_the_error() -> None:
    err = PluginLoadError("g", "n", "m:C", "ImportError: nope")
    assert "ImportError: nope" in str(err) and err.name == "n"


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_registering_from_a_fileless_main_says_what_to_do() -> None:
    """A class defined in a notebook/REPL cannot reach the workers: registration refuses it
    with a clear message instead of every later verdict being UNKNOWN."""
    code = (
        "from llm_modulo import CheckResult, Verifier, register_verifier\n"
        "from llm_modulo.errors import RegistryError\n"
        "class Mine(Verifier):\n"
        "    name = 'mine'\n"
        "    def check(self, problem, candidate):\n"
        "        return CheckResult.accept()\n"
        "try:\n"
        "    register_verifier(Mine)\n"
        "except RegistryError as exc:\n"
        "    print('refused:', exc)\n"
    )
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "module file" in done.stdout


def test_verify_from_a_fileless_main_explains_the_unknown() -> None:
    code = (
        "from llm_modulo import Candidate, CheckResult, Problem, Verifier\n"
        "class Mine(Verifier):\n"
        "    name = 'mine'\n"
        "    def check(self, problem, candidate):\n"
        "        return CheckResult.accept()\n"
        "if __name__ == '__main__':\n"
        "    problem = Problem(domain='d', payload={})\n"
        "    v = Mine().verify(problem, Candidate(raw='x', answer={'x': 1}))\n"
        "    print(v.status.value, v.critiques[0].message)\n"
    )
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("unknown ") and "module file" in done.stdout


def test_plugins_env_limits_which_distributions_load(installed_plugin: Path) -> None:
    only_ours = {"LLM_MODULO_PLUGINS": "llm-modulo"}
    env = {**os.environ, **only_ours,
           "PYTHONPATH": os.pathsep.join([str(installed_plugin), os.environ.get("PYTHONPATH", "")])}
    listing = subprocess.run([sys.executable, "-m", "llm_modulo.cli", "domains", "--json"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    names = [row["name"] for row in json.loads(listing.stdout)["domains"]]
    assert "game24" in names and "parity" not in names and "broken" not in names


def _fake_entry_point(name: str, value: str, dist: str) -> object:
    from importlib.metadata import EntryPoint

    class _Dist:
        version = "1.0"

    d = _Dist()
    d.name = dist  # type: ignore[attr-defined]
    ep = EntryPoint(name, value, "llm_modulo.verifiers")
    object.__setattr__(ep, "dist", d)
    return ep


def test_two_plugins_claiming_one_name_break_only_that_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_modulo import registry as registry_module

    eps = [
        _fake_entry_point("game24", "llm_modulo.verifiers.game24.verifier:Game24Verifier",
                          "llm-modulo"),
        _fake_entry_point("one", "tests.test_registry:One", "plugin-a"),
        _fake_entry_point("one", "tests.test_registry:OtherOne", "plugin-b"),
    ]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps)
    monkeypatch.setenv("LLM_MODULO_PLUGINS", "all")
    reg = Registry()
    assert isinstance(reg.verifier("game24"), Game24Verifier)  # other names still work
    with pytest.raises(PluginLoadError, match="already registered"):
        reg.verifier("one")
    assert [e.name for e in reg.verifiers.errors()] == ["one"]
    assert [e.name for e in reg.verifiers.entries()] == ["game24"]
