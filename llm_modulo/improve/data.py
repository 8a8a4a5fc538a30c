"""The training set of one iteration, built from the corpus with the ordinary exports: sound,
unflagged ACCEPTs only as SFT rows (UNKNOWN never appears in an export), sound REJECTs only
as DPO negatives; only the runs this lineage solved training problems in; deduplicated;
every row's problem checked against the held-out split."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_modulo.corpus.store import Corpus
from llm_modulo.improve.splits import check_disjoint
from llm_modulo.improve.state import write_atomically

_META = ("domain", "problem_hash", "kind")


@dataclass(frozen=True)
class TrainingData:
    sft: Path
    dpo: Path | None
    sft_rows: int
    dpo_rows: int
    data_hash: str
    #: the corpus query the rows came from (for the lineage manifest)
    query: dict[str, Any]


def build(corpus: Corpus, *, domain: str, runs: Sequence[str], eval_hashes: Collection[str],
          out_dir: Path, dpo: bool) -> TrainingData:
    """Write ``sft.jsonl`` (and ``dpo.jsonl``) to ``out_dir`` from the solutions of ``runs``."""
    from llm_modulo.corpus.formats import ExportOptions

    sft_rows = _export(corpus, ExportOptions(format="sft", out=Path("sft.jsonl"),
                                             domains=(domain,), runs=tuple(runs),
                                             sft_style="prompt-completion"), eval_hashes)
    sft_path = out_dir / "sft.jsonl"
    digest = hashlib.sha256()
    text = _jsonl(sft_rows)
    write_atomically(sft_path, text)
    digest.update(text.encode())
    dpo_path, dpo_count = None, 0
    if dpo:
        dpo_rows = _export(corpus, ExportOptions(format="dpo", out=Path("dpo.jsonl"),
                                                 domains=(domain,), runs=tuple(runs)),
                           eval_hashes)
        dpo_path = out_dir / "dpo.jsonl"
        text = _jsonl(dpo_rows)
        write_atomically(dpo_path, text)
        digest.update(text.encode())
        dpo_count = len(dpo_rows)
    query = {"formats": ["sft", *(["dpo"] if dpo else [])], "domain": domain,
             "runs": list(runs), "sft_style": "prompt-completion",
             "filter": "sound ACCEPTs not flagged (sft); sound REJECTs as negatives (dpo)",
             "held_out_problems_excluded": len(eval_hashes)}
    return TrainingData(sft_path, dpo_path, len(sft_rows), dpo_count, digest.hexdigest(),
                        query)


def _export(corpus: Corpus, options: Any, eval_hashes: Collection[str]
            ) -> list[dict[str, Any]]:
    """The export's rows, checked against the held-out split, without metadata columns,
    deduplicated, in a stable order."""
    from llm_modulo.corpus.formats import export

    if not options.runs:
        return []
    with tempfile.TemporaryDirectory(prefix="llm-modulo-improve-") as tmp:
        target = Path(tmp) / options.out.name
        export(corpus, options.model_copy(update={"out": target}))
        rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()
                if line]
    check_disjoint((r["problem_hash"] for r in rows), eval_hashes)
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        clean = {k: v for k, v in row.items() if k not in _META}
        unique.setdefault(json.dumps(clean, sort_keys=True, ensure_ascii=False), clean)
    return [unique[k] for k in sorted(unique)]


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
