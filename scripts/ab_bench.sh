#!/bin/bash
# Alternating A/B of wren binaries on this machine's batched decode, for noisy machines:
# ROUNDS times, each binary in turn runs `wren bench -p 0 -n 64 -s 1,8 -t 2 -r 3 --json`,
# and one line per run prints: binary, tg64 median/max, tg64x8 median/max (tok/s).
#
#   scripts/ab_bench.sh ROUNDS path/to/wren-a path/to/wren-b ...
set -euo pipefail
rounds=$1
shift
for _ in $(seq "$rounds"); do
  for b in "$@"; do
    "$b" bench -p 0 -n 64 -s 1,8 -t 2 -r 3 --json 2>/dev/null | NAME="$b" python3 -c '
import json, os, sys
d = {r["test"]: r for r in (json.loads(l) for l in sys.stdin if l.startswith("{"))}
one, eight = d["tg64"], d["tg64x8"]
print(os.environ["NAME"], "tg64 %.1f/%.1f" % (one["median"], one["max"]),
      "x8 %.1f/%.1f" % (eight["median"], eight["max"]),
      "ratio %.2f" % (eight["median"] / one["median"]))
'
  done
done
