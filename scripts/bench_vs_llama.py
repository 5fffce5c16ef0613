#!/usr/bin/env python3
"""Side-by-side throughput of wren and llama.cpp (through llama-cpp-python).

Run through scripts/bench_vs_llama.sh, which sets up the virtualenv. Two subcommands:

  llama-one   one fresh process: load the model with llama-cpp-python, run one untimed
              warm-up and one timed repetition of a test, print one JSON line (tokens/s,
              peak RSS of this process, load time).
  compare     alternate rounds of llama-one and `wren bench -o jsonl -r 1` child processes,
              then print a table (medians, min-max, ratio) and write a JSON file.

The llama.cpp side mirrors llama-bench: pp = a fresh context evaluating P random tokens
in one batch (logits for the last one only); tg = after BOS, N single-token evaluations
feeding a random token each step. Depth D = D random tokens evaluated (untimed) first.
Every engine run is a fresh process (load + warm-up + one timed repetition), so the peak
RSS reported is that of one test alone.
"""

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time

TOKEN_LO, TOKEN_HI = 1000, 200000


def peak_rss_bytes():
    """VmHWM of this process (Linux), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def random_tokens(rng, n, n_vocab):
    hi = min(TOKEN_HI, n_vocab)
    lo = TOKEN_LO if n_vocab > 2000 else 0
    return [rng.randrange(lo, hi) for _ in range(n)]


# ---------------------------------------------------------------------------- llama-one


def llama_one(a):
    from llama_cpp import Llama  # imported here: `compare` runs without the package

    t0 = time.perf_counter()
    llm = Llama(
        model_path=a.model,
        n_ctx=a.ctx,
        n_threads=a.threads,
        n_threads_batch=a.threads,
        n_batch=512,
        flash_attn=a.flash_attn,
        verbose=False,
    )
    load_s = time.perf_counter() - t0
    n_vocab = llm.n_vocab()
    bos = llm.token_bos()

    def one_rep(seed):
        rng = random.Random(seed)
        llm.reset()
        if a.depth > 0:
            llm.eval(random_tokens(rng, a.depth, n_vocab))
        if a.test == "pp":
            toks = random_tokens(rng, a.n, n_vocab)
            start = time.perf_counter()
            llm.eval(toks)
            return a.n / (time.perf_counter() - start)
        if a.depth == 0:
            llm.eval([bos])
        toks = random_tokens(rng, a.n, n_vocab)
        start = time.perf_counter()
        for t in toks:
            llm.eval([t])
        return a.n / (time.perf_counter() - start)

    one_rep(a.seed)  # warm-up
    samples = [one_rep(a.seed) for _ in range(a.reps)]
    print(
        json.dumps(
            {
                "engine": "llama.cpp",
                "test": a.test,
                "n_tokens": a.n,
                "n_depth": a.depth,
                "threads": a.threads,
                "ctx": a.ctx,
                "flash_attn": a.flash_attn,
                "samples": samples,
                "tokens_per_s": statistics.mean(samples),
                "peak_rss_bytes": peak_rss_bytes(),
                "load_s": load_s,
            }
        ),
        flush=True,
    )


# ------------------------------------------------------------------------------ compare


def test_name(kind, n, depth):
    return f"{kind}{n}" + (f"@d{depth}" if depth else "")


def run_child(cmd, what):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}")
    lines = [l for l in p.stdout.splitlines() if l.strip().startswith("{")]
    if not lines:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"{what} printed no JSON: {' '.join(cmd)}")
    return json.loads(lines[-1])


def run_llama(a, kind, n, depth, threads, ctx):
    cmd = [
        sys.executable, os.path.abspath(__file__), "llama-one",
        "--model", a.model, "--test", kind, "--n", str(n), "--depth", str(depth),
        "--threads", str(threads), "--ctx", str(ctx), "--reps", "1",
    ]
    if not a.flash_attn:
        cmd.append("--no-flash-attn")
    r = run_child(cmd, "llama.cpp")
    return r["samples"][0], r["peak_rss_bytes"], r


def run_wren(a, kind, n, depth, threads, ctx):
    p, g = (n, 0) if kind == "pp" else (0, n)
    cmd = [
        a.wren, "bench", "-o", "jsonl", "-m", a.model, "-p", str(p), "-n", str(g),
        "-d", str(depth), "-t", str(threads), "-r", "1", "--ctx", str(ctx),
    ] + a.wren_args
    r = run_child(cmd, "wren")
    return r["samples"][0], r["peak_rss_bytes"], r


def fmt_rss(b):
    return "-" if b is None else f"{b / 2**20:.0f} MiB"


def summarize(samples):
    if not samples:
        return None
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "mean": statistics.mean(samples),
        "samples": samples,
    }


def compare(a):
    tests = []
    for depth in a.depths:
        for kind, n in (("pp", a.n_prompt), ("tg", a.n_gen)):
            if n > 0:
                tests.append((kind, n, depth))
    # Same context for both engines: what llama-bench would use (prompt + gen + depth).
    ctx_of = {d: d + a.n_prompt + a.n_gen for d in a.depths}
    results = {
        (test_name(k, n, d), t): {"llama": [], "wren": [], "llama_rss": [], "wren_rss": []}
        for (k, n, d) in tests
        for t in a.threads
    }
    meta = {}
    for rnd in range(a.reps):
        for t in a.threads:
            for (kind, n, depth) in tests:
                name = test_name(kind, n, depth)
                ctx = ctx_of[depth]
                order = ["llama", "wren"] if rnd % 2 == 0 else ["wren", "llama"]
                got = {}
                for eng in order:
                    fn = run_llama if eng == "llama" else run_wren
                    tps, rss, raw = fn(a, kind, n, depth, t, ctx)
                    got[eng] = tps
                    r = results[(name, t)]
                    r[eng].append(tps)
                    r[eng + "_rss"].append(rss)
                    if eng == "wren":
                        meta.setdefault("model_size_bytes", raw.get("model_size_bytes"))
                        meta.setdefault("wren_isa", raw.get("isa"))
                        meta.setdefault("wren_compute", raw.get("compute"))
                print(
                    f"[round {rnd + 1}/{a.reps}] {name:>12} t={t}: "
                    f"llama.cpp {got['llama']:8.2f} t/s ({fmt_rss(results[(name, t)]['llama_rss'][-1])}), "
                    f"wren {got['wren']:8.2f} t/s ({fmt_rss(results[(name, t)]['wren_rss'][-1])})",
                    file=sys.stderr,
                    flush=True,
                )

    rows = []
    for (name, t), r in results.items():
        ls, ws = summarize(r["llama"]), summarize(r["wren"])
        rows.append(
            {
                "test": name,
                "threads": t,
                "llama_cpp": ls,
                "wren": ws,
                "ratio_of_medians": ws["median"] / ls["median"],
                "llama_cpp_peak_rss_bytes": max(x for x in r["llama_rss"] if x is not None)
                if any(x is not None for x in r["llama_rss"]) else None,
                "wren_peak_rss_bytes": max(x for x in r["wren_rss"] if x is not None)
                if any(x is not None for x in r["wren_rss"]) else None,
                "ctx": ctx_of[int(name.split("@d")[1]) if "@d" in name else 0],
            }
        )

    print()
    print(f"model {os.path.basename(a.model)}, {a.reps} alternating rounds, "
          f"llama.cpp flash_attn={'on' if a.flash_attn else 'off'}, "
          f"wren isa {meta.get('wren_isa')} compute {meta.get('wren_compute')}")
    print("| test | threads | llama.cpp t/s median (min–max) | wren t/s median (min–max) "
          "| wren/llama | llama.cpp peak RSS | wren peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        l, w = row["llama_cpp"], row["wren"]
        print(
            f"| {row['test']} | {row['threads']} "
            f"| {l['median']:.1f} ({l['min']:.1f}–{l['max']:.1f}) "
            f"| {w['median']:.1f} ({w['min']:.1f}–{w['max']:.1f}) "
            f"| {row['ratio_of_medians']:.2f} "
            f"| {fmt_rss(row['llama_cpp_peak_rss_bytes'])} | {fmt_rss(row['wren_peak_rss_bytes'])} |"
        )
    bandwidth = bandwidth_share(a, rows, meta)
    try:
        import llama_cpp

        llama_version = llama_cpp.__version__
    except Exception:
        llama_version = None
    doc = {
        "model": os.path.abspath(a.model),
        "rounds": a.reps,
        "threads": a.threads,
        "depths": a.depths,
        "llama_cpp_python": llama_version,
        "llama_flash_attn": a.flash_attn,
        "wren": a.wren,
        "wren_args": a.wren_args,
        "wren_isa": meta.get("wren_isa"),
        "wren_compute": meta.get("wren_compute"),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "results": rows,
        "bandwidth": bandwidth,
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"\nwrote {a.out}")


def bandwidth_share(a, rows, meta):
    """Reads memory bandwidth now (the `membw` example, same threads) and reports each
    engine's depth-0 decode as a share of the ceiling bandwidth / bytes per token.

    Bytes per decoded token: every weight tensor is read once per token (the tied
    embedding matrix in full as the output head; its one-row lookup is negligible), so
    they are the model's tensor bytes; KV reads at depth 0 are negligible too."""
    if a.membw is None or not meta.get("model_size_bytes"):
        return None
    per_token = meta["model_size_bytes"]
    cmd = [a.membw, "--threads", ",".join(map(str, a.threads)), "--size-mib", "1024",
           "--reps", "10", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    bw = {r["threads"]: r for r in map(json.loads, filter(None, out.split("\n")))}
    print()
    print(f"memory read bandwidth (membw, 1 GiB array, 10 reps) and decode as a share of "
          f"the ceiling: bytes per token = model tensor bytes = {per_token / 1e6:.1f} MB")
    print("| threads | read GB/s best (median) | ceiling tok/s = best / bytes | llama.cpp tg | "
          "share | wren tg | share |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    doc = []
    for row in rows:
        if not row["test"].startswith("tg") or "@d" in row["test"]:
            continue
        t = row["threads"]
        if t not in bw:
            continue
        best, med = bw[t]["best_gb_s"], bw[t]["median_gb_s"]
        ceiling = best * 1e9 / per_token
        l, w = row["llama_cpp"]["median"], row["wren"]["median"]
        print(f"| {t} | {best:.1f} ({med:.1f}) | {best:.1f}e9 / {per_token / 1e6:.1f}e6 = "
              f"{ceiling:.1f} | {l:.1f} | {l / ceiling:.0%} | {w:.1f} | {w / ceiling:.0%} |")
        doc.append({"threads": t, "read_best_gb_s": best, "read_median_gb_s": med,
                    "bytes_per_token": per_token, "ceiling_tok_s": ceiling,
                    "llama_cpp_share": l / ceiling, "wren_share": w / ceiling})
    return doc


def int_list(s):
    v = [int(x) for x in s.replace(",", " ").split()]
    if not v:
        raise argparse.ArgumentTypeError("empty list")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    one = sub.add_parser("llama-one", help="one llama.cpp test in this process")
    one.add_argument("--model", required=True)
    one.add_argument("--test", choices=["pp", "tg"], required=True)
    one.add_argument("--n", type=int, required=True)
    one.add_argument("--depth", type=int, default=0)
    one.add_argument("--threads", type=int, required=True)
    one.add_argument("--ctx", type=int, required=True)
    one.add_argument("--reps", type=int, default=1)
    one.add_argument("--seed", type=int, default=1234)
    one.add_argument("--no-flash-attn", dest="flash_attn", action="store_false")

    cmp_ = sub.add_parser("compare", help="alternating rounds of both engines")
    cmp_.add_argument("--model", required=True)
    cmp_.add_argument("--wren", required=True, help="path of the wren binary")
    cmp_.add_argument("--threads", type=int_list, default=[1, 2])
    cmp_.add_argument("--reps", type=int, default=5, help="alternating rounds")
    cmp_.add_argument("--depths", type=int_list, default=[0])
    cmp_.add_argument("--n-prompt", type=int, default=512)
    cmp_.add_argument("--n-gen", type=int, default=128)
    cmp_.add_argument("--out", default="bench-results.json")
    cmp_.add_argument("--no-flash-attn", dest="flash_attn", action="store_false")
    cmp_.add_argument("--wren-args", default="", help="extra arguments for wren bench")
    cmp_.add_argument("--membw", default=None,
                      help="path of the membw example binary (bandwidth-share table)")

    a = ap.parse_args()
    if a.cmd == "llama-one":
        if a.threads < 1 or a.n < 1 or a.depth < 0 or a.reps < 1:
            ap.error("--threads, --n and --reps must be positive, --depth non-negative")
        llama_one(a)
    else:
        a.wren_args = a.wren_args.split()
        if a.reps < 1 or any(t < 1 for t in a.threads) or any(d < 0 for d in a.depths):
            ap.error("--reps and thread counts must be at least 1, depths non-negative")
        if a.n_prompt < 0 or a.n_gen < 0 or a.n_prompt + a.n_gen == 0:
            ap.error("need a positive --n-prompt or --n-gen")
        compare(a)


if __name__ == "__main__":
    main()
