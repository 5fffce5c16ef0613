//! AVX2 (+FMA, F16C) kernels for several weight rows against up to [`MAX_TOKENS`]
//! activation rows at once: the batched decode step of a server (`--parallel N`) and short
//! prompts. Each weight block is loaded and unpacked once and then multiplied with every
//! token's block, so the per-block unpacking and scale conversion are shared.
//!
//! The activation side is prepared once per call by the safe caller
//! (`crate::isa::multi`), block-major so a block's data for all tokens is contiguous:
//! - `yq[b·N + t]`: token `t`'s 32 quants of block `b`;
//! - `dy[(b·N + t)·8 ..][..8]`: token `t`'s Q8_0 scale of block `b` as f32, broadcast to 8
//!   lanes (a load where a lane broadcast would cost two shuffles);
//! - `sy[b·8 + t]`: the offset term of the unsigned formats, subtracted: `o · Σ y · dy`
//!   for Q4_0/Q5_0 (`Σ (q − o)·y = Σ q·y − o·Σ y`, times the weights' `d`), and `−s` (the
//!   Q8_1 activation's stored `dy·Σ y`, negated) for Q4_1/Q5_1, whose `m·s` is added. So
//!   the inner loop is a plain `maddubs` (exact for all activations: `q` is unsigned and
//!   small) and the offset costs one FMA per block for all tokens.
//!
//! Results equal the per-row kernels up to float summation order (the offset term is
//! subtracted in float once per row instead of per block in integers). Q8_0 uses the sign
//! trick, exact only when no activation quant is `-128`: the caller checks.

use std::arch::x86_64::*;

use super::avx2_quant::{bits32, f16x8, hsum_ps, ld32, nibbles32};
use crate::formats::f16::F16Le;
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_0::BlockQ8_0;

/// Most activation rows one call takes (one accumulator register each).
pub const MAX_TOKENS: usize = 8;

/// Loads 8 f32 from `s[..8]`. Panics if `s` is shorter.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn ld_ps(s: &[f32]) -> __m256 {
    let s = &s[..8];
    // SAFETY: `s` is 8 readable f32; unaligned load.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// Writes row `r`'s results: `out[t·ld + r] = Σ acc[t] − corr[t]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn store<const N: usize>(
    acc: &[__m256; N],
    corr: __m256,
    out: &mut [f32],
    ld: usize,
    r: usize,
) {
    let mut c = [0.0f32; 8];
    // SAFETY: `c` is 8 writable f32; unaligned store.
    unsafe { _mm256_storeu_ps(c.as_mut_ptr(), corr) };
    for t in 0..N {
        out[t * ld + r] = hsum_ps(acc[t]) - c[t];
    }
}

/// Q8_0 weights (`rows` rows of `nb` blocks in `w`) against `N` Q8_0 activation rows.
/// `out[t·ld + r]` gets row `r` · token `t`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and no activation quant may be `-128` (the
/// result would be wrong, not unsafe). Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q8_0<const N: usize>(
    w: &[BlockQ8_0],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    let (yq, dy) = (&yq[..nb * N], &dy[..nb * N * 8]);
    let ones = _mm256_set1_epi16(1);
    for (r, row) in w.chunks_exact(nb).enumerate() {
        let mut acc = [_mm256_setzero_ps(); N];
        for (x, (yb, db)) in row
            .iter()
            .zip(yq.chunks_exact(N).zip(dy.chunks_exact(N * 8)))
        {
            let wq = ld32(&x.qs, 0);
            let aw = _mm256_sign_epi8(wq, wq);
            let dw = f16x8(x.d);
            for t in 0..N {
                let y = _mm256_sign_epi8(ld32(&yb[t], 0), wq);
                let p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, y), ones);
                let d = _mm256_mul_ps(dw, ld_ps(&db[t * 8..]));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc[t]);
            }
        }
        store(&acc, _mm256_setzero_ps(), out, ld, r);
    }
}

/// The unsigned-quant formats: unpack a block to 32 bytes `q` in `0..2^bits`, with scale
/// `d` and the weight factor of the offset term (`d` again for Q4_0/Q5_0, `m` for
/// Q4_1/Q5_1; see the module docs).
trait Unsigned {
    fn d(&self) -> F16Le;
    fn offset_scale(&self) -> F16Le;
    /// # Safety
    /// AVX2 must be available.
    unsafe fn unpack(&self) -> __m256i;
}

macro_rules! unsigned_block {
    ($t:ty, $off:ident, |$x:ident| $unpack:expr) => {
        impl Unsigned for $t {
            #[inline]
            fn d(&self) -> F16Le {
                self.d
            }
            #[inline]
            fn offset_scale(&self) -> F16Le {
                self.$off
            }
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn unpack(&self) -> __m256i {
                let $x = self;
                $unpack
            }
        }
    };
}

unsigned_block!(BlockQ4_0, d, |x| nibbles32(&x.qs));
unsigned_block!(BlockQ4_1, m, |x| nibbles32(&x.qs));
unsigned_block!(BlockQ5_0, d, |x| _mm256_or_si256(
    nibbles32(&x.qs),
    _mm256_and_si256(bits32(x.qh), _mm256_set1_epi8(0x10))
));
unsigned_block!(BlockQ5_1, m, |x| _mm256_or_si256(
    nibbles32(&x.qs),
    _mm256_and_si256(bits32(x.qh), _mm256_set1_epi8(0x10))
));

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn rows_unsigned<X: Unsigned, const N: usize>(
    w: &[X],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    let (yq, dy, sy) = (&yq[..nb * N], &dy[..nb * N * 8], &sy[..nb * 8]);
    let ones = _mm256_set1_epi16(1);
    for (r, row) in w.chunks_exact(nb).enumerate() {
        let mut acc = [_mm256_setzero_ps(); N];
        let mut corr = _mm256_setzero_ps();
        let tables = dy.chunks_exact(N * 8).zip(sy.chunks_exact(8));
        for (x, (yb, (db, s8))) in row.iter().zip(yq.chunks_exact(N).zip(tables)) {
            // SAFETY: this function's features include AVX2.
            let q = unsafe { x.unpack() };
            let dw = f16x8(x.d());
            // (The compiler reuses `dw` where the offset factor is `d` itself.)
            corr = _mm256_fmadd_ps(f16x8(x.offset_scale()), ld_ps(s8), corr);
            for t in 0..N {
                let p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, ld32(&yb[t], 0)), ones);
                let d = _mm256_mul_ps(dw, ld_ps(&db[t * 8..]));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc[t]);
            }
        }
        store(&acc, corr, out, ld, r);
    }
}

/// Q4_0 weights against `N` Q8_0 activation rows (offset 8 in `sy`); as [`rows_q8_0`].
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q4_0<const N: usize>(
    w: &[BlockQ4_0],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    rows_unsigned::<_, N>(w, nb, yq, dy, sy, out, ld)
}

/// Q5_0 weights against `N` Q8_0 activation rows (offset 16 in `sy`); as [`rows_q8_0`].
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q5_0<const N: usize>(
    w: &[BlockQ5_0],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    rows_unsigned::<_, N>(w, nb, yq, dy, sy, out, ld)
}

/// Q4_1 weights against `N` Q8_1 activation rows (`−s` in `sy`); as [`rows_q8_0`].
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q4_1<const N: usize>(
    w: &[BlockQ4_1],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    rows_unsigned::<_, N>(w, nb, yq, dy, sy, out, ld)
}

/// Q5_1 weights against `N` Q8_1 activation rows (`−s` in `sy`); as [`rows_q8_0`].
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q5_1<const N: usize>(
    w: &[BlockQ5_1],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    rows_unsigned::<_, N>(w, nb, yq, dy, sy, out, ld)
}
