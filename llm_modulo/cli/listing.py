"""``verifiers`` and ``domains``: what is registered, and which plugins failed to load."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from llm_modulo.cli.common import (
    EXIT_USAGE,
    JsonOpt,
    err,
    out,
)
from llm_modulo.errors import PluginLoadError
from llm_modulo.registry import default_registry


def verifiers(as_json: JsonOpt = False) -> None:
    """List registered verifiers with versions and origins (exit 2 if a plugin failed)."""
    rows: list[dict[str, Any]] = [
        {"name": e.name, "version": e.cls.version, "sound": e.cls.sound, "origin": e.origin,
         "class": f"{e.cls.__module__}.{e.cls.__qualname__}"}
        for e in default_registry.verifiers.entries()]
    if as_json:  # the vocabulary is long: JSON only
        for row, e in zip(rows, default_registry.verifiers.entries(), strict=True):
            row["critique_kinds"] = e.cls.vocabulary()
    _print_listing("verifiers", rows, default_registry.verifiers.errors(), as_json)


def domains(as_json: JsonOpt = False) -> None:
    """List registered domains with versions, verifiers and origins (exit 2 if a plugin failed)."""
    rows = [{"name": e.name, "version": e.cls.version, "verifier": e.cls.verifier,
             "origin": e.origin, "class": f"{e.cls.__module__}.{e.cls.__qualname__}"}
            for e in default_registry.domains.entries()]
    _print_listing("domains", rows, default_registry.domains.errors(), as_json)


def _print_listing(what: str, rows: list[dict[str, Any]], errors: list[PluginLoadError],
                   as_json: bool) -> None:
    if as_json:
        broken = [{"name": e.name, "entry_point": e.value, "group": e.group, "error": e.error}
                  for e in errors]
        sys.stdout.write(json.dumps({what: rows, "errors": broken}) + "\n")
    else:
        table = Table(*(rows[0].keys() if rows else ["name"]))
        for row in rows:
            table.add_row(*(("yes" if v else "no") if isinstance(v, bool) else str(v)
                            for v in row.values()))
        out.print(table)
    for e in errors:
        err.print(f"[bold red]plugin failed to load:[/] {escape(str(e))}", highlight=False,
                  soft_wrap=True)
    if errors:
        raise typer.Exit(EXIT_USAGE)




def strategies(as_json: JsonOpt = False) -> None:
    """List registered strategies, their options and origins (exit 2 if a plugin failed)."""
    rows: list[dict[str, Any]] = []
    for e in default_registry.strategies.entries():
        described = e.cls.describe()
        options = described["options"]
        rows.append({"name": e.name, "stepwise": e.cls.stepwise,
                     "options": options if as_json else
                     ", ".join(f"{k}={v['default']}" for k, v in options.items()) or "-",
                     "description": e.cls.description, "origin": e.origin})
    _print_listing("strategies", rows, default_registry.strategies.errors(), as_json)
