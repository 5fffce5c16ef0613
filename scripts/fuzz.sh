#!/usr/bin/env bash
# Fuzzes wren with cargo-fuzz (libFuzzer; needs the nightly toolchain and cargo-fuzz,
# installed here on first use). Targets: gguf_load (GGUF parser + tokenizer + model
# loader), tokenize_spm (Gemma 3's vocabulary), tokenize_bpe (SmolLM2's), chat_template,
# request_body. The tokenizer targets need both models in the cache (scripts/test.sh
# fetches them).
#
#   scripts/fuzz.sh --short [SECS]      each target for SECS seconds (default 60)
#   scripts/fuzz.sh --long [RUNS]       each target for RUNS executions (default 1000000),
#                                       at the lowest CPU priority
#   either may be followed by target names to run only those.
#
# Corpora live in target/fuzz-corpus/<target>, seeded from fuzz/seeds/<target>, and for
# gguf_load also from llama.cpp's vocab-only GGUFs in the cache. A crash stops the run
# with its input under fuzz/artifacts/<target>/; turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:---short}
shift || true
case "$mode" in
  --short) secs=${1:-60}; [[ ${1:-} =~ ^[0-9]+$ ]] && shift; limit=(-max_total_time="$secs"); nice=() ;;
  --long) runs=${1:-1000000}; [[ ${1:-} =~ ^[0-9]+$ ]] && shift; limit=(-runs="$runs"); nice=(nice -n 19) ;;
  *) echo "usage: $0 --short [SECS] | --long [RUNS] [targets...]" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf_load tokenize_spm tokenize_bpe chat_template request_body)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cache=${XDG_CACHE_HOME:-$HOME/.cache}/wren
for t in "${targets[@]}"; do
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  [ -d "fuzz/seeds/$t" ] && cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  case "$t" in
    tokenize_*) cp -n fuzz/seeds/tokenize/* "$corpus"/ 2>/dev/null || true
                for f in "$cache"/fixtures/*/vocab/*.inp; do [ -e "$f" ] && cp -n "$f" "$corpus"/; done ;;
    gguf_load) for f in "$cache"/fixtures/*/vocab/*.gguf; do [ -e "$f" ] && cp -n "$f" "$corpus"/; done ;;
  esac
  log=target/fuzz-corpus/$t.log
  "${nice[@]}" cargo +nightly fuzz run --release "$t" "$corpus" -- \
    "${limit[@]}" -rss_limit_mb=4096 -timeout=30 -max_len=1048576 -print_final_stats=1 \
    >"$log" 2>&1 || { tail -40 "$log"; echo "fuzz: $t FAILED (log: $log)"; exit 1; }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  echo "fuzz: $t: ${execs:-?} executions, 0 crashes"
done
