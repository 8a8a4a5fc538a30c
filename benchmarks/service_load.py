"""Load on the verification service (``llm-modulo serve-verifiers`` in a subprocess on
127.0.0.1): requests per second and p50/p99 latency at 1, 16 and 256 concurrent clients for
game24, math_answer and blocksworld (the packaged PlanBench domain); hangs (no answer within
the client timeout) and lost responses (an answer without one result per completion); the
resident memory of the server and its workers before and after; then an overload phase
(clients x batch far beyond ``--max-queue``) that must give 429s with Retry-After, not
timeouts. Bounded in count and time: each phase stops at ``--checks`` checks or
``--seconds`` seconds, whichever comes first.

    .venv/bin/python benchmarks/service_load.py                       # about 2 minutes
    .venv/bin/python benchmarks/service_load.py --checks 100000 --seconds 600   # 100k checks
    .venv/bin/python benchmarks/service_load.py --soak-checks 1000000             # + 1M-check soak

The soak (``--soak-checks``) sends batches of ``--soak-batch`` completions from
``--soak-clients`` clients, cycling through all three domains (or only ``--soak-domain``), and
samples the resident memory of the server and its workers ``--soak-samples`` times on the way:
memory must stay flat.

    .venv/bin/python benchmarks/service_load.py --checks 1000 --seconds 5 --clients 1 \
        --soak-checks 300000 --soak-domain math                 # one domain's soak only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def tree_rss(pid: int) -> tuple[float, float, int]:
    """(server MiB, server and all descendants MiB, processes)."""
    pids = descendants(pid)
    return rss_mib(pid), sum(rss_mib(p) for p in pids), len(pids)


def workloads() -> dict[str, list[dict[str, Any]]]:
    """Per domain, a cycle of verify items (one completion each)."""
    from llm_modulo.domains.planning import blocksworld_plan
    from llm_modulo.registry import default_registry

    game24 = [{"domain": "game24", "problem": "4 4 6 8", "completion": c}
              for c in ('{"expression": "(4+8)*(6-4)"}', '{"expression": "4*6+8-4"}',
                        '{"expression": "(8-4)*6"}', "no answer")]
    math = [{"domain": "math_answer", "problem": {"question": "Half of one?",
                                                  "answer": "\\frac{1}{2}"}, "completion": c}
            for c in ('{"answer": "0.5"}', '{"answer": "1/3"}', '{"answer": "\\\\frac{2}{4}"}',
                      '{"answer": "sqrt(2)/2"}')]
    plans = []
    for problem in default_registry.domain("blocksworld").generate_problems(4, 0):
        plan = blocksworld_plan(problem)
        for p in (plan, plan[:-1]):
            plans.append({"domain": "blocksworld", "problem": {"problem":
                                                               problem.payload["problem"]},
                          "completion": json.dumps({"plan": p})})
    return {"game24": game24, "math": math, "plans": plans}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    checks: int = 0
    hangs: int = 0
    lost: int = 0
    refused_429: int = 0
    retry_after_missing: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    unknown: int = 0


async def run_phase(url: str, items: list[dict[str, Any]], clients: int, batch: int,
                    max_checks: int, seconds: float, timeout: float) -> tuple[Tally, float]:
    tally = Tally()
    stop_at = time.monotonic() + seconds
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as http:

        async def client(k: int) -> None:
            nonlocal sent
            i = k
            while sent < max_checks and time.monotonic() < stop_at:
                sent += batch
                chunk = [items[(i + j) % len(items)] for j in range(batch)]
                i += batch
                body = chunk[0] if batch == 1 else {"items": chunk}
                began = time.monotonic()
                try:
                    reply = await http.post("/v1/verify", json=body)
                except httpx.TimeoutException:
                    tally.hangs += 1
                    continue
                except httpx.HTTPError as exc:
                    name = type(exc).__name__
                    tally.errors[name] = tally.errors.get(name, 0) + 1
                    continue
                tally.latencies.append(time.monotonic() - began)
                if reply.status_code == 429:
                    tally.refused_429 += 1
                    if "retry-after" not in reply.headers:
                        tally.retry_after_missing += 1
                    await asyncio.sleep(float(reply.headers.get("retry-after", "1")) / 10)
                    continue
                if reply.status_code != 200:
                    key = f"HTTP {reply.status_code}"
                    tally.errors[key] = tally.errors.get(key, 0) + 1
                    continue
                results = reply.json()["results"]
                if len(results) != batch:
                    tally.lost += batch - len(results)
                tally.checks += len(results)
                tally.unknown += sum(r["status"] == "unknown" for r in results)

        began = time.monotonic()
        await asyncio.gather(*(client(k) for k in range(clients)))
        return tally, time.monotonic() - began


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def soak(url: str, pid: int, work: dict[str, list[dict[str, Any]]],
         args: argparse.Namespace) -> None:
    """``--soak-checks`` checks in ``--soak-samples`` slices; the RSS of the server tree after
    each."""
    items = [item for batch in zip(*work.values(), strict=False) for item in batch] \
        if args.soak_domain == "mixed" else work[args.soak_domain]
    step = max(args.soak_batch, args.soak_checks // args.soak_samples)
    done, hangs, lost, unknown, errors = 0, 0, 0, 0, 0
    samples: list[tuple[int, float, float]] = []
    began = time.monotonic()
    while done < args.soak_checks:
        tally, _ = asyncio.run(run_phase(url, items, args.soak_clients, args.soak_batch,
                                         min(step, args.soak_checks - done), 10**9,
                                         args.timeout))
        done += tally.checks
        hangs, lost, unknown = hangs + tally.hangs, lost + tally.lost, unknown + tally.unknown
        errors += sum(tally.errors.values()) + tally.refused_429
        server_mib, tree_mib, _ = tree_rss(pid)
        samples.append((done, server_mib, tree_mib))
        print(f"soak: {done:9d} checks, {time.monotonic() - began:7.1f} s, RSS server "
              f"{server_mib:.1f} MiB, server + workers {tree_mib:.1f} MiB", flush=True)
        if tally.checks == 0:
            break
    if samples:
        first, last = samples[0], samples[-1]
        print(f"soak ({args.soak_domain}): {done} checks in {time.monotonic() - began:.0f} s "
              f"({done / (time.monotonic() - began):.0f} checks/s); RSS from the first sample "
              f"to the end: server {last[1] - first[1]:+.1f} MiB, server + workers "
              f"{last[2] - first[2]:+.1f} MiB (max {max(s[2] for s in samples):.0f}); "
              f"hangs {hangs}, lost {lost}, unknown {unknown}, errors/429 {errors}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--checks", type=int, default=3000, help="most checks per phase")
    ap.add_argument("--seconds", type=float, default=8.0, help="most seconds per phase")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 16, 256])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-queue", type=int, default=512)
    ap.add_argument("--timeout", type=float, default=60.0, help="client timeout (a hang)")
    ap.add_argument("--overload-seconds", type=float, default=8.0)
    ap.add_argument("--soak-checks", type=int, default=0,
                    help="checks in the memory soak after the phases (0: none)")
    ap.add_argument("--soak-batch", type=int, default=64)
    ap.add_argument("--soak-clients", type=int, default=8)
    ap.add_argument("--soak-domain", choices=["mixed", "game24", "math", "plans"],
                    default="mixed", help="the soak's items: all three domains or one")
    ap.add_argument("--soak-samples", type=int, default=10,
                    help="RSS samples (slices) over the soak")
    args = ap.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    server = subprocess.Popen([sys.executable, "-m", "llm_modulo.cli", "serve-verifiers",
                               "--port", str(port), "--workers", str(args.workers),
                               "--max-queue", str(args.max_queue), "--max-batch", "64"],
                              env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the service did not start")
            time.sleep(0.2)
        work = workloads()
        for items in work.values():  # warm every worker for every domain
            asyncio.run(run_phase(url, items, args.workers * 2, 1, 8 * len(items), 60, 60))
        before = tree_rss(server.pid)
        print(f"service: {args.workers} workers, max queue {args.max_queue}; RSS after warm-up:"
              f" server {before[0]:.0f} MiB, server + workers {before[1]:.0f} MiB "
              f"({before[2]} processes)")
        print(f"{'domain':8} {'clients':>7} {'checks':>7} {'req/s':>8} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'hangs':>5} {'lost':>4} {'429':>5} {'unknown':>7} errors")
        total = Tally()
        for name, items in work.items():
            for clients in args.clients:
                tally, took = asyncio.run(run_phase(url, items, clients, 1, args.checks,
                                                    args.seconds, args.timeout))
                rps = len(tally.latencies) / took if took else 0.0
                print(f"{name:8} {clients:7d} {tally.checks:7d} {rps:8.1f} "
                      f"{1000 * pct(tally.latencies, 0.5):8.1f} "
                      f"{1000 * pct(tally.latencies, 0.99):8.1f} {tally.hangs:5d} "
                      f"{tally.lost:4d} {tally.refused_429:5d} {tally.unknown:7d} "
                      f"{tally.errors or ''}", flush=True)
                total.checks += tally.checks
                total.hangs += tally.hangs
                total.lost += tally.lost
        after = tree_rss(server.pid)
        print(f"RSS after {total.checks} checks: server {after[0]:.0f} MiB "
              f"({after[0] - before[0]:+.0f}), server + workers {after[1]:.0f} MiB "
              f"({after[1] - before[1]:+.0f}); hangs {total.hangs}, lost {total.lost}")
        if args.soak_checks > 0:
            soak(url, server.pid, work, args)
        # overload: 256 clients x 16 completions = 4096 checks asked for against the queue cap
        tally, took = asyncio.run(run_phase(url, work["plans"], 256, 16, 10**9,
                                            args.overload_seconds, args.timeout))
        print(f"overload (256 clients x 16 completions, max queue {args.max_queue}, "
              f"{took:.1f} s): {tally.refused_429} x 429 ({tally.retry_after_missing} without "
              f"Retry-After), {tally.checks} checks done, {tally.hangs} timeouts, "
              f"{tally.lost} lost, p99 {1000 * pct(tally.latencies, 0.99):.0f} ms, "
              f"errors {tally.errors or 0}")
        if tally.latencies:
            print(f"overload latency: p50 {1000 * statistics.median(tally.latencies):.0f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
