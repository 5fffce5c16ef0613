//! Q3_K: super-blocks of 256 = 16 sub-blocks of 16, 3-bit quants (2 low bits in `qs`, the
//! high bit in `hmask`), 6-bit signed sub-block scales, f16 super-scale;
//! `y = d·(sc − 32)·(q − 4)` where `q = low | high << 2`.
//!
//! Element `e = 128·h + 32·j + l` (h < 2, j < 4, l < 32): low bits `(qs[32·h + l] >> 2j) & 3`,
//! high bit = bit `4·h + j` of `hmask[l]`, scale index `e / 16`. Scales: low 4 bits in
//! `scales[0..8]` (nibbles), high 2 bits in `scales[8..12]`.
//!
//! Mirrors ggml `block_q3_K` (ggml/src/ggml-common.h), `dequantize_row_q3_K` and
//! `quantize_row_q3_K_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q3_K_q8_K_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_K.

use super::f16::F16Le;
use super::k_common::{make_q3_quants_rmse, nearest_int, QK_K};
use super::q8_k::BlockQ8K;
use super::Block;
use crate::GgmlType;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ3K {
    pub hmask: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 4],
    pub scales: [u8; 12],
    pub d: F16Le,
}

const _: () = assert!(std::mem::size_of::<BlockQ3K>() == 110);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ3K {
    const TYPE: GgmlType = GgmlType::Q3K;
}

impl Default for BlockQ3K {
    fn default() -> Self {
        Self {
            hmask: [0; QK_K / 8],
            qs: [0; QK_K / 4],
            scales: [0; 12],
            d: F16Le::ZERO,
        }
    }
}

/// The 6-bit scale of sub-block `j` (0..16), minus 32.
#[inline]
fn scale(s: &[u8; 12], j: usize) -> i32 {
    let low = if j < 8 { s[j] & 0xF } else { s[j - 8] >> 4 };
    let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    (low | (high << 4)) as i32 - 32
}

/// The 256 signed quants `q − 4` of a super-block, in element order.
#[inline]
fn unpack(b: &BlockQ3K) -> [i8; QK_K] {
    let mut a = [0i8; QK_K];
    for h in 0..2 {
        for j in 0..4 {
            let m = 1u8 << (4 * h + j);
            for l in 0..32 {
                let low = ((b.qs[32 * h + l] >> (2 * j)) & 3) as i8;
                a[128 * h + 32 * j + l] = low - if b.hmask[l] & m != 0 { 0 } else { 4 };
            }
        }
    }
    a
}

pub fn dequantize(blocks: &[BlockQ3K], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK_K,
        out.len(),
        "Q3_K dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d_all = b.d.to_f32();
        let q = unpack(b);
        for g in 0..QK_K / 16 {
            let dl = d_all * scale(&b.scales, g) as f32;
            for e in 16 * g..16 * g + 16 {
                y[e] = dl * q[e] as f32;
            }
        }
    }
}

/// `quantize_row_q3_K_ref` (no importance weights).
pub fn quantize(x: &[f32], out: &mut [BlockQ3K]) {
    assert_eq!(x.len(), out.len() * QK_K, "Q3_K quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut l = [0u8; QK_K];
        let mut scales = [0.0f32; QK_K / 16];
        let (mut max_scale, mut amax) = (0.0f32, 0.0f32);
        for j in 0..QK_K / 16 {
            scales[j] =
                make_q3_quants_rmse(4, &xb[16 * j..16 * j + 16], &mut l[16 * j..16 * j + 16]);
            if scales[j].abs() > amax {
                amax = scales[j].abs();
                max_scale = scales[j];
            }
        }
        b.scales = [0; 12];
        if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            for j in 0..QK_K / 16 {
                // ggml: int8_t l = nearest_int(...) (wrapping), then clamp to [-32, 31] + 32.
                let v = ((nearest_int(iscale * scales[j]) as i8).clamp(-32, 31) + 32) as u8;
                if j < 8 {
                    b.scales[j] = v & 0xF;
                } else {
                    b.scales[j - 8] |= (v & 0xF) << 4;
                }
                b.scales[j % 4 + 8] |= (v >> 4) << (2 * (j / 4));
            }
            b.d = F16Le::from_f32(1.0 / iscale);
        } else {
            b.d = F16Le::from_f32(0.0);
        }
        for j in 0..QK_K / 16 {
            let d = b.d.to_f32() * scale(&b.scales, j) as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                let v = nearest_int(xb[16 * j + ii] / d).clamp(-4, 3);
                l[16 * j + ii] = (v + 4) as u8;
            }
        }
        b.hmask = [0; QK_K / 8];
        for (j, lj) in l.iter_mut().enumerate() {
            if *lj > 3 {
                b.hmask[j % 32] |= 1 << (j / 32);
                *lj -= 4;
            }
        }
        for h in 0..2 {
            for i in 0..32 {
                let e = 128 * h + i;
                b.qs[32 * h + i] = l[e] | (l[e + 32] << 2) | (l[e + 64] << 4) | (l[e + 96] << 6);
            }
        }
    }
}

/// `ggml_vec_dot_q3_K_q8_K_generic`: per super-block the exact integer sum
/// `Σ_g (sc[g] − 32)·Σ q8·(q − 4)` over 16 groups of 16, then `(x.d·y.d)·isum`.
pub fn vec_dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q3_K vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let q = unpack(x);
        let mut isum = 0i32;
        for g in 0..QK_K / 16 {
            let mut sub = 0i32;
            for e in 16 * g..16 * g + 16 {
                sub += q[e] as i32 * y.qs[e] as i8 as i32;
            }
            isum += scale(&x.scales, g) * sub;
        }
        sumf += x.d.to_f32() * y.d() * isum as f32;
    }
    sumf
}
