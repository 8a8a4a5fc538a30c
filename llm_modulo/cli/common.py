"""What every command shares: the Typer app, the consoles, exit codes, one-line errors,
the common options and the endpoint (given or embedded)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from llm_modulo.errors import GeneratorError, LLMModuloError, SetupError
from llm_modulo.types import FeedbackLevel

if TYPE_CHECKING:
    from llm_modulo.config import LoopConfig

app = typer.Typer(
    name="llm-modulo",
    help="LLM-Modulo: an LLM proposes, sound verifiers dispose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_REJECT, EXIT_USAGE, EXIT_UNKNOWN, EXIT_GENERATOR = 0, 1, 2, 3, 4
BASE_URL_ENV = "LLM_MODULO_BASE_URL"


MAX_ERROR_CHARS = 1000


def one_line(message: str) -> str:
    """An error message as one bounded line (a message may quote megabytes of input)."""
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    if len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}... ({len(text)} characters)"
    return text


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def errors_as_messages() -> Iterator[None]:
    """One clear line per known error, never a traceback."""
    try:
        yield
    except (GeneratorError, SetupError) as exc:
        fail(str(exc), EXIT_GENERATOR)
    except LLMModuloError as exc:
        fail(str(exc), EXIT_USAGE)


# -- shared options ----------------------------------------------------------------------

DomainOpt = Annotated[str, typer.Option("--domain", "-d", help="Registered domain name.")]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", envvar=BASE_URL_ENV,
                 help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1. "
                      "Default: start the embedded vLLM CPU server."),
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name (default: the "
                                                               "server's first model).")]
RoundsOpt = Annotated[int, typer.Option("--rounds", min=1, help="Generate-verify rounds.")]
SamplesOpt = Annotated[int, typer.Option("-n", "--samples", min=1, max=128,
                                         help="Samples per round.")]
FeedbackOpt = Annotated[FeedbackLevel, typer.Option("--feedback",
                                                    help="What back-prompts carry.")]
TemperatureOpt = Annotated[float, typer.Option("--temperature", min=0.0, max=5.0)]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=-(2**62), max=2**62,
                                             help="Sampling seed (round r uses seed + r - 1).")]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", min=1, max=2**31 - 1,
                                           help="Tokens per sample.")]
TokenBudgetOpt = Annotated[int | None, typer.Option("--token-budget", min=1,
                                                    help="Total tokens per problem.")]
WallTimeOpt = Annotated[float | None, typer.Option("--wall-time", min=0.001,
                                                   help="Seconds per problem.")]
StructuredOpt = Annotated[bool, typer.Option("--structured/--no-structured",
                                             help="Enforce the domain's output constraint "
                                                  "in decoding.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a report.")]
RequestTimeoutOpt = Annotated[float, typer.Option(
    "--request-timeout", min=0.001, max=86400.0,
    help="Seconds one model request may take in all: every try, every wait between tries "
         "and the whole answer (a server that trickles or stays silent is cut off).")]
StrategyOpt = Annotated[str, typer.Option(
    "--strategy", help="How the budget is spent: backprompt (default), best_of_n, beam, mcts "
                       "(`llm-modulo strategies` lists them and their options).")]
StrategyOptionOpt = Annotated[list[str] | None, typer.Option(
    "--strategy-option", "-O", metavar="KEY=VALUE",
    help="A strategy option (repeatable), e.g. -O beam_width=3.")]
GeneratedBudgetOpt = Annotated[int | None, typer.Option(
    "--generated-budget", min=1, help="Generated tokens per problem (every strategy "
                                      "honours it: the fair budget for comparisons).")]
RequestBudgetOpt = Annotated[int | None, typer.Option(
    "--request-budget", min=1, help="Generator requests per problem.")]
MAX_OPTION_CHARS = 1000

#: The default of --request-timeout (the client's DEFAULT_DEADLINE_S; the CLI does not
#: import the client to show its help).
DEFAULT_REQUEST_TIMEOUT_S = 600.0


def make_config(rounds: int, samples: int, feedback: FeedbackLevel, temperature: float,
            seed: int | None, max_tokens: int, token_budget: int | None,
            wall_time: float | None, structured: bool, concurrency: int = 64, *,
            strategy: str = "backprompt", strategy_options: list[str] | None = None,
            generated_budget: int | None = None, request_budget: int | None = None,
            fits: tuple[Any, Any] | None = None) -> LoopConfig:
    """The loop's configuration from command-line values; the strategy and its options are
    checked here (an unknown name, a bad option or, given ``fits=(domain, verifier)``, a
    domain the strategy cannot search is one line, exit 2)."""
    from llm_modulo.config import Budget, LoopConfig
    from llm_modulo.generator import SamplingParams
    from llm_modulo.registry import default_registry

    options = parse_strategy_options(strategy_options or [])
    chosen = default_registry.strategy(strategy, options)  # UsageError / UnknownNameError
    if fits is not None:
        chosen.check_fits(*fits)
    return LoopConfig(
        budget=Budget(rounds=rounds, samples=samples, max_tokens=token_budget,
                      max_generated_tokens=generated_budget, max_requests=request_budget,
                      wall_time_s=wall_time),
        feedback=feedback,
        sampling=SamplingParams(temperature=temperature, seed=seed, max_tokens=max_tokens),
        structured=structured,
        concurrency=concurrency,
        strategy=strategy,
        strategy_options=options,
    )


def parse_strategy_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs: a value that reads as a JSON number, boolean or null is that;
    anything else is a string (the strategy's options model validates both)."""
    from llm_modulo.errors import UsageError

    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier() or len(item) > MAX_OPTION_CHARS:
            raise UsageError(f"--strategy-option wants KEY=VALUE with a name as KEY, not "
                             f"{item[:80]!r}")
        if key in options:
            raise UsageError(f"--strategy-option {key} given twice")
        options[key] = _scalar(value.strip())
    return options


def _scalar(text: str) -> Any:
    import json

    if text in ("true", "false", "null") or ((text[:1].isdigit() or text[:1] in "-.") and \
            len(text) <= 40):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if value is None or isinstance(value, bool | int | float):
            return value
    return text


@contextlib.contextmanager
def endpoint(base_url: str | None, model: str | None) -> Iterator[tuple[str, str | None]]:
    """The given endpoint, or the embedded server started for the command's duration."""
    if base_url:
        yield base_url, model
        return
    from llm_modulo.embedded import EmbeddedServer

    err.print("[dim]no --base-url given: starting the embedded vLLM CPU server "
              "(SmolLM2-135M-Instruct); this takes about a minute...[/]")
    with err.status("starting vLLM ..."), EmbeddedServer() as server:
        pass_through = server
        err.print(f"[dim]vLLM ready at {server.base_url}[/]")
        yield pass_through.base_url, model or pass_through.model


