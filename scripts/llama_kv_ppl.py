#!/usr/bin/env python3
"""llama.cpp's perplexity with a given KV cache type, for comparison with
`wren perplexity --kv-type`: llama-perplexity's method (BOS-led 512-token chunks, second
half scored) through llama-cpp-python with flash attention (needed for a quantized V).

Run it with the virtualenv scripts/bench_vs_llama.sh builds:
  ~/.cache/wren/bench-venv/bin/python scripts/llama_kv_ppl.py q4_0 --chunks 20
"""

import argparse
import math
import os

import numpy as np
from llama_cpp import Llama

TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kv_type", choices=sorted(TYPES))
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/wren/gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--text", default=os.path.join(os.path.dirname(__file__), "../../shared/reference/ppl_text.txt"))
    a = ap.parse_args()
    t = TYPES[a.kv_type]
    m = Llama(model_path=a.model, n_ctx=a.ctx, n_batch=a.ctx, n_ubatch=a.ctx, logits_all=True,
              flash_attn=True, type_k=t, type_v=t, n_threads=a.threads, verbose=False)
    toks = m.tokenize(open(a.text, "rb").read(), add_bos=True)
    n = a.ctx
    nll, count = 0.0, 0
    for c in range(min(a.chunks, len(toks) // n)):
        chunk = list(toks[c * n:(c + 1) * n])
        target = chunk[:]
        chunk[0] = m.token_bos()
        m.reset()
        m.eval(chunk)
        logits = np.array(m.scores[:n], dtype=np.float64)
        for i in range(n // 2, n - 1):
            row = logits[i]
            mx = row.max()
            nll += mx + math.log(np.exp(row - mx).sum()) - row[target[i + 1]]
            count += 1
    print(f"llama.cpp kv {a.kv_type}: chunks = {a.chunks}, PPL = {math.exp(nll / count):.4f}")


if __name__ == "__main__":
    main()
