#!/usr/bin/env bash
# Runs all of wren's tests: unit and kernel tests, then the real-model suites (tokenizer,
# parity with llama.cpp and the exact reference, perplexity, CLI). The default model is
# fetched into the cache first if it is not there yet (as any model-less command would).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --bin wren -- fetch >/dev/null
cargo test --release --workspace -- --include-ignored --nocapture "$@"
