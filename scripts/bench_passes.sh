#!/usr/bin/env bash
# A/B of one-sequence forward passes between two builds: the `pass_time` example of
# REV (default HEAD~1, built in a temporary worktree) and of the working tree, run
# alternately (the example's source from the working tree in both), ROUNDS times, for each K (0: a decode step; k: a verify pass of k rows) and
# model; prints every sample and the median and min per build.
# Usage: scripts/bench_passes.sh [REV]   env: ROUNDS (4), KS ("0 8"), N (100 passes),
#        MODELS ("smollm2 gemma3")
set -euo pipefail
cd "$(dirname "$0")/.."
REV="${1:-HEAD~1}"
ROUNDS="${ROUNDS:-4}"; KS="${KS:-0 8}"; N="${N:-100}"; MODELS="${MODELS:-smollm2 gemma3}"
work="$(mktemp -d)"
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/base" "$REV" >/dev/null
# The example of this tree, built against REV's library (it uses only `Session`'s API).
cp crates/core/examples/pass_time.rs "$work/base/crates/core/examples/"
ln -s "$(cd .. && pwd)/shared" "$work/shared" 2>/dev/null || true
(cd "$work/base" && CARGO_TARGET_DIR="$PWD/../target-base" \
    cargo build --release -q -p wren-core --example pass_time)
cargo build --release -q -p wren-core --example pass_time
cp "$work/target-base/release/examples/pass_time" "$work/base.bin"
cp target/release/examples/pass_time "$work/new.bin"
for m in $MODELS; do
    gemma=""; if [ "$m" = gemma3 ]; then gemma=1; fi
    for _ in $(seq "$ROUNDS"); do
        for k in $KS; do
            for b in base new; do
                printf '%s %s\n' "$b" "$(env K="$k" N="$N" ${gemma:+GEMMA=1} "$work/$b.bin")"
            done
        done
    done
done | tee "$work/samples.txt"
python3 - "$work/samples.txt" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    d[(p[1], p[2], p[0])].append(float(p[3]))
for key in sorted(d):
    v = sorted(d[key])
    print(f"{key[0]:8} {key[1]:5} {key[2]:4} median {statistics.median(v):7.3f} ms  min {v[0]:7.3f} ms  n={len(v)}")
PY
