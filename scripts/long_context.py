#!/usr/bin/env python3
"""Long-context quality of wren: passkey retrieval and long-window perplexity.

Uses the `wren` binary (default: target/release/wren). Two measurements, each for a list
of configurations (KV cache type, dense or block-sparse attention):

* passkey: a random 5-digit key is hidden at a given depth (fraction of the filler before
  it) in repeated filler text, the prompt being about N tokens; the model continues
  "... The pass key is" greedily and scores 1 if the first 5-digit number it writes is the
  key. The prompt is sized with `wren tokenize` to N - 16 tokens and run with --ctx N.
* ppl: `wren perplexity --ctx N` over a long text: non-overlapping N-token windows, the
  second half of each scored (llama-perplexity's method). The default text is the Vim user
  manual (usr_*.txt from the vim-runtime package) concatenated in chapter order: one long,
  coherent document of ~150K tokens that is not the short-context reference text.

Configurations: dense-f16, dense-q8_0, dense-q4_0, dense-f32, sparse-f16, sparse-q8_0.
"sparse" adds `--sparse on` plus --sparse-flags (default: wren's defaults, which are dense
below 8192 tokens: sparse runs at N <= the dense length are skipped as identical to dense).

Examples:
  python3 scripts/long_context.py --lengths 2048,8192 --trials 2 --skip-ppl
  python3 scripts/long_context.py --skip-passkey --ppl-lengths 8192,32768 --ppl-chunks 1
"""

import argparse
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

FILLER = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. "
    "There and back again. "
)
INTRO = (
    "There is an important piece of information hidden inside a lot of irrelevant text. "
    "Find it and memorize it. I will quiz you about it.\n\n"
)
QUESTION = "\n\nWhat is the pass key? The pass key is"
CONFIGS = {
    "dense-f32": ["--kv-type", "f32"],
    "dense-f16": ["--kv-type", "f16"],
    "dense-q8_0": ["--kv-type", "q8_0"],
    "dense-q4_0": ["--kv-type", "q4_0"],
    "sparse-f16": ["--kv-type", "f16", "--sparse", "on"],
    "sparse-q8_0": ["--kv-type", "q8_0", "--sparse", "on"],
}
DEFAULT_DENSE_LEN = 8192


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wren_cmd(args, wren, stdin=None):
    p = subprocess.run([wren] + args, capture_output=True, text=True, input=stdin)
    if p.returncode != 0:
        raise RuntimeError(f"wren {' '.join(args[:3])} ... failed: {p.stderr.strip()[-500:]}")
    return p.stdout, p.stderr


def n_tokens(text, wren):
    out, _ = wren_cmd(["tokenize", "-"], wren, stdin=text)
    return len(json.loads(out))


def passkey_prompt(n_target, depth, key, wren, unit_tokens):
    """A prompt of at most n_target tokens with the key at `depth` of the filler."""
    needle = f" The pass key is {key}. Remember it. {key} is the pass key. "
    fixed = n_tokens(INTRO + needle + QUESTION, wren)
    units = max(1, (n_target - fixed) // unit_tokens)
    while True:
        before = int(round(units * depth))
        text = INTRO + FILLER * before + needle + FILLER * (units - before) + QUESTION
        n = n_tokens(text, wren)
        if n <= n_target or units <= 1:
            return text, n
        units -= max(1, (n - n_target) // unit_tokens + 1)


def sparse_skip(cfg, n, dense_len):
    return cfg.startswith("sparse") and n <= dense_len


def run_passkey(a, wren):
    rng = random.Random(a.seed)
    unit_tokens = max(1, n_tokens(FILLER * 20, wren) // 20)
    rows = []
    for n in a.lengths:
        for depth in a.depths:
            for trial in range(a.trials):
                key = rng.randint(10000, 99999)
                text, ntok = passkey_prompt(n - 16, depth, key, wren, unit_tokens)
                with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
                    f.write(text)
                    path = f.name
                try:
                    for cfg in a.configs:
                        if sparse_skip(cfg, n, a.dense_len):
                            continue
                        flags = CONFIGS[cfg] + (a.sparse_flags.split() if cfg.startswith("sparse") else [])
                        t0 = time.time()
                        out, _ = wren_cmd(
                            ["run", "-f", path, "-n", "8", "--greedy", "--no-echo",
                             "--ctx", str(n)] + a.threads + flags,
                            wren,
                        )
                        got = re.search(r"\d{5}", out)
                        ok = bool(got) and got.group(0) == str(key)
                        row = dict(test="passkey", n=n, prompt_tokens=ntok, depth=depth,
                                   trial=trial, key=key, config=cfg, answer=out.strip()[:40],
                                   correct=ok, seconds=round(time.time() - t0, 1))
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                finally:
                    os.unlink(path)
    return rows


def default_text():
    files = sorted(glob.glob("/usr/share/vim/vim*/doc/usr_[0-9][0-9].txt"))
    if not files:
        sys.exit("no default long text found (vim's usr_*.txt); pass --ppl-text FILE")
    path = os.path.join(tempfile.gettempdir(), "wren_long_text_vim_manual.txt")
    with open(path, "w") as out:
        for f in files:
            with open(f, encoding="utf-8", errors="replace") as src:
                out.write(src.read())
                out.write("\n")
    return path


def run_ppl(a, wren):
    text = a.ppl_text or default_text()
    rows = []
    for n in a.ppl_lengths:
        for cfg in a.configs:
            if sparse_skip(cfg, n, a.dense_len):
                continue
            flags = CONFIGS[cfg] + (a.sparse_flags.split() if cfg.startswith("sparse") else [])
            t0 = time.time()
            out, _ = wren_cmd(
                ["perplexity", "-f", text, "--ctx", str(n), "--chunks", str(a.ppl_chunks)]
                + a.threads + flags,
                wren,
            )
            m = re.search(r"PPL = ([0-9.]+) \+/- ([0-9.]+)", out)
            c = re.search(r"chunks = (\d+), scored tokens = (\d+)", out)
            row = dict(test="ppl", n=n, config=cfg, text=os.path.basename(text),
                       ppl=float(m.group(1)), stderr=float(m.group(2)),
                       chunks=int(c.group(1)), scored=int(c.group(2)),
                       seconds=round(time.time() - t0, 1))
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def summarize(rows):
    pk = [r for r in rows if r["test"] == "passkey"]
    if pk:
        print("\n## passkey (correct / trials)\n")
        cfgs = sorted({r["config"] for r in pk})
        print("| tokens | depth | " + " | ".join(cfgs) + " |")
        print("|---:|---:|" + "---:|" * len(cfgs))
        for n in sorted({r["n"] for r in pk}):
            for d in sorted({r["depth"] for r in pk}):
                cells = []
                for c in cfgs:
                    rs = [r for r in pk if r["n"] == n and r["depth"] == d and r["config"] == c]
                    cells.append(f"{sum(r['correct'] for r in rs)}/{len(rs)}" if rs else "–")
                print(f"| {n} | {d:.0%} | " + " | ".join(cells) + " |")
    pp = [r for r in rows if r["test"] == "ppl"]
    if pp:
        print("\n## perplexity, second half of each window\n")
        print("| window | config | chunks | scored tokens | PPL |")
        print("|---:|---|---:|---:|---:|")
        for r in pp:
            print(f"| {r['n']} | {r['config']} | {r['chunks']} | {r['scored']} | "
                  f"{r['ppl']:.4f} ± {r['stderr']:.4f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda s: [int(x) for x in s.split(",") if x]
    ap.add_argument("--wren", default=os.path.join(repo_root(), "target", "release", "wren"))
    ap.add_argument("--lengths", type=ints, default=[2048, 8192, 16384, 32768])
    ap.add_argument("--depths", type=lambda s: [float(x) for x in s.split(",")], default=[0.1, 0.5, 0.9])
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--configs", default="dense-f16,sparse-f16,dense-q8_0")
    ap.add_argument("--sparse-flags", default="", help="extra flags for sparse configs, e.g. '--sparse-topk 16'")
    ap.add_argument("--dense-len", type=int, default=None,
                    help="sparse runs at lengths <= this are skipped (default: from --sparse-flags, else 8192)")
    ap.add_argument("--ppl-text", default=None)
    ap.add_argument("--ppl-lengths", type=ints, default=[8192, 32768])
    ap.add_argument("--ppl-chunks", type=int, default=1)
    ap.add_argument("--threads", default=None, help="-t for wren")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-passkey", action="store_true")
    ap.add_argument("--skip-ppl", action="store_true")
    ap.add_argument("--json", default=None, help="write all rows to this file")
    a = ap.parse_args()
    a.configs = [c for c in a.configs.split(",") if c]
    for c in a.configs:
        if c not in CONFIGS:
            sys.exit(f"unknown config {c!r} (expected: {', '.join(CONFIGS)})")
    if a.dense_len is None:
        m = re.search(r"--sparse-dense-len[ =](\d+)", a.sparse_flags)
        a.dense_len = int(m.group(1)) if m else DEFAULT_DENSE_LEN
    a.threads = ["-t", a.threads] if a.threads else []
    if not os.path.isfile(a.wren):
        sys.exit(f"{a.wren} not found: cargo build --release (or pass --wren)")
    rows = []
    if not a.skip_passkey:
        rows += run_passkey(a, a.wren)
    if not a.skip_ppl:
        rows += run_ppl(a, a.wren)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    summarize(rows)


if __name__ == "__main__":
    main()
