#!/usr/bin/env python3
"""Tokenizer throughput, wren beside llama.cpp, on the same ~1 MB text.

    python3 scripts/tok_speed.py [-m MODEL.gguf] [--runs 5] [--bytes 1000000]

The text is `../shared/reference/ppl_text.txt` (English licence texts, 237 KB) followed by
this machine's Python standard library sources in sorted order (code and prose), cut at
`--bytes`: natural text without whole-text repetition, so a per-call word cache gets no
more help than natural text gives it. wren runs its `tokbench` example (tokenizer only);
llama.cpp runs through llama-cpp-python's C API (`llama_tokenize` on a vocab-only model, no
special parsing, no BOS) from the benchmark virtualenv that `scripts/bench_vs_llama.sh` builds
(`$WREN_BENCH_VENV`, default ~/.cache/wren/bench-venv). Runs alternate between the
engines; prints best and median MB/s (1 MB = 10^6 bytes) and the ratio of medians.
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "reference")
VENV = os.environ.get("WREN_BENCH_VENV", os.path.expanduser("~/.cache/wren/bench-venv"))

LLAMA = r'''
import sys, time, llama_cpp
model, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
vocab = llama_cpp.llama_model_get_vocab(llm.model)
# The C API with a buffer large enough for any result: one tokenization per call
# (Llama.tokenize would tokenize twice, first to learn the count).
buf = (llama_cpp.llama_token * (len(data) + 16))()
for _ in range(runs):
    t = time.perf_counter()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, len(data) + 16, False, False)
    print(len(data) / (time.perf_counter() - t) / 1e6, n, flush=True)
'''


def corpus(n_bytes):
    parts = [open(os.path.join(SHARED, "ppl_text.txt"), "rb").read()]
    total = len(parts[0])
    for f in sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py"))):
        if total >= n_bytes:
            break
        b = open(f, "rb").read()
        try:
            b.decode("utf-8")
        except UnicodeDecodeError:
            continue
        parts.append(b)
        total += len(b)
    data = b"".join(parts)[:n_bytes]
    while True:  # do not cut a UTF-8 character
        try:
            data.decode("utf-8")
            return data
        except UnicodeDecodeError:
            data = data[:-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default=os.path.expanduser("~/.cache/wren/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=1_000_000)
    a = ap.parse_args()
    data = corpus(a.bytes)
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        f.write(data)
        path = f.name
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "wren-core", "--example", "tokbench"],
                   cwd=ROOT, check=True)
    tokbench = os.path.join(ROOT, "target", "release", "examples", "tokbench")
    wren, llama = [], []
    n_wren = n_llama = None
    for _ in range(a.runs):
        out = subprocess.run([tokbench, a.model, path, str(len(data)), "1"],
                             capture_output=True, text=True, check=True).stdout
        line = next(l for l in out.splitlines() if "encode best" in l)
        wren.append(float(line.split("best")[1].split()[0]))
        n_wren = int(line.split("->")[1].split()[0])
        out = subprocess.run([os.path.join(VENV, "bin", "python"), "-c", LLAMA, a.model, path, "1"],
                             capture_output=True, text=True, check=True).stdout.split()
        llama.append(float(out[0]))
        n_llama = int(out[1])
    os.unlink(path)
    mw, ml = statistics.median(wren), statistics.median(llama)
    print(f"text: {len(data)} bytes; model {os.path.basename(a.model)}; tokens: wren {n_wren}, llama.cpp {n_llama}")
    if n_wren != n_llama:
        print("token counts differ!")
    print(f"wren      MB/s best {max(wren):7.2f}  median {mw:7.2f}")
    print(f"llama.cpp MB/s best {max(llama):7.2f}  median {ml:7.2f}")
    print(f"ratio (medians): {mw / ml:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
