#!/usr/bin/env python3
"""Generate the ggml-format test vectors in crates/kernels/tests/data/.

Reference: the Python `gguf` package (gguf.quants), which ports ggml's reference
quantizers and dequantizers to numpy. Run from the repository root:

    python3 scripts/gen_quant_vectors.py

For every format it writes `<TYPE>.bin`, the concatenation of
  1. input  f32 LE [rows * n]  : random f32 rows (normal, small, outliers, zero, offset, big)
  2. bytes  u8     [rows * row_bytes(n)]
  3. deq    f32 LE [rows * n]  : the reference dequantization of `bytes`
and describes it in `manifest.json` ("bytes_source" says where `bytes` came from):
  - "gguf_quantize": gguf.quants.quantize(input) (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)
  - "numpy_ref_quantize": no gguf support at all (Q8_1, Q8_K); this script's numpy port of
    ggml's quantize_row_q8_1_ref / quantize_row_q8_K_ref, dequantized as q*d
  - "random_valid": gguf can only dequantize (Q2_K..Q6_K, IQ4_NL, IQ4_XS): random block bytes with finite
    f16 scales, dequantized by gguf.quants.dequantize
The output is committed; the Rust tests do not need Python.
"""

import json
import os
import sys
from importlib.metadata import version

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

SEED = 20240531
ROWS = 6
N = 512
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "kernels", "tests", "data")

GGUF_QUANTIZE = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]
NUMPY_QUANTIZE = ["Q8_1", "Q8_K"]
GGUF_DEQUANT_ONLY = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]

# Block geometry. gguf-py's GGML_QUANT_SIZES still lists Q8_1 as 40 bytes (the old
# `float d, s` layout); ggml's block_q8_1 has been `ggml_half d, s; int8_t qs[32]` = 36 bytes
# for a long time, which is what ggml (and wren) use.
SIZES = {**{t.name: v for t, v in GGML_QUANT_SIZES.items()}, "Q8_1": (32, 36)}

# Byte offsets of the f16 fields of each k-quant block (see ggml-common.h).
F16_FIELDS = {"Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
              "IQ4_NL": [0], "IQ4_XS": [0]}


def make_inputs(rng: np.random.Generator) -> np.ndarray:
    x = np.empty((ROWS, N), dtype=np.float32)
    x[0] = rng.standard_normal(N)  # plain Gaussian
    x[1] = rng.standard_normal(N) * 0.02  # typical weight scale
    x[2] = rng.standard_normal(N)
    idx = rng.choice(N, size=8, replace=False)
    x[2, idx] *= 40.0  # outliers
    x[3] = 0.0  # all zero
    x[4] = rng.uniform(-1.0, 1.0, N) + 0.75  # asymmetric (exercises the mins)
    x[5] = rng.standard_normal(N) * 100.0
    x[5, rng.choice(N, size=64, replace=False)] = 0.0  # exact zeros
    x[5, 0:32] *= 1e-3  # one tiny block next to big ones
    return x


def nearest_int(v: np.ndarray) -> np.ndarray:
    """ggml's nearest_int: round half to even (of an f32 value)."""
    return np.rint(v.astype(np.float32)).astype(np.int32)


def q8_1_ref(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Port of quantize_row_q8_1_ref; returns (bytes, dequant)."""
    b = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(b).max(axis=1, keepdims=True)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    v = (b * idv).astype(np.float32)
    qs = gguf.quants.np_roundf(v).astype(np.int8)  # roundf: half away from zero
    s = (qs.astype(np.int32).sum(axis=1, keepdims=True).astype(np.float32) * d).astype(np.float32)
    out = np.concatenate([d.astype(np.float16).view(np.uint8), s.astype(np.float16).view(np.uint8),
                          qs.view(np.uint8)], axis=1)
    deq = qs.astype(np.float32) * d.astype(np.float16).astype(np.float32)
    return out.reshape(x.shape[0], -1), deq.reshape(x.shape)


def q8_k_ref(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Port of quantize_row_q8_K_ref (all-zero blocks get zero sums); returns (bytes, dequant)."""
    b = x.reshape(-1, 256).astype(np.float32)
    imax = np.abs(b).argmax(axis=1)  # first index of the largest magnitude
    mx = b[np.arange(b.shape[0]), imax][:, None]
    zero = mx == 0
    with np.errstate(divide="ignore"):
        iscale = np.where(zero, np.float32(0), np.float32(-127) / mx).astype(np.float32)
    qs = np.minimum(127, nearest_int(iscale * b)).astype(np.int8)
    qs[zero[:, 0]] = 0
    bsums = qs.reshape(-1, 16, 16).astype(np.int32).sum(axis=2).astype(np.int16)
    with np.errstate(divide="ignore"):
        d = np.where(zero, np.float32(0), np.float32(1) / iscale).astype(np.float32)
    out = np.concatenate([d.view(np.uint8), qs.view(np.uint8), bsums.view(np.uint8)], axis=1)
    deq = d * qs.astype(np.float32)
    return out.reshape(x.shape[0], -1), deq.reshape(x.shape)


def random_blocks(rng: np.random.Generator, name: str, n_rows: int) -> np.ndarray:
    """Random valid blocks: random bytes, with f16 fields set to finite random values."""
    block, size = SIZES[name]
    nb = n_rows * N // block
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    for off in F16_FIELDS[name]:
        vals = (rng.standard_normal(nb) * 0.01).astype(np.float16)
        vals[0] = 0.0  # one zero scale
        vals[1] = np.float16(6.0e-8)  # a subnormal
        raw[:, off:off + 2] = vals.view(np.uint8).reshape(nb, 2)
    return raw.reshape(n_rows, -1)


def main() -> int:
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT, exist_ok=True)
    x = make_inputs(rng)
    manifest = {"generator": "scripts/gen_quant_vectors.py", "gguf_version": version("gguf"),
                "numpy_version": np.__version__, "seed": SEED, "rows": ROWS, "n": N, "formats": []}
    for name in GGUF_QUANTIZE + NUMPY_QUANTIZE + GGUF_DEQUANT_ONLY:
        if name in GGUF_QUANTIZE:
            q = gguf.quants.quantize(x, T[name])
            q = np.ascontiguousarray(q).view(np.uint8).reshape(ROWS, -1)
            deq = gguf.quants.dequantize(q, T[name]).astype(np.float32)
            source = "gguf_quantize"
        elif name in NUMPY_QUANTIZE:
            q, deq = (q8_1_ref if name == "Q8_1" else q8_k_ref)(x)
            source = "numpy_ref_quantize"
        else:
            q = random_blocks(rng, name, ROWS)
            deq = gguf.quants.dequantize(q, T[name]).astype(np.float32)
            source = "random_valid"
        block, size = SIZES[name]
        assert q.shape == (ROWS, N // block * size), (name, q.shape)
        assert deq.shape == (ROWS, N), (name, deq.shape)
        assert np.isfinite(deq).all(), name
        with open(os.path.join(OUT, f"{name}.bin"), "wb") as f:
            f.write(x.astype("<f4").tobytes())
            f.write(q.tobytes())
            f.write(deq.astype("<f4").tobytes())
        manifest["formats"].append({"type": name, "bytes_source": source})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
