//! Q2_K: super-blocks of 256 = 16 sub-blocks of 16, 2-bit quants, 4-bit sub-block scales
//! and mins (low/high nibble of `scales[g]`), f16 super-scales;
//! `y = d·sc·q − dmin·m`.
//!
//! Element `e = 128·h + 32·j + l` (h < 2, j < 4, l < 32) is `(qs[32·h + l] >> 2j) & 3`,
//! with scale/min index `e / 16`.
//!
//! Mirrors ggml `block_q2_K` (ggml/src/ggml-common.h), `dequantize_row_q2_K` and
//! `quantize_row_q2_K_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q2_K_q8_K_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_K.

use super::f16::F16Le;
use super::k_common::{make_qkx2_quants, nearest_int, Qkx2, QK_K};
use super::q8_k::BlockQ8K;
use super::Block;
use crate::GgmlType;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ2K {
    pub scales: [u8; QK_K / 16],
    pub qs: [u8; QK_K / 4],
    pub d: F16Le,
    pub dmin: F16Le,
}

const _: () = assert!(std::mem::size_of::<BlockQ2K>() == 84);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ2K {
    const TYPE: GgmlType = GgmlType::Q2K;
}

impl Default for BlockQ2K {
    fn default() -> Self {
        Self {
            scales: [0; QK_K / 16],
            qs: [0; QK_K / 4],
            d: F16Le::ZERO,
            dmin: F16Le::ZERO,
        }
    }
}

/// The 256 unsigned 2-bit quants of a super-block, in element order.
#[inline]
fn unpack(b: &BlockQ2K) -> [u8; QK_K] {
    let mut a = [0u8; QK_K];
    for h in 0..2 {
        for j in 0..4 {
            for l in 0..32 {
                a[128 * h + 32 * j + l] = (b.qs[32 * h + l] >> (2 * j)) & 3;
            }
        }
    }
    a
}

pub fn dequantize(blocks: &[BlockQ2K], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK_K,
        out.len(),
        "Q2_K dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let (d, min) = (b.d.to_f32(), b.dmin.to_f32());
        let q = unpack(b);
        for g in 0..QK_K / 16 {
            let sc = b.scales[g];
            let (dl, ml) = (d * (sc & 0xF) as f32, min * (sc >> 4) as f32);
            for e in 16 * g..16 * g + 16 {
                y[e] = dl * q[e] as f32 - ml;
            }
        }
    }
}

/// `quantize_row_q2_K_ref` (no importance weights).
pub fn quantize(x: &[f32], out: &mut [BlockQ2K]) {
    assert_eq!(x.len(), out.len() * QK_K, "Q2_K quantize: length mismatch");
    const Q4SCALE: f32 = 15.0;
    let p = Qkx2 {
        nmax: 3,
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
        use_mad: true,
    };
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut l = [0u8; QK_K];
        let mut laux = [0u8; 16];
        let mut weights = [0.0f32; 16];
        let mut scales = [0.0f32; QK_K / 16];
        let mut mins = [0.0f32; QK_K / 16];
        let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
        for j in 0..QK_K / 16 {
            let xs = &xb[16 * j..16 * j + 16];
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = v.abs();
            }
            let (s, m) = make_qkx2_quants(&p, xs, &weights, &mut l[16 * j..16 * j + 16], &mut laux);
            scales[j] = s;
            mins[j] = m;
            if s > max_scale {
                max_scale = s;
            }
            if m > max_min {
                max_min = m;
            }
        }
        if max_scale > 0.0 {
            let iscale = Q4SCALE / max_scale;
            for j in 0..QK_K / 16 {
                b.scales[j] = nearest_int(iscale * scales[j]) as u8;
            }
            b.d = F16Le::from_f32(max_scale / Q4SCALE);
        } else {
            b.scales = [0; QK_K / 16];
            b.d = F16Le::from_f32(0.0);
        }
        if max_min > 0.0 {
            let iscale = Q4SCALE / max_min;
            for j in 0..QK_K / 16 {
                b.scales[j] |= (nearest_int(iscale * mins[j]) << 4) as u8;
            }
            b.dmin = F16Le::from_f32(max_min / Q4SCALE);
        } else {
            b.dmin = F16Le::from_f32(0.0);
        }
        for j in 0..QK_K / 16 {
            let d = b.d.to_f32() * (b.scales[j] & 0xF) as f32;
            if d == 0.0 {
                continue;
            }
            let dm = b.dmin.to_f32() * (b.scales[j] >> 4) as f32;
            for ii in 0..16 {
                let v = nearest_int((xb[16 * j + ii] + dm) / d);
                l[16 * j + ii] = v.clamp(0, 3) as u8;
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

/// `ggml_vec_dot_q2_K_q8_K_generic`: per super-block the exact integer sums
/// `Σ_g sc[g]·Σ q8·q` and `Σ_g bsums[g]·m[g]`, then `dall·isum − dmin·summs` with
/// `dall = y.d·x.d`, `dmin = y.d·x.dmin`.
pub fn vec_dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q2_K vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let q = unpack(x);
        let mut isum = 0i32;
        let mut summs = 0i32;
        for g in 0..QK_K / 16 {
            let sc = x.scales[g];
            let mut sub = 0i32;
            for e in 16 * g..16 * g + 16 {
                sub += q[e] as i32 * y.qs[e] as i8 as i32;
            }
            isum += (sc & 0xF) as i32 * sub;
            summs += (sc >> 4) as i32 * y.bsum(g);
        }
        let dall = y.d() * x.d.to_f32();
        let dmin = y.d() * x.dmin.to_f32();
        sumf += dall * isum as f32 - dmin * summs as f32;
    }
    sumf
}
