"""A reward function for TRL's ``GRPOTrainer`` (``reward_funcs=[...]``).

TRL calls it as ``f(prompts=..., completions=..., completion_ids=..., **columns)``: every
dataset column except ``prompt`` comes as a list, one value per completion. It reads the
problem from the columns our exports write (see :mod:`llm_modulo.rewards.rows`): load a
``verl`` export (``prompt``, ``data_source``, ``reward_model``, ``extra_info``) or a
``parquet`` export (``problem``, ``domain``, ``problem_hash``) with ``datasets`` and train.
Completions may be strings or conversational (lists of messages).

It returns 1.0 (sound ACCEPT), 0.0 (sound REJECT) and ``None`` for everything else: TRL
leaves a ``None`` reward out of the sample's reward (it becomes NaN, and the weighted sum
over reward functions skips it), so UNKNOWN never counts as wrong. A row of another domain
is ``None`` too (multi-task data: another reward function scores it).

The function is a picklable callable object (TRL's async GRPO ships reward functions to a
rollout process), with a ``__name__`` that TRL logs its reward under.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llm_modulo.rewards.core import (
    Pair,
    Scored,
    default_scorer,
    log,
    reward_of,
    shaped_reward_of,
    warn_unread,
)
from llm_modulo.rewards.rows import CorpusPayloads, OtherDomain, RowError, completion_text
from llm_modulo.rewards.rows import problem_of as _problem_of

#: Keyword arguments TRL passes that are not dataset columns.
_NOT_COLUMNS = frozenset({"prompts", "completions", "completion_ids", "trainer_state",
                          "log_extra", "log_metric", "environments"})


class LLMModuloReward:
    """``reward(prompts, completions, **kwargs) -> list[float | None]`` (see the module)."""

    def __init__(self, domain: str | None = None, *, shaped: bool = False,
                 corpus: str | Path | None = None, name: str | None = None) -> None:
        self.domain = domain
        self.shaped = shaped
        self.payloads = CorpusPayloads(corpus) if corpus is not None else None
        self.__name__ = name or f"llm_modulo_{domain or 'verified'}{'_shaped' if shaped else ''}"

    def pairs(self, completions: Sequence[Any], columns: Mapping[str, Any]
              ) -> tuple[list[Pair | None], list[tuple[int, str]]]:
        """The pairs to verify (``None``: unread) and the rows that could not be read."""
        n = len(completions)
        lists = {k: v for k, v in columns.items() if k not in _NOT_COLUMNS
                 and isinstance(v, (list, tuple)) and len(v) == n}
        pairs: list[Pair | None] = []
        errors: list[tuple[int, str]] = []
        for i, completion in enumerate(completions):
            try:
                row = {k: v[i] for k, v in lists.items()}
                problem = _problem_of(row, self.domain, self.payloads)
                pairs.append(Pair(problem, completion_text(completion)))
            except OtherDomain as exc:
                log.debug("%s: row %d: %s", self.__name__, i, exc)
                pairs.append(None)
            except RowError as exc:
                errors.append((i, str(exc)))
                pairs.append(None)
            except Exception as exc:  # never let one row fail the batch
                errors.append((i, f"{type(exc).__name__}: {exc}"))
                pairs.append(None)
        return pairs, errors

    def rewards(self, scored: Sequence[Scored]) -> list[float | None]:
        value = shaped_reward_of if self.shaped else reward_of
        return [value(s) for s in scored]

    def __call__(self, prompts: Sequence[Any] | None = None,
                 completions: Sequence[Any] | None = None, **kwargs: Any
                 ) -> list[float | None]:
        completions = list(completions or [])
        pairs, errors = self.pairs(completions, kwargs)
        warn_unread(errors, len(completions), self.__name__)
        return self.rewards(default_scorer().score(pairs))


class AsyncLLMModuloReward(LLMModuloReward):
    """The same reward as a coroutine: TRL runs async reward functions on its own event loop,
    concurrently with the other async ones."""

    async def __call__(self, prompts: Sequence[Any] | None = None,  # type: ignore[override]
                       completions: Sequence[Any] | None = None, **kwargs: Any
                       ) -> list[float | None]:
        completions = list(completions or [])
        pairs, errors = self.pairs(completions, kwargs)
        warn_unread(errors, len(completions), self.__name__)
        return self.rewards(await default_scorer().ascore(pairs))


def reward_function(domain: str | None = None, *, shaped: bool = False,
                    corpus: str | Path | None = None, asynchronous: bool = False,
                    name: str | None = None) -> LLMModuloReward:
    """A ``GRPOTrainer`` reward for ``domain`` (None: the domain each row names).

    * ``shaped=False`` (default): 1.0 / 0.0 / ``None``, sound: an ACCEPT is a proof.
    * ``shaped=True``: partial credit ``0.5 / critiques`` for a REJECTed answer that was read
      (0.0 for an unreadable one). UNSOUND FOR DATA: a heuristic to densify the signal while
      training, never a label to store or export; UNKNOWN is still ``None``.
    * ``corpus``: a corpus file to read problems of rows that carry only ``problem_hash``
      (``sft`` / ``dpo`` exports).
    * ``asynchronous``: return an ``async`` callable (TRL awaits it on its event loop).
    """
    cls = AsyncLLMModuloReward if asynchronous else LLMModuloReward
    return cls(domain, shaped=shaped, corpus=corpus, name=name)
