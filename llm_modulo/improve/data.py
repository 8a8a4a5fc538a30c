"""The training set of one iteration, read from the corpus: only sound ACCEPTs whose solution
is not flagged become SFT rows (UNKNOWN never does), only sound REJECTs become DPO
negatives; only the runs this lineage solved training problems in; deduplicated; every
row's problem checked against the held-out split.

The ordinary ``export`` links a solution to the attempt that first found it; here an accepted
attempt of these runs counts even when an earlier run (a killed phase, another improve run
on the same corpus) found the same answer first.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_modulo.corpus.store import Corpus
from llm_modulo.improve.splits import check_disjoint
from llm_modulo.improve.state import write_atomically

_ATTEMPTS = """
SELECT a.problem_hash, pr.messages, a.completion, a.answer, a.status
FROM attempts a JOIN problems p ON p.hash = a.problem_hash
JOIN prompts pr ON pr.hash = a.prompt_hash
LEFT JOIN solutions s ON s.problem_hash = a.problem_hash AND s.answer = a.answer
WHERE a.run_id IN ({runs}) AND p.domain = ? AND a.sound = 1
  AND ((a.status = 'accept' AND s.id IS NOT NULL AND s.flagged_at IS NULL)
       OR a.status = 'reject')
ORDER BY a.id
"""


@dataclass(frozen=True)
class TrainingData:
    sft: Path
    dpo: Path | None
    sft_rows: int
    dpo_rows: int
    data_hash: str
    #: the corpus query the rows came from (for the lineage manifest)
    query: dict[str, Any]


def _initial(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The first prompt: the messages up to and including the first user turn."""
    end = next((i for i, m in enumerate(messages) if m.get("role") == "user"), 0)
    return messages[: end + 1]


def build(corpus: Corpus, *, domain: str, runs: Sequence[str], eval_hashes: Collection[str],
          out_dir: Path, dpo: bool) -> TrainingData:
    """Write ``sft.jsonl`` (and ``dpo.jsonl``) to ``out_dir`` from the attempts of ``runs``."""
    rows = (corpus.query(_ATTEMPTS.format(runs=",".join("?" * len(runs))), [*runs, domain])
            if runs else [])
    check_disjoint((r[0] for r in rows), eval_hashes)
    chosen: dict[str, dict[str, Any]] = {}
    by_problem: dict[str, list[str]] = defaultdict(list)
    accepted: dict[str, set[str]] = defaultdict(set)
    for h, messages, completion, answer, status in rows:
        if status == "accept":
            accepted[h].add(answer)
            row = {"prompt": _initial(json.loads(messages)),
                   "completion": [{"role": "assistant", "content": completion}]}
            key = json.dumps(row, sort_keys=True, ensure_ascii=False)
            if key not in chosen:
                chosen[key] = row
                by_problem[h].append(key)
    sft_rows = [chosen[k] for k in sorted(chosen)]
    digest = hashlib.sha256()
    text = _jsonl(sft_rows)
    write_atomically(out_dir / "sft.jsonl", text)
    digest.update(text.encode())
    dpo_path, dpo_rows = None, []
    if dpo:
        pairs: dict[str, dict[str, Any]] = {}
        for h, messages, completion, answer, status in rows:
            if status != "reject" or not by_problem[h] or answer in accepted[h]:
                continue  # no verified answer to prefer, or versions disagree on this one
            good = chosen[by_problem[h][len(pairs) % len(by_problem[h])]]
            pair = {"prompt": _initial(json.loads(messages)), "chosen": good["completion"],
                    "rejected": [{"role": "assistant", "content": completion}]}
            pairs.setdefault(json.dumps(pair, sort_keys=True, ensure_ascii=False), pair)
        dpo_rows = [pairs[k] for k in sorted(pairs)]
        dpo_path = out_dir / "dpo.jsonl"
        text = _jsonl(dpo_rows)
        write_atomically(dpo_path, text)
        digest.update(text.encode())
    query = {"domain": domain, "runs": list(runs),
             "sft": "sound ACCEPTs of these runs whose solution is not flagged; first prompt",
             "dpo": ("sound REJECTs of these runs vs. a verified answer to the same problem"
                     if dpo else None),
             "held_out_problems_checked": len(eval_hashes)}
    return TrainingData(out_dir / "sft.jsonl", dpo_path, len(sft_rows), len(dpo_rows),
                        digest.hexdigest(), query)


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
