#!/usr/bin/env python3
"""The 3% rule of `--spec auto` (issue 17): `auto` must not decode slower than `off` by more
than 3%. Runs `wren run --json` with `--spec off` and `--spec auto` alternately (which runs
first alternates too), REPS pairs per prompt (the prompts of scripts/bench_spec.py), and
prints the ratio of the median decode speeds and every pair's ratio.

Usage: scripts/bench_offauto.py [--wren BIN] [--model M] [--prompts free,essay,...] [--reps 6]
                                [--temp T]

With --temp T > 0 the runs sample (wren's default top-k, top-p and min-p), a pair sharing its
seed, so both settings emit the same text.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_spec import FREE, PROMPTS  # noqa: E402


def decode_tps(wren, model, prompt, spec, n, threads, sampling):
    cmd = [wren, "run", "-m", model, *sampling, "-n", str(n), "--json", "-t", str(threads),
           "--spec", spec, prompt]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["decode_tps"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--wren", default="target/release/wren")
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--prompts", default=",".join(FREE))
    p.add_argument("--reps", type=int, default=6)
    p.add_argument("-n", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--temp", type=float, default=0.0,
                   help="sampling temperature (0: greedy); sampled runs use seed 1 + the pair's number")
    a = p.parse_args()
    for name in a.prompts.split(","):
        r = {"off": [], "auto": []}
        for rep in range(a.reps):
            # Which setting runs first alternates, so neither gains from going second.
            sampling = ["--temp", str(a.temp), "--seed", str(1 + rep)] if a.temp > 0 else ["--greedy"]
            for spec in ("off", "auto") if rep % 2 == 0 else ("auto", "off"):
                r[spec].append(decode_tps(a.wren, a.model, PROMPTS[name], spec, a.n, a.threads,
                                          sampling))
        off, auto = statistics.median(r["off"]), statistics.median(r["auto"])
        pairs = " ".join(f"{x / o:.2f}" for x, o in zip(r["auto"], r["off"]))
        print(f"{a.model} {name}: off median {off:.1f}, auto median {auto:.1f} tok/s, "
              f"ratio of medians {auto / off:.3f}, pairwise ratios {pairs}", flush=True)


if __name__ == "__main__":
    main()
