//! The AVX2 (+FMA, F16C) kernel of Q8_0×4, the load-time repacking of Q8_0
//! (`crate::formats::q8_0x4`): weight rows against 1 to 8 Q8_0 activation rows. The
//! output head of tied-embedding models is Q8_0, and most of a decode step's bytes.
//!
//! One arithmetic for one token and many: decoding runs it for one token, a batched step
//! or a speculative verify pass for several, and each (row, token) gets the same bits
//! whatever the token count (verification needs exactly the logits decoding computes).
//! Per group of four blocks and token, the four integer block sums are reduced in
//! integers first, then converted, scaled (one multiply of the group's four weight scales
//! by the token's four) and added by one FMA. The products use the `maddubs` sign trick,
//! exact only when no activation quant is `-128`: the callers check.

// SAFETY (module): every `unsafe fn` here only needs the CPU features named in its
// `#[target_feature]` (callers in `crate::isa::packed` and `crate::isa::multi` call them
// after `Proven` established the AVX2 tier); all memory is reached through bounds-checked
// slices, and the one raw-pointer operation (the prefetch) lives in `avx2_q5_0x4`.
use std::arch::x86_64::*;

use super::avx2_multi::{ld_ps, store};
use super::avx2_q5_0x4::{group_scales, prefetch, reduce4};
use super::avx2_quant::ld32;
use crate::formats::q8_0x4::GROUP_BYTES;

/// Q8_0×4 rows (`rows` rows of `nb` blocks in `w`: `nb / 4` groups and a tail group of
/// `nb % 4`) against `N` Q8_0 activation rows, with the tables of `crate::isa::tables`
/// (quants `yq[b·N + t]`; group scales `gy`, per group and token the group's block scales
/// twice, zeros past a tail's blocks). Per token and group the block products are reduced
/// in integers first ([`reduce4`]), then converted and scaled once; a tail's missing
/// blocks add exact zeros. `out[t·ld + r]` gets row `r` · token `t`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and no activation quant may be `-128`.
/// Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q8_0x4<const N: usize>(
    w: &[u8],
    nb: usize,
    yq: &[[u8; 32]],
    gy: &[f32],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    let (ng, tail) = (nb / 4, nb % 4);
    let (yq, gy) = (&yq[..nb * N], &gy[..nb.div_ceil(4) * N * 8]);
    let (yq, yt) = yq.split_at(4 * ng * N);
    let (gy, gt) = gy.split_at(ng * N * 8);
    let rb = nb * GROUP_BYTES / 4;
    for (r, row) in w.chunks_exact(rb).enumerate() {
        prefetch(w, r * rb + pf, rb);
        let mut acc = [_mm256_setzero_ps(); N];
        let (row, tail_bytes) = row.split_at(ng * GROUP_BYTES);
        // Iterators rather than indices, so the token loop has no bounds checks.
        let parts = row
            .chunks_exact(GROUP_BYTES)
            .zip(yq.chunks_exact(4 * N).zip(gy.chunks_exact(N * 8)));
        for (g, (yg, sg)) in parts {
            add_group::<N, 4>(g, yg, sg, &mut acc);
        }
        match tail {
            1 => add_group::<N, 1>(tail_bytes, yt, gt, &mut acc),
            2 => add_group::<N, 2>(tail_bytes, yt, gt, &mut acc),
            3 => add_group::<N, 3>(tail_bytes, yt, gt, &mut acc),
            _ => {}
        }
        store(&acc, _mm256_setzero_ps(), out, ld, r);
    }
}

/// One group of `LEN` blocks (`g`: `LEN` scales, then `LEN` blocks of quants; `LEN` is 4
/// but for a row's tail) against `N` tokens (`yg[k·N + t]`, scales `sg`), into `acc`: the
/// block products reduced in integers, converted, scaled once and added by one FMA. A
/// tail's missing blocks have zero products and zero scales. `LEN` is a constant so that
/// the whole groups' token loop has no per-block branches: with the length a run-time
/// argument, `multibench --type q8_0 --rows 16384 --cols 640` took 1.27 ms for 4 tokens
/// against 1.05 with it constant (best of ten alternated runs; 2, 3 and 5 tokens alike).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn add_group<const N: usize, const LEN: usize>(
    g: &[u8],
    yg: &[[u8; 32]],
    sg: &[f32],
    acc: &mut [__m256; N],
) {
    let dw = if LEN == 4 {
        group_scales(g)
    } else {
        let mut d = [0u8; 8];
        d[..2 * LEN].copy_from_slice(&g[..2 * LEN]);
        group_scales(&d)
    };
    let zero = _mm256_setzero_si256();
    let x: [__m256i; 4] = std::array::from_fn(|k| {
        if k < LEN {
            ld32(g, 2 * LEN + 32 * k)
        } else {
            zero
        }
    });
    let ax = x.map(|x| _mm256_sign_epi8(x, x));
    let ones = _mm256_set1_epi16(1);
    for t in 0..N {
        let p: [__m256i; 4] = std::array::from_fn(|k| {
            if k < LEN {
                let y = _mm256_sign_epi8(ld32(&yg[k * N + t], 0), x[k]);
                _mm256_madd_epi16(_mm256_maddubs_epi16(ax[k], y), ones)
            } else {
                zero
            }
        });
        let s = _mm256_mul_ps(dw, ld_ps(&sg[t * 8..]));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce4(p)), s, acc[t]);
    }
}
