#!/usr/bin/env python3
"""Constrained-decoding overhead at one stream: decode speed with a JSON-schema
constraint vs the same number of unconstrained tokens, and the grammar's mask cost per
token, on SmolLM2 (49K vocabulary, byte-level BPE) and Gemma 3 (262K, SPM).

    flock /tmp/wren-bench.lock python3 scripts/bench_constrained.py [--wren target/release/wren] [-r 3]

Each round runs `wren run --json --temp 0` constrained by a schema that forces a long
reply (12 objects in an array), then unconstrained with `-n` set to the constrained
run's token count; rounds alternate. Prints min/median/max decode tok/s of each, the
overhead of the medians and of the maxima (the least disturbed runs on a shared machine),
and the mean mask cost per token reported by `wren run` with its share of a token's time.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = {
    "type": "object",
    "properties": {"items": {"type": "array", "minItems": 12, "maxItems": 12, "items": {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 16}, "count": {"type": "integer", "minimum": 0, "maximum": 999}},
        "required": ["name", "count"], "additionalProperties": False}}},
    "required": ["items"], "additionalProperties": False,
}
MODELS = [
    ("smollm2-135m-instruct", ["--system", "You answer in JSON."], "List twelve fruits with a count each."),
    ("gemma3-270m", [], "A shopping list in JSON:\n"),
]


def run(wren, model, extra, prompt, args):
    cmd = [wren, "run", "-m", model, "--json", "--temp", "0", *extra, *args, "--", prompt]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    v = json.loads(r.stdout.strip().splitlines()[-1])
    m = re.search(r"grammar: (\d+) masks, ([0-9.]+) ms/token", r.stderr)
    return v, (float(m.group(2)) if m else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wren", default=os.path.join(os.path.dirname(HERE), "target", "release", "wren"))
    ap.add_argument("-r", "--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(SCHEMA, f)
        schema = f.name
    for model, extra, prompt in MODELS:
        con, free, masks = [], [], []
        for _ in range(a.rounds):
            v, mask = run(a.wren, model, extra, prompt, ["--json-schema", schema, "-n", "400"])
            json.loads(v["text"])  # the constrained reply must parse
            n = v["generated_tokens"]
            con.append(v["decode_tps"])
            masks.append(mask)
            w, _ = run(a.wren, model, extra, prompt, ["-n", str(n)])
            free.append(w["decode_tps"])
        mc, mf = statistics.median(con), statistics.median(free)
        mask = statistics.median(masks)
        print(f"{model}: {n} tokens; unconstrained min {min(free):.1f} / median {mf:.1f} / max {max(free):.1f} tok/s; "
              f"constrained min {min(con):.1f} / median {mc:.1f} / max {max(con):.1f} tok/s; "
              f"overhead of the medians {100 * (mf - mc) / mf:.1f}%, of the maxima "
              f"{100 * (max(free) - max(con)) / max(free):.1f}%; mask {mask:.3f} ms/token "
              f"= {100 * mask * mc / 1000:.1f}% of a constrained token's time")
    os.unlink(schema)


if __name__ == "__main__":
    main()
