//! AVX2 (+F16C) attention kernels that read cached keys and values in their stored
//! format (F32, F16, Q8_0): scores of up to 4 query rows against a run of keys, and the
//! probability-weighted sum of a run of values into up to 4 output rows.
//!
//! Nothing is dequantized into a scratch buffer first: each 8-element group of a key or
//! value row is widened to f32 in registers and used by every query row at once. A Q8_0
//! element becomes `d · q` exactly as the dequantizer computes it (one rounding), so the
//! values path multiplies the same f32 values the tile path used; the scores path sums
//! `q · k` within a block and scales by `d` once per block.
//!
//! Layouts (checked by the safe wrappers in `crate::ops::attn`): `n` rows of
//! `row_bytes(hd)` bytes each, contiguous; query and output rows `hd` floats apart;
//! score and probability rows `ld` floats apart.

use std::arch::x86_64::*;

use super::avx2_quant::hsum_ps;

/// Q8_0 block: an f16 scale then 32 signed bytes.
const Q8_BLOCK: usize = 34;

/// The f16 at `p` (little-endian, unaligned), broadcast to 8 lanes.
///
/// # Safety
/// `p..p+2` must be readable; the CPU must support AVX2 and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn scale_at(p: *const u8) -> __m256 {
    // SAFETY: two readable bytes, as the caller guarantees; unaligned read.
    let h = unsafe { p.cast::<u16>().read_unaligned() };
    _mm256_cvtph_ps(_mm_set1_epi16(h as i16))
}

/// 8 signed bytes at `p` widened to f32.
///
/// # Safety
/// `p..p+8` must be readable; the CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn i8x8_at(p: *const u8) -> __m256 {
    // SAFETY: eight readable bytes, as the caller guarantees; unaligned load.
    let q = unsafe { _mm_loadl_epi64(p.cast()) };
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))
}

/// 8 f16 at `p` widened to f32.
///
/// # Safety
/// `p..p+16` must be readable; the CPU must support AVX2 and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16x8_at(p: *const u8) -> __m256 {
    // SAFETY: sixteen readable bytes, as the caller guarantees; unaligned load.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
}

/// Element format of the rows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rows {
    F32,
    F16,
    Q8_0,
}

impl Rows {
    pub(crate) fn row_bytes(self, hd: usize) -> usize {
        match self {
            Rows::F32 => 4 * hd,
            Rows::F16 => 2 * hd,
            Rows::Q8_0 => hd / 32 * Q8_BLOCK,
        }
    }

    /// Elements `8c..8c+8` of the row at `row` as f32, and for Q8_0 without the block
    /// scale (the caller applies it).
    ///
    /// # Safety
    /// Those elements must lie within the row; AVX2 and F16C must be present.
    #[inline(always)]
    unsafe fn raw8(self, row: *const u8, c: usize) -> __m256 {
        // SAFETY: the caller keeps 8c+8 within the row's elements.
        unsafe {
            match self {
                Rows::F32 => _mm256_loadu_ps(row.cast::<f32>().add(8 * c)),
                Rows::F16 => f16x8_at(row.add(16 * c)),
                Rows::Q8_0 => i8x8_at(row.add((c / 4) * Q8_BLOCK + 2 + 8 * (c % 4))),
            }
        }
    }
}

/// `s[r·ld + j] = Σ_i q[r·hd + i] · K_j[i]` for `r < N`, `j < n`.
///
/// # Safety
/// `k` holds `n` rows of `fmt.row_bytes(hd)` bytes; `q` holds `N·hd` floats; `s` holds
/// `(N−1)·ld + n` floats; `hd` is a multiple of 32; the CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn scores<const N: usize>(
    fmt: Rows,
    k: *const u8,
    n: usize,
    hd: usize,
    q: *const f32,
    s: *mut f32,
    ld: usize,
) {
    let rb = fmt.row_bytes(hd);
    let nb = hd / 32;
    for j in 0..n {
        // SAFETY: row j of n; every read below stays inside it (blocks b < hd/32, groups
        // c < 4) or inside the N query rows; the write is row r < N, column j < n.
        unsafe {
            let row = k.add(j * rb);
            let mut acc = [_mm256_setzero_ps(); N];
            for b in 0..nb {
                let mut bs = [_mm256_setzero_ps(); N];
                for c in 0..4 {
                    let kv = fmt.raw8(row, 4 * b + c);
                    for (r, a) in bs.iter_mut().enumerate() {
                        let qv = _mm256_loadu_ps(q.add(r * hd + 32 * b + 8 * c));
                        *a = _mm256_fmadd_ps(qv, kv, *a);
                    }
                }
                if fmt == Rows::Q8_0 {
                    let d = scale_at(row.add(b * Q8_BLOCK));
                    for r in 0..N {
                        acc[r] = _mm256_fmadd_ps(d, bs[r], acc[r]);
                    }
                } else {
                    for r in 0..N {
                        acc[r] = _mm256_add_ps(bs[r], acc[r]);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                *s.add(r * ld + j) = hsum_ps(*a);
            }
        }
    }
}

/// `o[r·hd + i] += Σ_j p[r·ld + j] · V_j[i]` for `r < N`, `j < n`.
///
/// # Safety
/// `v` holds `n` rows of `fmt.row_bytes(hd)` bytes; `p` holds `(N−1)·ld + n` floats; `o`
/// holds `N·hd` floats; `hd` is a multiple of 32; the CPU supports AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn values<const N: usize>(
    fmt: Rows,
    v: *const u8,
    n: usize,
    hd: usize,
    p: *const f32,
    ld: usize,
    o: *mut f32,
) {
    let rb = fmt.row_bytes(hd);
    // 16 output columns at a time: 2·N accumulators stay in registers over all n values.
    for h in 0..hd / 16 {
        // SAFETY: columns 16h..16h+16 < hd of each of the N output rows; value reads stay
        // in row j < n (groups 2h, 2h+1 of hd/8, and for Q8_0 the scale of block h/2);
        // probability reads are p[r·ld + j], r < N, j < n.
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; N];
            for j in 0..n {
                let row = v.add(j * rb);
                let (mut v0, mut v1) = (fmt.raw8(row, 2 * h), fmt.raw8(row, 2 * h + 1));
                if fmt == Rows::Q8_0 {
                    let d = scale_at(row.add((h / 2) * Q8_BLOCK));
                    v0 = _mm256_mul_ps(v0, d);
                    v1 = _mm256_mul_ps(v1, d);
                }
                for (r, a) in acc.iter_mut().enumerate() {
                    let w = _mm256_broadcast_ss(&*p.add(r * ld + j));
                    a[0] = _mm256_fmadd_ps(w, v0, a[0]);
                    a[1] = _mm256_fmadd_ps(w, v1, a[1]);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                let out = o.add(r * hd + 16 * h);
                _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), a[0]));
                _mm256_storeu_ps(out.add(8), _mm256_add_ps(_mm256_loadu_ps(out.add(8)), a[1]));
            }
        }
    }
}

/// Asks for every 64-byte line of `bytes` to be brought into L1 (`near`) or L2 (a hint:
/// no effect on results).
///
/// # Safety
/// The CPU must support AVX2 (the caller proves it; calling this is unsafe elsewhere).
#[target_feature(enable = "avx2")]
pub fn prefetch(bytes: &[u8], near: bool) {
    let p = bytes.as_ptr();
    let mut at = 0;
    while at < bytes.len() {
        // SAFETY: `at < bytes.len()`, so `p + at` is inside the slice; a prefetch never
        // faults and reads nothing architecturally.
        unsafe {
            if near {
                _mm_prefetch::<_MM_HINT_T0>(p.add(at).cast());
            } else {
                _mm_prefetch::<_MM_HINT_T1>(p.add(at).cast());
            }
        }
        at += 64;
    }
}
