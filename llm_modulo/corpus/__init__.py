"""The deductive-closure corpus: every attempt recorded, verified solutions reused and exported.

- :class:`Corpus`: the SQLite (WAL) store; :func:`default_corpus_path`.
- :class:`CorpusMemory`: the loop's store (``Solver(..., store=CorpusMemory(corpus))``).
- :func:`export` with :class:`ExportOptions`: sft, dpo, openai, parquet, verl, prm.
- :func:`corpus_stats`, :func:`plot_solve_rate`.

Importing this package imports none of its parts: each loads on first use (so the CLI's
``check`` never pays for SQLite, pyarrow or matplotlib).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_modulo.corpus.kinds import CORPUS_ENV
from llm_modulo.errors import CorpusError

if TYPE_CHECKING:
    from llm_modulo.corpus.formats import ExportOptions, ExportReport, Reverifier, export
    from llm_modulo.corpus.memory import CorpusMemory
    from llm_modulo.corpus.stats import (
        CorpusStats,
        DomainStats,
        SearchStats,
        corpus_stats,
        plot_solve_rate,
    )
    from llm_modulo.corpus.store import Corpus, StoredSolution, default_corpus_path

_LAZY = {
    "ExportOptions": "formats", "ExportReport": "formats", "Reverifier": "formats",
    "export": "formats", "CorpusStats": "stats", "DomainStats": "stats",
    "SearchStats": "stats", "corpus_stats": "stats", "plot_solve_rate": "stats",
    "CorpusMemory": "memory",
    "Corpus": "store", "StoredSolution": "store", "default_corpus_path": "store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"llm_modulo.corpus.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'llm_modulo.corpus' has no attribute {name!r}")


__all__ = [
    "CORPUS_ENV",
    "Corpus",
    "CorpusError",
    "CorpusMemory",
    "CorpusStats",
    "DomainStats",
    "ExportOptions",
    "ExportReport",
    "Reverifier",
    "SearchStats",
    "StoredSolution",
    "corpus_stats",
    "default_corpus_path",
    "export",
    "plot_solve_rate",
]
