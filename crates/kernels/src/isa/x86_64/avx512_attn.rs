//! AVX-512 attention kernels over cached keys and values in their stored format (F32, F16,
//! Q8_0): the 16-lane versions of [`super::avx2_attn`]'s `scores` and `values`, with the
//! same layouts and contracts (checked by the safe wrappers in `crate::ops::attn`).
//!
//! Each 32-element block of a key or value row (one Q8_0 block) is widened to two 16-lane
//! f32 vectors in registers, a Q8_0 element becoming `d · q` exactly as the dequantizer
//! computes it (one rounding), and used by every query row at once.
//! - `scores`: several keys per step (2 for 3–4 query rows, 4 for 1–2), so that 8
//!   independent accumulators keep both FMA ports busy and each query load serves several
//!   keys; the per-(key, row) sums are reduced with a shuffle tree.
//! - `values`: one block of 32 output columns at a time, `2·N` accumulators held in
//!   registers over the whole run of values.

use std::arch::x86_64::*;

pub use super::avx2_attn::Rows;

/// Q8_0 block: an f16 scale then 32 signed bytes.
const Q8_BLOCK: usize = 34;

/// Block `b` (elements `32b..32b+32`) of the row at `row` as two 16-lane f32 vectors; for
/// Q8_0 each element is `d · q`.
///
/// # Safety
/// The block must lie within the row; the CPU must support AVX-512 F/BW/VL and F16C.
#[inline(always)]
unsafe fn block32(fmt: Rows, row: *const u8, b: usize) -> (__m512, __m512) {
    // SAFETY: the caller keeps block b within the row; all loads are unaligned.
    unsafe {
        match fmt {
            Rows::F32 => {
                let p = row.cast::<f32>().add(32 * b);
                (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)))
            }
            Rows::F16 => {
                let p = row.add(64 * b);
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())),
                    _mm512_cvtph_ps(_mm256_loadu_si256(p.add(32).cast())),
                )
            }
            Rows::Q8_0 => {
                let p = row.add(b * Q8_BLOCK);
                let h = p.cast::<u16>().read_unaligned();
                let d = _mm512_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(h as i32)));
                let q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(p.add(2).cast()));
                let q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(p.add(18).cast()));
                (
                    _mm512_mul_ps(d, _mm512_cvtepi32_ps(q0)),
                    _mm512_mul_ps(d, _mm512_cvtepi32_ps(q1)),
                )
            }
        }
    }
}

/// The lane sums of four vectors: `[Σa, Σb, Σc, Σd]`.
#[inline(always)]
unsafe fn hsum4(a: __m512, b: __m512, c: __m512, d: __m512) -> __m128 {
    // SAFETY: register-only shuffles and adds; the caller's target features include
    // AVX-512F and AVX2.
    unsafe {
        let half = |x: __m512| {
            _mm256_add_ps(
                _mm512_castps512_ps256(x),
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x))),
            )
        };
        let ab = _mm256_hadd_ps(half(a), half(b));
        let cd = _mm256_hadd_ps(half(c), half(d));
        let abcd = _mm256_hadd_ps(ab, cd);
        _mm_add_ps(
            _mm256_castps256_ps128(abcd),
            _mm256_extractf128_ps::<1>(abcd),
        )
    }
}

/// Scores of the `N` query rows against keys `j0..j0+K`.
///
/// # Safety
/// As [`scores`], with `j0 + K <= n`.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)] // r: query row and accumulator
unsafe fn scores_step<const N: usize, const K: usize>(
    fmt: Rows,
    k: *const u8,
    j0: usize,
    rb: usize,
    hd: usize,
    q: *const f32,
    s: *mut f32,
    ld: usize,
) {
    // SAFETY: key rows j0..j0+K < n, blocks b < hd/32 of each; query reads stay in the N
    // rows of hd floats; writes are s[r·ld + j], r < N, j < n.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); N]; K];
        for b in 0..hd / 32 {
            // A plain loop, not `std::array::from_fn`: a closure passed to a generic std
            // function may be compiled outside this function's target features, and then
            // `block32`'s intrinsics become out-of-line calls (session 10's 16K regression).
            let mut kv = [(_mm512_setzero_ps(), _mm512_setzero_ps()); K];
            for (kk, x) in kv.iter_mut().enumerate() {
                *x = block32(fmt, k.add((j0 + kk) * rb), b);
            }
            for r in 0..N {
                let qp = q.add(r * hd + 32 * b);
                let (q0, q1) = (_mm512_loadu_ps(qp), _mm512_loadu_ps(qp.add(16)));
                for kk in 0..K {
                    acc[kk][r] = _mm512_fmadd_ps(q0, kv[kk].0, acc[kk][r]);
                    acc[kk][r] = _mm512_fmadd_ps(q1, kv[kk].1, acc[kk][r]);
                }
            }
        }
        for (kk, a) in acc.iter().enumerate() {
            if N == 4 {
                let mut out = [0f32; 4];
                _mm_storeu_ps(out.as_mut_ptr(), hsum4(a[0], a[1], a[2], a[3]));
                for (r, x) in out.iter().enumerate() {
                    *s.add(r * ld + j0 + kk) = *x;
                }
            } else {
                for (r, x) in a.iter().enumerate() {
                    *s.add(r * ld + j0 + kk) = _mm512_reduce_add_ps(*x);
                }
            }
        }
    }
}

/// `s[r·ld + j] = Σ_i q[r·hd + i] · K_j[i]` for `r < N`, `j < n`.
///
/// # Safety
/// `k` holds `n` rows of `fmt.row_bytes(hd)` bytes; `q` holds `N·hd` floats; `s` holds
/// `(N−1)·ld + n` floats; `hd` is a multiple of 32; the CPU supports AVX-512 F/BW/VL, AVX2,
/// FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
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
    let mut j = 0;
    // SAFETY: every step covers keys below n (j + K <= n); the rest as the caller promises.
    unsafe {
        if N <= 2 {
            while j + 4 <= n {
                scores_step::<N, 4>(fmt, k, j, rb, hd, q, s, ld);
                j += 4;
            }
        }
        while j + 2 <= n {
            scores_step::<N, 2>(fmt, k, j, rb, hd, q, s, ld);
            j += 2;
        }
        if j < n {
            scores_step::<N, 1>(fmt, k, j, rb, hd, q, s, ld);
        }
    }
}

/// `o[r·hd + i] += Σ_j p[r·ld + j] · V_j[i]` for `r < N`, `j < n`.
///
/// # Safety
/// `v` holds `n` rows of `fmt.row_bytes(hd)` bytes; `p` holds `(N−1)·ld + n` floats; `o`
/// holds `N·hd` floats; `hd` is a multiple of 32; the CPU supports AVX-512 F/BW/VL, AVX2,
/// FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
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
    // One block of 32 output columns at a time: 2·N accumulators stay in registers.
    for b in 0..hd / 32 {
        // SAFETY: columns 32b..32b+32 < hd of each of the N output rows; value reads are
        // block b of row j < n; probability reads are p[r·ld + j], r < N, j < n.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 2]; N];
            for j in 0..n {
                let (v0, v1) = block32(fmt, v.add(j * rb), b);
                for (r, a) in acc.iter_mut().enumerate() {
                    let w = _mm512_set1_ps(*p.add(r * ld + j));
                    a[0] = _mm512_fmadd_ps(w, v0, a[0]);
                    a[1] = _mm512_fmadd_ps(w, v1, a[1]);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                let out = o.add(r * hd + 32 * b);
                _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), a[0]));
                let out = out.add(16);
                _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), a[1]));
            }
        }
    }
}
