//! Q8_1: blocks of 32 signed 8-bit quants with f16 scale `d` and f16 `s = d·Σq`; `y = q·d`.
//! The activation format for Q4_1 and Q5_1 (the `s` term carries their offset `m`).
//!
//! Mirrors ggml `block_q8_1` (ggml/src/ggml-common.h) and `quantize_row_q8_1_ref`
//! (ggml/src/ggml-quants.c). ggml has no Q8_1 weight dot product; [`vec_dot`] here is a wren
//! extension (Q8_1 · Q8_1, ignoring `s`) so that every format has one.

use super::f16::F16Le;
use super::Block;
use crate::GgmlType;

/// Elements per block.
pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockQ8_1 {
    pub d: F16Le,
    pub s: F16Le,
    pub qs: [u8; QK],
}

const _: () = assert!(std::mem::size_of::<BlockQ8_1>() == 36);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ8_1 {
    const TYPE: GgmlType = GgmlType::Q8_1;
}

/// `y = q·d` (`s` is redundant for dequantization).
pub fn dequantize(blocks: &[BlockQ8_1], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK,
        out.len(),
        "Q8_1 dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = q as i8 as f32 * d;
        }
    }
}

/// `quantize_row_q8_1_ref`: as Q8_0, plus `s = f16(d·Σq)` with `d` before f16 rounding.
pub fn quantize(x: &[f32], out: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), out.len() * QK, "Q8_1 quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        let mut sum = 0i32;
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            let qi = (v * id).round() as i8;
            *q = qi as u8;
            sum += qi as i32;
        }
        b.s = F16Le::from_f32(sum as f32 * d);
    }
}

/// Q8_1 · Q8_1 (wren extension): exact i32 sum per block, scaled by `dx·dy`.
pub fn vec_dot(w: &[BlockQ8_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_1 vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (&qx, &qy) in x.qs.iter().zip(&y.qs) {
            sumi += qx as i8 as i32 * qy as i8 as i32;
        }
        sumf += sumi as f32 * (x.d.to_f32() * y.d.to_f32());
    }
    sumf
}
