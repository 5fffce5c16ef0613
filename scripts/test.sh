#!/usr/bin/env bash
# Runs all of wren's tests: unit and kernel tests, then the real-model suites (tokenizer,
# parity with llama.cpp and the exact reference, perplexity, CLI, server). The real models
# (Gemma 3 270M, SmolLM2-135M-Instruct) and llama.cpp's tokenizer fixtures are fetched
# into the cache first if they are not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --bin wren -- fetch gemma3-270m smollm2-135m-instruct >/dev/null
bash scripts/fetch_fixtures.sh >/dev/null
cargo test --release --workspace -- --include-ignored --nocapture "$@"
# Every SIMD intrinsic in the shipped binary is inlined (an out-of-line one is slow and
# changes no output, so only this check sees it).
bash scripts/check_inlined.sh target/release/wren
# aarch64 kernels under qemu and the SmolLM2 top-1 check (installs the cross toolchain and
# qemu as root; WREN_SKIP_AARCH64=1 skips it on machines without them).
[ "${WREN_SKIP_AARCH64:-0}" = 1 ] || bash scripts/test_aarch64.sh
# A short bounded fuzz run of every target (GGUF load, both tokenizers, chat templates,
# request bodies; installs nightly and cargo-fuzz on first use; ~3 min warm, ~11 cold).
# The long runs are `scripts/fuzz.sh --long` (BENCHMARKS.md, Fuzzing).
[ "${WREN_SKIP_FUZZ:-0}" = 1 ] || bash scripts/fuzz.sh --short 20
