#!/usr/bin/env bash
# Side-by-side prompt-processing (pp512) and generation (tg128) speed of wren and llama.cpp,
# in alternating rounds so both engines see the same machine noise; then the memory read
# bandwidth (the `membw` example) and each engine's decode as a share of the ceiling
# bandwidth ÷ bytes read per token.
#
# llama.cpp comes from the PyPI source package llama-cpp-python==0.3.36 (llama.cpp commit
# 0c1e57098, the peer in shared/reference/PEERS.md), built here from source with native
# flags into a virtualenv that later runs reuse. The first build takes 10+ minutes.
#
# Usage: scripts/bench_vs_llama.sh [MODEL]
#   MODEL is a GGUF path or a wren catalogue name (gemma3-270m, smollm2-135m-instruct),
#   fetched on first use; default $WREN_MODEL, else the default model.
#
# Environment (all optional):
#   WREN_MODEL        model file        (default ~/.cache/wren/gemma-3-270m-q4_k_m.gguf)
#   THREADS           thread counts     (default "1 2")
#   REPS              alternating rounds (default 5)
#   DEPTH             also run the tests after this many tokens of context, e.g. 4096
#   OUT               results JSON      (default bench-results.json)
#   WREN_BENCH_VENV   virtualenv        (default ~/.cache/wren/bench-venv)
#   WREN_BIN          wren binary       (default target/release/wren, built if missing)
#   WREN_ARGS         extra `wren bench` arguments, e.g. "--compute quant"
#   LLAMA_FLASH_ATTN  1 (default, as llama-bench) or 0
#   N_PROMPT, N_GEN   test sizes        (default 512, 128)
#   PYTHON            interpreter that creates the virtualenv (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WREN_BENCH_VENV:-$HOME/.cache/wren/bench-venv}"
MODEL="${1:-${WREN_MODEL:-$HOME/.cache/wren/gemma-3-270m-q4_k_m.gguf}}"
THREADS="${THREADS:-1 2}"
REPS="${REPS:-5}"
DEPTH="${DEPTH:-}"
OUT="${OUT:-bench-results.json}"
WREN_BIN="${WREN_BIN:-$ROOT/target/release/wren}"
LLAMA_CPP_PYTHON_VERSION="0.3.36"

say() { echo "[bench_vs_llama] $*" >&2; }

# --- llama-cpp-python in its virtualenv ------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    mkdir -p "$(dirname "$VENV")"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
have_llama() {
    "$VENV/bin/python" - "$LLAMA_CPP_PYTHON_VERSION" <<'EOF' 2>/dev/null
import sys
import llama_cpp
sys.exit(0 if llama_cpp.__version__ == sys.argv[1] else 1)
EOF
}
# GGML_NATIVE compiles for the CPU it is built on: a venv built on another CPU (another
# machine sharing this home directory) is rebuilt, or it could crash or run slower.
cpu_stamp() {
    { grep -m1 '^model name' /proc/cpuinfo; grep -m1 '^flags' /proc/cpuinfo; } 2>/dev/null \
        | cksum | cut -d' ' -f1
}
STAMP_FILE="$VENV/.wren-llama-cpu"
if have_llama && [ "$(cat "$STAMP_FILE" 2>/dev/null)" = "$(cpu_stamp)" ]; then
    say "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION already in $VENV"
else
    if have_llama; then
        say "llama-cpp-python in $VENV was built on another CPU: rebuilding it"
    fi
    say "installing llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION into $VENV"
    say "  (builds llama.cpp from source with -DGGML_NATIVE=ON; 10+ minutes the first time)"
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON}" \
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
        "$VENV/bin/pip" install --no-cache-dir --force-reinstall --no-deps \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    # Its dependencies (numpy, diskcache, jinja2, typing-extensions) if still missing.
    "$VENV/bin/pip" install --no-cache-dir "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    have_llama || { say "llama-cpp-python did not import after the install"; exit 1; }
    cpu_stamp > "$STAMP_FILE"
fi

# --- model and wren --------------------------------------------------------------------
if [ ! -x "$WREN_BIN" ]; then
    say "building wren (cargo build --release --bin wren)"
    (cd "$ROOT" && cargo build --release --bin wren)
fi
if [ ! -f "$MODEL" ] && [ -n "${1:-}" ]; then
    say "$MODEL is not a file: fetching it by name with wren"
    MODEL="$("$WREN_BIN" fetch "$MODEL")"
fi
if [ ! -f "$MODEL" ]; then
    say "model $MODEL not found: fetching the default model with wren"
    WREN_FETCH=1
else
    WREN_FETCH=0
fi
# Memory-bandwidth probe for the share-of-ceiling table (measured in the same run).
(cd "$ROOT" && cargo build --release --quiet -p wren-kernels --example membw)
MEMBW="$ROOT/target/release/examples/membw"
if [ "$WREN_FETCH" = 1 ]; then
    if [ -n "${WREN_MODEL:-}" ]; then
        say "WREN_MODEL=$WREN_MODEL does not exist"
        exit 1
    fi
    "$WREN_BIN" fetch
fi

DEPTHS="0"
if [ -n "$DEPTH" ] && [ "$DEPTH" != 0 ]; then
    DEPTHS="0 $DEPTH"
fi
FLASH=()
if [ "${LLAMA_FLASH_ATTN:-1}" = 0 ]; then
    FLASH=(--no-flash-attn)
fi

say "model $MODEL"
say "threads [$THREADS], $REPS alternating rounds, depths [$DEPTHS]; each sample is a fresh process"
say "results -> $OUT"
exec "$VENV/bin/python" "$ROOT/scripts/bench_vs_llama.py" compare \
    --model "$MODEL" --wren "$WREN_BIN" \
    --threads "$THREADS" --reps "$REPS" --depths "$DEPTHS" \
    --n-prompt "${N_PROMPT:-512}" --n-gen "${N_GEN:-128}" \
    --out "$OUT" --wren-args "${WREN_ARGS:-}" --membw "$MEMBW" ${FLASH[@]+"${FLASH[@]}"}
