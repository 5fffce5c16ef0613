#!/usr/bin/env bash
# Fuzzes wren with cargo-fuzz (libFuzzer, AddressSanitizer; needs the nightly toolchain
# and cargo-fuzz, both installed here on first use). Targets: gguf_load (GGUF parser +
# tokenizer + model loader), tokenize_spm (Gemma 3's vocabulary), tokenize_bpe
# (SmolLM2's), chat_template (any template, any conversation), request_body (the
# server's OpenAI body types + sampling validation). The tokenizer targets need both
# models in the cache (scripts/test.sh fetches them).
#
#   scripts/fuzz.sh --short [SECS]      each target for SECS seconds (default 60); for CI
#   scripts/fuzz.sh --long [RUNS]       each target for RUNS executions (default 1000000),
#                                       at the lowest CPU priority
#   either may be followed by target names to run only those.
#   WREN_FUZZ_SANITIZER=none runs without AddressSanitizer: panics, aborts, hangs and
#   memory limits are still caught, at several times the executions per second (what the 1M-run
#   counts in the closing notes used; safe Rust needs ASan only around `unsafe`).
#
# Prints one line per target: "fuzz: <target>: <N> executions, <crashes>". Every target
# runs even if an earlier one crashed; the exit status is non-zero if any crashed, hung
# (-timeout) or ran out of memory (-rss_limit_mb, -malloc_limit_mb).
#
# Corpora live in target/fuzz-corpus/<target> (kept between runs), seeded from
# fuzz/seeds/<target>; gguf_load also from the tiny family models in
# crates/core/tests/data/families and llama.cpp's vocab-only GGUFs that fit -max_len,
# the tokenizer targets from llama.cpp's tokenizer test inputs. A crash leaves its input
# under fuzz/artifacts/<target>/: fix the library and turn the input into a regression
# test next to the code.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:---short}
shift || true
case "$mode" in
  # --short uses a fixed seed, so a CI run is reproducible from a fresh corpus.
  --short) secs=${1:-60}; [[ ${1:-} =~ ^[0-9]+$ ]] && shift; limit=(-max_total_time="$secs" -seed=1); nice=() ;;
  --long) runs=${1:-1000000}; [[ ${1:-} =~ ^[0-9]+$ ]] && shift; limit=(-runs="$runs"); nice=(nice -n 19) ;;
  *) echo "usage: $0 --short [SECS] | --long [RUNS] [targets...]" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf_load tokenize_spm tokenize_bpe chat_template request_body)

# Tools: nightly (minimal profile) and cargo-fuzz, if missing.
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal || exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked || exit 1

# One build of every target up front (its time is not counted against the first target).
san=(--sanitizer "${WREN_FUZZ_SANITIZER:-address}")
"${nice[@]}" cargo +nightly fuzz build --release "${san[@]}" >target/fuzz-build.log 2>&1 \
  || { tail -40 target/fuzz-build.log; echo "fuzz: build FAILED (log: target/fuzz-build.log)"; exit 1; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/wren
failed=0
for t in "${targets[@]}"; do
  case "$t" in
    gguf_load) max_len=1048576 ;;
    tokenize_*) max_len=65536 ;;
    *) max_len=16384 ;;
  esac
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  seed() { for f in "$@"; do [ -f "$f" ] && [ "$(stat -c %s "$f")" -le $max_len ] && cp -n "$f" "$corpus"/; done; true; }
  seed fuzz/seeds/"$t"/*
  case "$t" in
    tokenize_*) seed fuzz/seeds/tokenize/* "$cache"/fixtures/*/vocab/*.inp ;;
    gguf_load) seed crates/core/tests/data/families/*/*.gguf "$cache"/fixtures/*/vocab/*.gguf ;;
  esac
  log=target/fuzz-corpus/$t.log
  "${nice[@]}" cargo +nightly fuzz run --release "${san[@]}" "$t" "$corpus" -- \
    "${limit[@]}" -rss_limit_mb=4096 -malloc_limit_mb=2048 -timeout=30 -max_len=$max_len \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t: ${execs:-?} executions, 0 crashes"
  elif grep -q 'libFuzzer: run interrupted' "$log"; then
    failed=1
    echo "fuzz: $t: ${execs:-?} executions, 0 crashes, interrupted"
  else
    failed=1
    tail -40 "$log"
    echo "fuzz: $t: ${execs:-?} executions, CRASHED (exit $rc; input under fuzz/artifacts/$t/, log: $log)"
  fi
done
exit $failed
