"""Decisions per call from Python, on prepared entities: the figure to compare with
`tollgate bench` (native) and `wasm/examples/node/bench.mjs` (Node) on the same files.

    python examples/python/bench.py [--at 2026-06-01T12:00:00Z] [--rounds 3]

Loads the reference pack (`policies/`, `schemas/`) and `examples/entities.json` once, then
decides every line of `examples/requests.jsonl`, after one warm-up pass, and prints one JSON
object: {"decisions", "decide_us_p50", "decide_us_mean", "decide_us_p99"}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from tollgate import Engine

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--at", default="2026-06-01T12:00:00Z")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=Path, default=ROOT / "examples" / "requests.jsonl")
    args = parser.parse_args()
    engine = Engine.load(ROOT / "policies", ROOT / "schemas")
    people = engine.entities(ROOT / "examples" / "entities.json")
    requests = [json.loads(line) for line in args.requests.read_text().splitlines() if line.strip()]
    for r in requests:  # warm-up
        engine.decide(r, entities=people, at=args.at)
    times = []
    for _ in range(args.rounds):
        for r in requests:
            start = time.perf_counter_ns()
            engine.decide(r, entities=people, at=args.at)
            times.append((time.perf_counter_ns() - start) / 1000)
    times.sort()
    print(
        json.dumps(
            {
                "decisions": len(times),
                "decide_us_p50": round(statistics.median(times), 1),
                "decide_us_mean": round(statistics.fmean(times), 1),
                "decide_us_p99": round(times[int(len(times) * 0.99) - 1], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
