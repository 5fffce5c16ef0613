//! Q6_K: super-blocks of 256 = 16 sub-blocks of 16, 6-bit quants (4 low bits in `ql`, 2 high
//! bits in `qh`), signed 8-bit sub-block scales, f16 super-scale; `y = d·sc·(q − 32)`.
//!
//! Each 128-element half uses 64 bytes of `ql` and 32 of `qh`: for `l < 32`, elements
//! `l`, `l+32`, `l+64`, `l+96` are the low nibble of `ql[l]`, low nibble of `ql[l+32]`, high
//! nibble of `ql[l]`, high nibble of `ql[l+32]`, with high bits from `qh[l]` bits 0-1, 2-3,
//! 4-5, 6-7. Element `e` uses scale `e/16`.
//!
//! Mirrors ggml `block_q6_K` (ggml/src/ggml-common.h), `dequantize_row_q6_K` and
//! `quantize_row_q6_K_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q6_K_q8_K_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_K.

use super::f16::F16Le;
use super::k_common::{make_qx_quants_rmse1, nearest_int, QK_K};
use super::q8_k::BlockQ8K;
use super::Block;
use crate::GgmlType;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    /// i8 scales.
    pub scales: [u8; QK_K / 16],
    pub d: F16Le,
}

const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ6K {
    const TYPE: GgmlType = GgmlType::Q6K;
}

impl Default for BlockQ6K {
    fn default() -> Self {
        Self {
            ql: [0; QK_K / 2],
            qh: [0; QK_K / 4],
            scales: [0; QK_K / 16],
            d: F16Le::ZERO,
        }
    }
}

/// The 256 signed quants `q − 32` of a super-block, in element order.
#[inline]
fn unpack(b: &BlockQ6K) -> [i8; QK_K] {
    let mut a = [0i8; QK_K];
    for h in 0..2 {
        let ql = &b.ql[64 * h..64 * h + 64];
        let qh = &b.qh[32 * h..32 * h + 32];
        let y = &mut a[128 * h..128 * h + 128];
        for l in 0..32 {
            y[l] = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i8 - 32;
            y[l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            y[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            y[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
        }
    }
    a
}

pub fn dequantize(blocks: &[BlockQ6K], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK_K,
        out.len(),
        "Q6_K dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        for (e, (y, q)) in y.iter_mut().zip(unpack(b)).enumerate() {
            *y = d * b.scales[e / 16] as i8 as f32 * q as f32;
        }
    }
}

/// `quantize_row_q6_K_ref` (no importance weights).
pub fn quantize(x: &[f32], out: &mut [BlockQ6K]) {
    assert_eq!(x.len(), out.len() * QK_K, "Q6_K quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut l = [0u8; QK_K];
        let mut scales = [0.0f32; QK_K / 16];
        let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
        for ib in 0..QK_K / 16 {
            let s = make_qx_quants_rmse1(
                32,
                &xb[16 * ib..16 * ib + 16],
                &mut l[16 * ib..16 * ib + 16],
            );
            scales[ib] = s;
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = s;
            }
        }
        if max_abs_scale < 1e-15 {
            *b = BlockQ6K::default();
            continue;
        }
        let iscale = -128.0 / max_scale;
        b.d = F16Le::from_f32(1.0 / iscale);
        for ib in 0..QK_K / 16 {
            b.scales[ib] = nearest_int(iscale * scales[ib]).min(127) as i8 as u8;
        }
        for j in 0..QK_K / 16 {
            let d = b.d.to_f32() * b.scales[j] as i8 as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                let v = nearest_int(xb[16 * j + ii] / d).clamp(-32, 31);
                l[16 * j + ii] = (v + 32) as u8;
            }
        }
        for h in 0..2 {
            let lh = &l[128 * h..128 * h + 128];
            for i in 0..32 {
                let (q1, q2, q3, q4) = (lh[i], lh[i + 32], lh[i + 64], lh[i + 96]);
                b.ql[64 * h + i] = (q1 & 0xF) | ((q3 & 0xF) << 4);
                b.ql[64 * h + i + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4);
                b.qh[32 * h + i] =
                    (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
            }
        }
    }
}

/// `ggml_vec_dot_q6_K_q8_K_generic`: per super-block the exact integer sum
/// `Σ_g sc[g]·Σ q8·(q − 32)` over 16 groups of 16, then `(x.d·y.d)·isum`.
pub fn vec_dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q6_K vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let q = unpack(x);
        let mut isum = 0i32;
        for g in 0..QK_K / 16 {
            let mut sub = 0i32;
            for e in 16 * g..16 * g + 16 {
                sub += q[e] as i32 * y.qs[e] as i8 as i32;
            }
            isum += x.scales[g] as i8 as i32 * sub;
        }
        sumf += x.d.to_f32() * y.d() * isum as f32;
    }
    sumf
}
