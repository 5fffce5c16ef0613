#!/usr/bin/env python3
"""Speculative decoding: wren plain vs its drafters (prompt lookup `ngram`, FR-Spec
self-drafting `fr`, `auto`), and llama.cpp (llama-cpp-python) plain vs its prompt-lookup
decoding, on the same raw-completion prompts, greedy.

    flock /tmp/wren-bench.lock ~/.cache/wren/bench-venv/bin/python scripts/bench_spec.py \
        [--wren target/release/wren] [--models gemma3-270m,smollm2-135m-instruct] [-n 128] [--reps 2] \
        [--specs off,ngram,fr,auto] [--prompts free,essay,explain,news] [--no-llama]

Decode speed = (generated tokens − 1) / time from the first generated token to the last
(wren's `decode_tps`; for llama.cpp the same measure over its token stream). Rounds
alternate between the engines and settings; the table shows medians (min–max). wren's
text with and without speculation is compared (it must be identical).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PROMPTS = {
    "copy": "Here is a paragraph from the town report.\n\nParagraph: The committee met on Tuesday evening to review the annual budget. After a long debate about road repairs, school funding and the new library, the members approved the plan by seven votes to two. Work on the bridge will begin in March and should be finished before the autumn rains.\n\nThe same paragraph, copied word for word:\nParagraph: The committee met",
    "spelling": "Original text with spelling mistakes: Teh comittee met on Tuesdy evening to reveiw the anual budjet. After a long debait about road repares, school funding and the new libary, the members aproved the plan by seven votes to two.\n\nCorrected text: The committee met on Tuesday evening to",
    "rename": "def total_price(items, tax_rate):\n    subtotal = 0\n    for item in items:\n        subtotal += item.price * item.count\n    tax = subtotal * tax_rate\n    return subtotal + tax\n\n\n# The same function with `items` renamed to `basket` and `subtotal` to `net`:\ndef total_price(basket, tax_rate):\n    net = 0\n",
    "extract": "Email: Hello Anna, the shipment of 40 oak chairs left Rotterdam on 3 May and should arrive in Leeds on 9 May. The invoice number is INV-2291 and the total is 3,480 euros. Please confirm the delivery address: 14 Mill Lane, Leeds LS2 7QT. Regards, Tom.\n\nExtracted fields, quoted from the email:\n- Goods: \"40 oak chairs\"\n- Left from:",
    "quote-summary": "Article: The city council voted on Monday to close Elm Street to cars every Sunday from June to September. \"We want families to walk and cycle safely,\" said councillor Maria Lopez. Shop owners were divided: some expect more customers on foot, while others fear losing drivers from nearby towns. The trial will be reviewed in October.\n\nSummary with quotes: The council voted to close Elm Street to cars every Sunday from June to September. Councillor Maria Lopez said: \"",
    "free": "Once upon a time, in a small village at the edge of a great forest, there lived",
    "essay": "Write a short essay about the history of the printing press and its effect on European society.\n\n",
    "explain": "Explain to a twelve-year-old how the heart pumps blood through the body.\n\n",
    "news": "The following is a news report about a storm that hit a coastal town last night.\n\n",
    "recipe": "Here is my favourite recipe for a simple tomato soup. First,",
    "job": "The most important lessons I learned at my first job were",
    "cover": "Dear Hiring Manager,\n\nI am writing to apply for the position of",
    "code": "def fibonacci(n):",
}
FREE = ["free", "essay", "explain", "news", "recipe", "job", "cover", "code"]
GROUNDED = ["copy", "spelling", "rename", "extract", "quote-summary"]

MODEL_FILES = {
    "gemma3-270m": "~/.cache/wren/gemma-3-270m-q4_k_m.gguf",
    "smollm2-135m-instruct": "~/.cache/wren/SmolLM2-135M-Instruct.Q4_1.gguf",
}


def wren_run(a, model, prompt, spec):
    cmd = [a.wren, "run", "-m", model, "--greedy", "-n", str(a.n), "--json",
           "-t", str(a.threads), "--spec", spec, "--draft-max", str(a.draft_max), prompt]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    v = json.loads(out.strip().splitlines()[-1])
    acc = v["accepted_tokens"] / v["drafted_tokens"] if v["drafted_tokens"] else 0.0
    return v["decode_tps"], v["text"], acc, v["generated_tokens"]


class Llama:
    def __init__(self, path, threads):
        from llama_cpp import Llama as L
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding
        kw = dict(model_path=os.path.expanduser(path), n_ctx=1024, n_threads=threads,
                  n_threads_batch=threads, verbose=False)
        self.plain = L(**kw)
        self.lookup = L(draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10), **kw)

    def run(self, prompt, n, lookup):
        llm = self.lookup if lookup else self.plain
        llm.reset()
        times, text = [], ""
        for chunk in llm.create_completion(prompt, max_tokens=n, temperature=0.0,
                                           stream=True):
            times.append(time.perf_counter())
            text += chunk["choices"][0]["text"]
        # One chunk per token (prompt-lookup emits accepted tokens one chunk each too).
        tps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        return tps, text


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--wren", default="target/release/wren")
    p.add_argument("--models", default="gemma3-270m,smollm2-135m-instruct")
    p.add_argument("--prompts", default=",".join(PROMPTS))
    p.add_argument("-n", type=int, default=128)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--draft-max", type=int, default=8)
    p.add_argument("--specs", default="off,ngram",
                   help="wren settings, comma-separated (the first is the baseline)")
    p.add_argument("--no-llama", action="store_true")
    p.add_argument("--llama-n", type=int, default=48,
                   help="tokens per llama-cpp-python run (its Python layer is slow)")
    p.add_argument("--llama-reps", type=int, default=1)
    a = p.parse_args()
    rows = []
    for model in a.models.split(","):
        llama = None if a.no_llama else Llama(MODEL_FILES[model], a.threads)
        for name in a.prompts.split(","):
            prompt = PROMPTS[name]
            specs = a.specs.split(",")
            r = {k: [] for k in specs + ["ll", "ll_lookup"]}
            acc, texts, same_ll = {}, {}, True
            for _ in range(a.reps):
                for spec in specs:
                    tps, text, ac, gen = wren_run(a, model, prompt, spec)
                    r[spec].append(tps)
                    texts.setdefault(spec, text)
                    acc[spec] = ac
            for _ in range(a.llama_reps if llama else 0):
                tps, t1 = llama.run(prompt, a.llama_n, False)
                r["ll"].append(tps)
                tps, t2 = llama.run(prompt, a.llama_n, True)
                r["ll_lookup"].append(tps)
                same_ll = same_ll and t1 == t2
            row = {"model": model, "prompt": name, "acceptance": acc,
                   "identical": {k: texts[k] == texts[specs[0]] for k in specs},
                   "llama_identical": same_ll, **{k: v for k, v in r.items()}}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    rng = lambda xs: f"{min(xs):.1f}–{max(xs):.1f}" if xs else ""
    specs = a.specs.split(",")
    base = specs[0]
    head = f"| model | prompt | wren {base} tok/s (min–max) |"
    for k in specs[1:]:
        head += f" {k} tok/s (min–max) | speedup | acceptance | same text |"
    if not a.no_llama:
        head += " llama-cpp-python plain | lookup | speedup | same text |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        o = med(r[base])
        line = f"| {r['model']} | {r['prompt']} | {o:.1f} ({rng(r[base])}) |"
        for k in specs[1:]:
            g = med(r[k])
            line += (f" {g:.1f} ({rng(r[k])}) | {g / o:.2f}x | {100 * r['acceptance'][k]:.0f}% | "
                     f"{'yes' if r['identical'][k] else 'NO'} |")
        if not a.no_llama:
            lp, ll = med(r["ll"]), med(r["ll_lookup"])
            line += (f" {lp:.1f} | {ll:.1f} | {ll / lp if lp else float('nan'):.2f}x | "
                     f"{'yes' if r['llama_identical'] else 'NO'} |")
        print(line)


if __name__ == "__main__":
    main()
