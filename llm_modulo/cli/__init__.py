"""The ``llm-modulo`` command line.

Exit status: 0 success / accept, 1 reject / not solved, 2 usage or input error,
3 unknown (``check``), 4 generator, model-server or setup failure.

One module per command family (:mod:`.solving`, :mod:`.checking`, :mod:`.listing`,
:mod:`.serving`; the corpus commands live with the corpus). Plugins add commands through
the ``llm_modulo.commands`` entry-point group and use :mod:`llm_modulo.cli.common`
(``app``, ``out``, ``err``, ``errors_as_messages``, the shared options).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape

from llm_modulo.cli import checking, generating, improving, listing, serving, solving
from llm_modulo.cli.common import (
    JsonOpt,
    app,
    err,
    errors_as_messages,
    one_line,
    out,
)
from llm_modulo.corpus.cli import register as register_corpus_commands
from llm_modulo.study import cli as study_cli

__all__ = [
    "JsonOpt",
    "add_plugin_commands",
    "app",
    "checking",
    "err",
    "errors_as_messages",
    "listing",
    "main",
    "out",
    "serving",
    "solving",
]

app.command()(solving.solve)
app.command()(checking.check)
app.command()(solving.run)
app.command()(solving.demo)
app.command()(generating.generate)
app.command()(improving.improve)
app.command()(listing.verifiers)
app.command()(listing.domains)
app.command()(listing.strategies)
app.command()(serving.serve)
app.command("fetch-model")(serving.fetch_model)
app.command("serve-verifiers")(serving.serve_verifiers)
app.command()(study_cli.study)
register_corpus_commands(app, errors_as_messages, out, err)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwind: context managers stop servers, files close


COMMANDS_GROUP = "llm_modulo.commands"


def add_plugin_commands(argv: list[str] | None = None) -> None:
    """Add the commands plugins declare in the ``llm_modulo.commands`` entry-point group
    (the built-in ``validate`` and ``fetch-lean`` come the same way). Each entry point is a
    function ``register(app: typer.Typer) -> None``; its name is the command's name.

    Given ``argv``, a core command loads no plugin and a plugin command loads only its own
    entry point; help and unknown commands load them all. A plugin that fails to load is
    reported in one line, and the other commands keep working.
    """
    from llm_modulo.registry import allowed_entry_points

    core = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    core |= {g.name for g in app.registered_groups if g.name}
    first = next((a for a in argv or [] if not a.startswith("-")), None)
    if first in core:
        return
    found = allowed_entry_points(COMMANDS_GROUP)
    if any(ep.name == first for ep in found):
        found = [ep for ep in found if ep.name == first]
    for ep in found:
        if ep.name in _added_commands:
            continue
        try:
            ep.load()(app)
        except Exception as exc:
            err.print(f"[bold red]error:[/] command plugin {escape(ep.name)} "
                      f"({escape(ep.value)}) failed to load: "
                      f"{escape(one_line(f'{type(exc).__name__}: {exc}'))}",
                      highlight=False, soft_wrap=True)
            continue
        _added_commands.add(ep.name)


_added_commands: set[str] = set()


def _click_exceptions() -> Any:
    try:  # typer >= 0.2x vendors click
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer on real click
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    exceptions = _click_exceptions()
    add_plugin_commands(sys.argv[1:])
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except exceptions.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except exceptions.ClickException as exc:  # a bad flag or value: one line, not a box
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err.print(f"[bold red]error:[/] {escape(one_line(exc.format_message()) + hint)}",
                  highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except SystemExit as exc:
        if exc.code == 128 + signal.SIGTERM:
            err.print("terminated: what was finished is kept; run the command again to resume")
        raise
    if code == 130:  # typer turns Ctrl-C into exit status 130
        err.print("interrupted: what was finished is kept; run the command again to resume")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
