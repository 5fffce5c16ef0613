#!/usr/bin/env bash
# Instructions retired per weight block by the aarch64 kernels, counted under qemu (which
# says nothing about time): `insn_probe` runs one kernel call (`--reps 1`) and two
# (`--reps 2`) with qemu logging every executed instruction (`-singlestep -d exec,nochain`);
# the difference is one call, divided by the weight blocks it covers. Prints a Markdown
# table, scalar tier beside NEON, dotprod and i8mm. Needs what scripts/test_aarch64.sh
# installs.
set -euo pipefail
cd "$(dirname "$0")/.."
T=aarch64-unknown-linux-gnu
cargo build --release --quiet --target "$T" -p wren-kernels --example insn_probe
BIN=target/$T/release/examples/insn_probe
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ROWS=4 COLS=4096

count() {
    qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu -singlestep -d exec,nochain -D "$log" \
        "$BIN" "$@" >/dev/null
    grep -c '^Trace' "$log"
}

# Instructions per block: one call's count over rows × blocks per row.
per_block() {
    local bs=$1
    shift
    local one two
    one=$(count "$@" --reps 1)
    two=$(count "$@" --reps 2)
    echo "scale=1; ($two - $one) / ($ROWS * $COLS / $bs)" | bc
}

echo "| kernel | block | scalar | neon | dotprod | i8mm |"
echo "|---|---|---|---|---|---|"
for ty in q8_0 q4_0 q5_0 q4_1 q5_1 q4_k q5_k q6_k; do
    case $ty in q*_k) bs=256 ;; *) bs=32 ;; esac
    for tok in 1 8; do
        row="| $ty · $( [ "$tok" = 1 ] && echo "1 token" || echo "8 tokens (per token)")| $bs |"
        for isa in scalar neon dotprod i8mm; do
            v=$(per_block "$bs" --type "$ty" --isa "$isa" --rows $ROWS --cols $COLS --tokens "$tok")
            [ "$tok" = 8 ] && v=$(echo "scale=1; $v / 8" | bc)
            row="$row $v |"
        done
        echo "$row"
    done
done
for ty in q8_0 q8_1 q8_k; do
    case $ty in q8_k) bs=256 ;; *) bs=32 ;; esac
    row="| quantize f32 → $ty | $bs |"
    for isa in scalar neon dotprod i8mm; do
        row="$row $(per_block "$bs" --op quantize --type "$ty" --isa "$isa" --rows $ROWS --cols $COLS) |"
    done
    echo "$row"
done
