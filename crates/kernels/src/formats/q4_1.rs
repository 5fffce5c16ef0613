//! Q4_1: blocks of 32 4-bit quants with f16 scale `d` and f16 offset `m`; `y = q·d + m`.
//! Nibble order as Q4_0.
//!
//! Mirrors ggml `block_q4_1` (ggml/src/ggml-common.h), `dequantize_row_q4_1` and
//! `quantize_row_q4_1_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q4_1_q8_1_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_1.

use super::f16::F16Le;
use super::q8_1::BlockQ8_1;
use super::Block;
use crate::GgmlType;

/// Elements per block.
pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockQ4_1 {
    pub d: F16Le,
    pub m: F16Le,
    pub qs: [u8; QK / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ4_1>() == 20);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ4_1 {
    const TYPE: GgmlType = GgmlType::Q4_1;
}

pub fn dequantize(blocks: &[BlockQ4_1], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK,
        out.len(),
        "Q4_1 dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK)) {
        let (d, m) = (b.d.to_f32(), b.m.to_f32());
        let (lo, hi) = y.split_at_mut(QK / 2);
        for j in 0..QK / 2 {
            lo[j] = (b.qs[j] & 0x0F) as f32 * d + m;
            hi[j] = (b.qs[j] >> 4) as f32 * d + m;
        }
    }
}

/// `quantize_row_q4_1_ref`: `d = (max − min)/15`, `m = min`,
/// `q = min(15, trunc((x − min)/d + 0.5))`.
pub fn quantize(x: &[f32], out: &mut [BlockQ4_1]) {
    assert_eq!(x.len(), out.len() * QK, "Q4_1 quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let (mut min, mut max) = (f32::MAX, -f32::MAX);
        for &v in xb {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        b.m = F16Le::from_f32(min);
        for j in 0..QK / 2 {
            let q0 = (((xb[j] - min) * id + 0.5) as i8).min(15) as u8;
            let q1 = (((xb[j + QK / 2] - min) * id + 0.5) as i8).min(15) as u8;
            b.qs[j] = q0 | (q1 << 4);
        }
    }
}

/// `ggml_vec_dot_q4_1_q8_1_generic`: exact i32 sum per block, then
/// `(dx·dy)·sumi + m·s` (the offset term uses the activation's stored `s`).
pub fn vec_dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_1 vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..QK / 2 {
            let v0 = (x.qs[j] & 0x0F) as i32;
            let v1 = (x.qs[j] >> 4) as i32;
            sumi += v0 * y.qs[j] as i8 as i32 + v1 * y.qs[j + QK / 2] as i8 as i32;
        }
        sumf += (x.d.to_f32() * y.d.to_f32()) * sumi as f32 + x.m.to_f32() * y.s.to_f32();
    }
    sumf
}
