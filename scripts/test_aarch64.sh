#!/usr/bin/env bash
# The aarch64 kernels under user-mode emulation: cross-compiles wren-kernels' tests for
# aarch64-unknown-linux-gnu and runs them in qemu (`-cpu max`: NEON, dotprod, i8mm; runner
# and linker in .cargo/config.toml), checking that every ARM tier was tested; then a short
# real-model check: `wren logits` on SmolLM2-135M-Instruct (Q4_1) under qemu, at each ARM
# tier, agrees with the x86-64 build on the top-1 token at every position.
#
# Installs what it needs when missing: the rustup target, and (as root, with apt-get) the
# Debian packages qemu-user, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross.
# `--kernels-only` skips the model check. Emulation says nothing about speed.
set -euo pipefail
cd "$(dirname "$0")/.."
T=aarch64-unknown-linux-gnu
MODEL=${WREN_ARM_MODEL:-$HOME/.cache/wren/SmolLM2-135M-Instruct.Q4_1.gguf}
start=$SECONDS

have() { command -v "$1" >/dev/null 2>&1; }
rustup target list --installed | grep -qx "$T" || rustup target add "$T"
if ! have qemu-aarch64 || ! have aarch64-linux-gnu-gcc || [ ! -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]; then
    if [ "$(id -u)" = 0 ] && have apt-get; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
    else
        echo "test_aarch64: install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross (or run as root)" >&2
        exit 1
    fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --release --target "$T" -p wren-kernels -- --nocapture >"$log" 2>&1 || {
    cat "$log"
    exit 1
}
grep -E '^test result' "$log"
tiers=$(grep -m1 -o 'SIMD tiers tested: \[[^]]*\]' "$log" || true)
echo "$tiers"
[ "$tiers" = "SIMD tiers tested: [Neon, Dotprod, I8mm]" ] || {
    echo "test_aarch64: expected the Neon, Dotprod and I8mm tiers to be tested" >&2
    exit 1
}
echo "aarch64 kernel suite: $((SECONDS - start)) s"
[ "${1:-}" = "--kernels-only" ] && exit 0

# Real model: x86-64 reference vs qemu at each ARM tier, top-1 per position.
[ -f "$MODEL" ] || cargo run --release --quiet --bin wren -- fetch smollm2-135m-instruct >/dev/null
cargo build --release --quiet --bin wren
cargo build --release --quiet --target "$T" --bin wren
bash scripts/check_inlined.sh "target/$T/release/wren"
prompts=("The capital of France is" "def fibonacci(n):" "Water boils at a temperature of")
qemu="qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu"
dir=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$dir"' EXIT
for i in "${!prompts[@]}"; do
    p=${prompts[$i]}
    target/release/wren logits -m "$MODEL" --text "$p" --top 2 -t 2 >"$dir/x86.$i.json" 2>/dev/null
    for tier in neon dotprod i8mm; do
        WREN_ISA=$tier $qemu target/$T/release/wren logits -m "$MODEL" --text "$p" --top 2 -t 2 \
            >"$dir/$tier.$i.json" 2>/dev/null
    done
done
python3 - "$dir" "${#prompts[@]}" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
bad = positions = 0
worst = 0.0
for i in range(n):
    ref = json.load(open(f"{d}/x86.{i}.json"))
    for tier in ("neon", "dotprod", "i8mm"):
        got = json.load(open(f"{d}/{tier}.{i}.json"))
        assert got["tokens"] == ref["tokens"], f"prompt {i}: tokenization differs"
        for pos, (r, g) in enumerate(zip(ref["top"], got["top"])):
            positions += tier == "neon"
            margin = r[0][1] - r[1][1]
            if r[0][0] != g[0][0]:
                # A near-tie may flip with the summation order; anything else is a bug.
                tie = margin < 0.05
                bad += not tie
                print(f"prompt {i} pos {pos} {tier}: top-1 {g[0][0]} vs x86 {r[0][0]} (x86 margin {margin:.3f}{', near-tie' if tie else ''})")
            err = abs(r[0][1] - g[0][1])
            worst = max(worst, err)
            if err > 0.05 * max(1.0, abs(r[0][1])):
                print(f"prompt {i} pos {pos} {tier}: top logit {g[0][1]:.4f} vs x86 {r[0][1]:.4f}")
print(f"SmolLM2 logits under qemu: {positions} positions x 3 tiers, {bad} top-1 disagreements, top-1 logit within {worst:.4f} of x86")
sys.exit(1 if bad else 0)
PY
echo "test_aarch64: $((SECONDS - start)) s in all"
