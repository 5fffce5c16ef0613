//! Q4_K: super-blocks of 256 = 8 sub-blocks of 32, 4-bit quants, 6-bit sub-block scales
//! and mins, f16 super-scales; `y = d·sc·q − dmin·m`.
//!
//! Each 64-element chunk `c` uses 32 bytes of `qs`: sub-block `2c` the low nibbles, `2c + 1`
//! the high nibbles. Scales/mins: see [`get_scale_min_k4`].
//!
//! Mirrors ggml `block_q4_K` (ggml/src/ggml-common.h), `dequantize_row_q4_K` and
//! `quantize_row_q4_K_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q4_K_q8_K_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_K.
//!
//! [`get_scale_min_k4`]: super::k_common::get_scale_min_k4

use super::f16::F16Le;
use super::k_common::{get_scale_min_k4, nearest_int, q45k_scales, Qkx2, QK_K};
use super::q8_k::BlockQ8K;
use super::Block;
use crate::GgmlType;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ4K {
    pub d: F16Le,
    pub dmin: F16Le,
    pub scales: [u8; 12],
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ4K {
    const TYPE: GgmlType = GgmlType::Q4K;
}

impl Default for BlockQ4K {
    fn default() -> Self {
        Self {
            d: F16Le::ZERO,
            dmin: F16Le::ZERO,
            scales: [0; 12],
            qs: [0; QK_K / 2],
        }
    }
}

/// The 256 unsigned 4-bit quants of a super-block, in element order.
#[inline]
fn unpack(b: &BlockQ4K) -> [u8; QK_K] {
    let mut a = [0u8; QK_K];
    for c in 0..4 {
        let q = &b.qs[32 * c..32 * c + 32];
        for l in 0..32 {
            a[64 * c + l] = q[l] & 0xF;
            a[64 * c + 32 + l] = q[l] >> 4;
        }
    }
    a
}

pub fn dequantize(blocks: &[BlockQ4K], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK_K,
        out.len(),
        "Q4_K dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let (d, min) = (b.d.to_f32(), b.dmin.to_f32());
        for c in 0..4 {
            let q = &b.qs[32 * c..32 * c + 32];
            let (sc1, m1) = get_scale_min_k4(2 * c, &b.scales);
            let (sc2, m2) = get_scale_min_k4(2 * c + 1, &b.scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            for l in 0..32 {
                y[64 * c + l] = d1 * (q[l] & 0xF) as f32 - m1;
                y[64 * c + 32 + l] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }
}

/// `quantize_row_q4_K_ref` (no importance weights).
pub fn quantize(x: &[f32], out: &mut [BlockQ4K]) {
    assert_eq!(x.len(), out.len() * QK_K, "Q4_K quantize: length mismatch");
    let p = Qkx2 {
        nmax: 15,
        rmin: -1.0,
        rdelta: 0.1,
        nstep: 20,
        use_mad: false,
    };
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut l = [0u8; QK_K];
        let (scales, d, dmin) = q45k_scales(&p, xb, &mut l);
        b.scales = scales;
        b.d = F16Le::from_f32(d);
        b.dmin = F16Le::from_f32(dmin);
        for j in 0..8 {
            let (sc, m) = get_scale_min_k4(j, &b.scales);
            let d = b.d.to_f32() * sc as f32;
            if d == 0.0 {
                continue;
            }
            let dm = b.dmin.to_f32() * m as f32;
            for ii in 0..32 {
                let v = nearest_int((xb[32 * j + ii] + dm) / d);
                l[32 * j + ii] = v.clamp(0, 15) as u8;
            }
        }
        for c in 0..4 {
            for i in 0..32 {
                b.qs[32 * c + i] = l[64 * c + i] | (l[64 * c + 32 + i] << 4);
            }
        }
    }
}

/// `ggml_vec_dot_q4_K_q8_K_generic`: per super-block the exact integer sums
/// `Σ_s sc[s]·Σ q8·q` and `Σ_g bsums[g]·m[g/2]`, then `d·isum − dmin·summs` with
/// `d = x.d·y.d`, `dmin = x.dmin·y.d`.
pub fn vec_dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_K vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let q = unpack(x);
        let mut isum = 0i32;
        let mut summs = 0i32;
        for s in 0..8 {
            let (sc, m) = get_scale_min_k4(s, &x.scales);
            let mut sub = 0i32;
            for l in 32 * s..32 * s + 32 {
                sub += q[l] as i32 * y.qs[l] as i8 as i32;
            }
            isum += sc as i32 * sub;
            summs += m as i32 * (y.bsum(2 * s) + y.bsum(2 * s + 1));
        }
        let yd = y.d();
        sumf += x.d.to_f32() * yd * isum as f32 - x.dmin.to_f32() * yd * summs as f32;
    }
    sumf
}
