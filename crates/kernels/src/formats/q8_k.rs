//! Q8_K: super-blocks of 256 signed 8-bit quants with an f32 scale and the sums of each
//! 16-quant group; `y = q·d`. The activation format of all k-quants.
//!
//! Mirrors ggml `block_q8_K` (ggml/src/ggml-common.h), `quantize_row_q8_K_ref` and
//! `dequantize_row_q8_K` (ggml/src/ggml-quants.c). ggml has no Q8_K weight dot product;
//! [`vec_dot`] here is a wren extension (Q8_K · Q8_K) so that every format has one.

use super::k_common::{nearest_int, QK_K};
use super::Block;
use crate::GgmlType;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ8K {
    /// f32 scale, little-endian (may be negative).
    pub d: [u8; 4],
    pub qs: [u8; QK_K],
    /// i16 little-endian sums of `qs` over each group of 16.
    pub bsums: [[u8; 2]; QK_K / 16],
}

const _: () = assert!(std::mem::size_of::<BlockQ8K>() == 292);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ8K {
    const TYPE: GgmlType = GgmlType::Q8K;
}

impl Default for BlockQ8K {
    fn default() -> Self {
        Self {
            d: [0; 4],
            qs: [0; QK_K],
            bsums: [[0; 2]; QK_K / 16],
        }
    }
}

impl BlockQ8K {
    /// The scale.
    #[inline]
    pub fn d(&self) -> f32 {
        f32::from_le_bytes(self.d)
    }

    /// Sum of quants `16·g .. 16·g + 16`, as stored.
    #[inline]
    pub fn bsum(&self, g: usize) -> i32 {
        i16::from_le_bytes(self.bsums[g]) as i32
    }
}

pub fn dequantize(blocks: &[BlockQ8K], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK_K,
        out.len(),
        "Q8_K dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d = b.d();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = d * q as i8 as f32;
        }
    }
}

/// `quantize_row_q8_K_ref`: `iscale = −127/max` (max = value of largest magnitude),
/// `q = min(127, nearest_int(iscale·x))`, `d = 1/iscale`. An all-zero block gets `d = 0` and
/// zero quants and sums (ggml leaves its sums unwritten).
pub fn quantize(x: &[f32], out: &mut [BlockQ8K]) {
    assert_eq!(x.len(), out.len() * QK_K, "Q8_K quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in xb {
            let ax = v.abs();
            if ax > amax {
                amax = ax;
                max = v;
            }
        }
        if amax == 0.0 {
            *b = BlockQ8K::default();
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            *q = nearest_int(iscale * v).min(127) as i8 as u8;
        }
        for g in 0..QK_K / 16 {
            let sum: i32 = b.qs[16 * g..16 * g + 16]
                .iter()
                .map(|&q| q as i8 as i32)
                .sum();
            b.bsums[g] = (sum as i16).to_le_bytes();
        }
        b.d = (1.0 / iscale).to_le_bytes();
    }
}

/// Q8_K · Q8_K (wren extension): exact i32 sum per super-block, scaled by `dx·dy`.
pub fn vec_dot(w: &[BlockQ8K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_K vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (&qx, &qy) in x.qs.iter().zip(&y.qs) {
            sumi += qx as i8 as i32 * qy as i8 as i32;
        }
        sumf += sumi as f32 * (x.d() * y.d());
    }
    sumf
}
