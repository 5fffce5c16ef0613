//! Q5_K: as Q4_K with a fifth bit per quant in `qh`; `y = d·sc·q − dmin·m`, `q` in 0..32.
//!
//! Element `l` of sub-block `s` (0..8) takes its high bit from bit `s` of `qh[l]`.
//!
//! Mirrors ggml `block_q5_K` (ggml/src/ggml-common.h), `dequantize_row_q5_K` and
//! `quantize_row_q5_K_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q5_K_q8_K_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_K.

use super::f16::F16Le;
use super::k_common::{get_scale_min_k4, nearest_int, q45k_scales, Qkx2, QK_K};
use super::q8_k::BlockQ8K;
use super::Block;
use crate::GgmlType;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ5K {
    pub d: F16Le,
    pub dmin: F16Le,
    pub scales: [u8; 12],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ5K>() == 176);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ5K {
    const TYPE: GgmlType = GgmlType::Q5K;
}

impl Default for BlockQ5K {
    fn default() -> Self {
        Self {
            d: F16Le::ZERO,
            dmin: F16Le::ZERO,
            scales: [0; 12],
            qh: [0; QK_K / 8],
            qs: [0; QK_K / 2],
        }
    }
}

/// The 256 unsigned 5-bit quants of a super-block, in element order.
#[inline]
fn unpack(b: &BlockQ5K) -> [u8; QK_K] {
    let mut a = [0u8; QK_K];
    for c in 0..4 {
        let q = &b.qs[32 * c..32 * c + 32];
        let (u1, u2) = (1u8 << (2 * c), 2u8 << (2 * c));
        for l in 0..32 {
            a[64 * c + l] = (q[l] & 0xF) + if b.qh[l] & u1 != 0 { 16 } else { 0 };
            a[64 * c + 32 + l] = (q[l] >> 4) + if b.qh[l] & u2 != 0 { 16 } else { 0 };
        }
    }
    a
}

pub fn dequantize(blocks: &[BlockQ5K], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK_K,
        out.len(),
        "Q5_K dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let (d, min) = (b.d.to_f32(), b.dmin.to_f32());
        let q = unpack(b);
        for s in 0..8 {
            let (sc, m) = get_scale_min_k4(s, &b.scales);
            let (ds, ms) = (d * sc as f32, min * m as f32);
            for e in 32 * s..32 * s + 32 {
                y[e] = ds * q[e] as f32 - ms;
            }
        }
    }
}

/// `quantize_row_q5_K_ref` (no importance weights).
pub fn quantize(x: &[f32], out: &mut [BlockQ5K]) {
    assert_eq!(x.len(), out.len() * QK_K, "Q5_K quantize: length mismatch");
    let p = Qkx2 {
        nmax: 31,
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
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
                l[32 * j + ii] = v.clamp(0, 31) as u8;
            }
        }
        b.qh = [0; QK_K / 8];
        for c in 0..4 {
            let (m1, m2) = (1u8 << (2 * c), 2u8 << (2 * c));
            for j in 0..32 {
                let mut l1 = l[64 * c + j];
                if l1 > 15 {
                    l1 -= 16;
                    b.qh[j] |= m1;
                }
                let mut l2 = l[64 * c + j + 32];
                if l2 > 15 {
                    l2 -= 16;
                    b.qh[j] |= m2;
                }
                b.qs[32 * c + j] = l1 | (l2 << 4);
            }
        }
    }
}

/// `ggml_vec_dot_q5_K_q8_K_generic`: as Q4_K with 5-bit quants.
pub fn vec_dot(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_K vec_dot: length mismatch");
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
