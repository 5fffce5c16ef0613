//! AVX-512 VNNI kernels for several weight rows against up to 8 activation rows at once
//! (a batched decode step), for the 32-element formats Q8_0, Q4_0 and Q5_0 · Q8_0 and
//! Q4_1, Q5_1 · Q8_1.
//!
//! The AVX2 kernels ([`super::avx2_multi`]) multiply one block of one row with one token
//! per register and then have to sum the register's lanes. Here the lanes are (row,
//! token) pairs: a 512-bit register holds two weight rows × eight tokens (lane `2t` the
//! first row, `2t + 1` the second). For each group of four quants, both rows' groups are
//! broadcast as one 8-byte pair and one `vpdpbusd` adds four products for all sixteen
//! pairs; after a block's eight groups each lane holds its whole block sum, with no
//! horizontal reduction. The activation side is laid out once per product by
//! `crate::isa::tables`, each token in two adjacent lanes:
//! - `vq[b·8 + j]`: for block `b` and byte group `j`, token `t`'s quants `4j..4j+4`
//!   (signed) in bytes `8t..8t+4` and again in `8t+4..8t+8`;
//! - `vd[b]`: the tokens' block scales;
//! - `vo[b]`: `−o·Σ y` per token, where `o` is the offset that makes the weights unsigned
//!   (`vpdpbusd` multiplies unsigned by signed bytes): 128 for Q8_0 (`w + 128`), 8 for Q4_0,
//!   16 for Q5_0 (their stored quants), 0 for Q4_1 and Q5_1. So every integer sum is
//!   exact, `-128` included;
//! - `vs[b]` (Q4_1, Q5_1): the tokens' Q8_1 `s = dy·Σ y`; the weights' offset `m` times it
//!   is added per block in float, with the scaled block sum: `f += dx·dy·Σ q·y + m·s` (as
//!   the scalar reference groups it).
//!
//! The weights are unpacked to unsigned bytes one block at a time (a few rows' worth in
//! L1 scratch) and broadcast from there.
//!
//! Unused token lanes (a group of fewer than 8) hold zeros and are never written out.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::multi` calls them after a `Proven` tier shows the CPU has
//! those features. Memory is reached through bounds-checked slices and arrays; the one
//! raw-pointer operation is the prefetch hint, which cannot fault.

use std::arch::x86_64::*;

use super::avx2_quant::{bits32, ld32, nibbles32};
use crate::formats::f16::F16Le;
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_0::BlockQ8_0;

/// A 32-element weight block whose quants become unsigned bytes `q = w + o` (`o` as in
/// the module docs).
pub trait VnniBlock {
    /// Whether the block has an offset `m` (Q4_1, Q5_1: against Q8_1 and its `vs` table).
    const MIN: bool = false;
    fn d(&self) -> F16Le;
    /// The offset `m` (zero where [`VnniBlock::MIN`] is false).
    fn m(&self) -> F16Le {
        F16Le::ZERO
    }
    /// # Safety
    /// AVX2 must be available.
    unsafe fn unsigned(&self) -> __m256i;
}

impl VnniBlock for BlockQ8_0 {
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unsigned(&self) -> __m256i {
        _mm256_xor_si256(ld32(&self.qs, 0), _mm256_set1_epi8(-128))
    }
}

impl VnniBlock for BlockQ4_0 {
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unsigned(&self) -> __m256i {
        nibbles32(&self.qs)
    }
}

impl VnniBlock for BlockQ5_0 {
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unsigned(&self) -> __m256i {
        let hi = _mm256_and_si256(bits32(self.qh), _mm256_set1_epi8(0x10));
        _mm256_or_si256(nibbles32(&self.qs), hi)
    }
}

impl VnniBlock for BlockQ4_1 {
    const MIN: bool = true;
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    fn m(&self) -> F16Le {
        self.m
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unsigned(&self) -> __m256i {
        nibbles32(&self.qs)
    }
}

impl VnniBlock for BlockQ5_1 {
    const MIN: bool = true;
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    fn m(&self) -> F16Le {
        self.m
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unsigned(&self) -> __m256i {
        let hi = _mm256_and_si256(bits32(self.qh), _mm256_set1_epi8(0x10));
        _mm256_or_si256(nibbles32(&self.qs), hi)
    }
}

/// Every row of `w` (`nb` blocks each) against one token group of `width` (1..=8) tokens
/// laid out as the module docs say: `out[t·ld + r]` gets row `r` · token `t`. `vs` is
/// read only for formats with an offset ([`VnniBlock::MIN`]; may be empty otherwise).
/// Prefetches `pf` bytes ahead of each block read (none for `pf == 0`).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn rows_vnni<X: VnniBlock>(
    w: &[X],
    nb: usize,
    vq: &[[u8; 64]],
    vd: &[[f32; 16]],
    vo: &[[i32; 16]],
    vs: &[[f32; 16]],
    width: usize,
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    assert!((1..=8).contains(&width), "token group of {width}");
    let (vq, vd, vo) = (&vq[..nb * 8], &vd[..nb], &vo[..nb]);
    let vs = if X::MIN { &vs[..nb] } else { vs };
    let rows = w.len() / nb;
    let mut sc = Scratch {
        q: [[0; 64]; P],
        d: [0; P],
        m: [0; P],
    };
    let row = |r: usize| &w[r * nb..(r + 1) * nb];
    let mut r = 0;
    while r < rows {
        let take = (rows - r).min(2 * P);
        let mut res = [[0f32; 16]; P];
        if take == 2 * P {
            let rs: [[&[X]; 2]; P] = std::array::from_fn(|p| [row(r + 2 * p), row(r + 2 * p + 1)]);
            for (o, v) in res
                .iter_mut()
                .zip(rows_r::<X, P>(rs, vq, vd, vo, vs, &mut sc, pf))
            {
                st_f32(o, v);
            }
        } else {
            // The last rows, in pairs (an odd one paired with itself).
            for (p, o) in res.iter_mut().enumerate().take(take.div_ceil(2)) {
                let (a, b) = (r + 2 * p, (r + 2 * p + 1).min(rows - 1));
                st_f32(
                    o,
                    rows_r::<X, 1>([[row(a), row(b)]], vq, vd, vo, vs, &mut sc, pf)[0],
                );
            }
        }
        for i in 0..take {
            let lanes = &res[i / 2];
            for t in 0..width {
                out[t * ld + r + i] = lanes[2 * t + i % 2];
            }
        }
        r += take;
    }
}

/// Rows multiplied together, in pairs: each 512-bit register holds a pair of rows × 8
/// tokens (lane `2t` the first row, `2t + 1` the second).
const P: usize = 2;

/// One block of up to [`P`] row pairs unpacked: the two rows' unsigned quants
/// interleaved four bytes at a time as `unpack{lo,hi}_epi32` leave them (so group `j` of
/// both rows is the 8 bytes at [`PAIR_AT`]`[j]`), and their two scales as f32 bits (see
/// [`f16_pair`]), and for Q4_1/Q5_1 their two offsets `m` likewise. Written and read back
/// within one block: a whole chunk of blocks
/// unpacked ahead measured slower on weights streamed from memory (the loads of the next
/// chunk could not overlap this one's products).
struct Scratch {
    q: [[u8; 64]; P],
    d: [i64; P],
    m: [i64; P],
}

/// Byte offset of byte group `j`'s row pair in a scratch block.
const PAIR_AT: [usize; 8] = [0, 8, 32, 40, 16, 24, 48, 56];

/// `N` (≤ [`P`]) row pairs against the token group: per pair, 16 lanes of results.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[allow(clippy::needless_range_loop)]
fn rows_r<X: VnniBlock, const N: usize>(
    rows: [[&[X]; 2]; N],
    vq: &[[u8; 64]],
    vd: &[[f32; 16]],
    vo: &[[i32; 16]],
    vs: &[[f32; 16]],
    sc: &mut Scratch,
    pf: usize,
) -> [__m512; N] {
    let nb = vd.len();
    let mut f = [_mm512_setzero_ps(); N];
    for b in 0..nb {
        for (i, [ra, rb]) in rows.iter().enumerate() {
            let (xa, xb) = (&ra[b], &rb[b]);
            // One prefetch per block read, `pf` bytes ahead: spread out, so the misses
            // in flight stay within the miss buffers.
            prefetch_ahead(xa, pf);
            prefetch_ahead(xb, pf);
            // SAFETY: this function's features include AVX2; `sc.q[i]` is 64 writable
            // bytes (unaligned stores).
            unsafe {
                let (a, b) = (xa.unsigned(), xb.unsigned());
                let at = sc.q[i].as_mut_ptr();
                _mm256_storeu_si256(at.cast(), _mm256_unpacklo_epi32(a, b));
                _mm256_storeu_si256(at.add(32).cast(), _mm256_unpackhi_epi32(a, b));
            }
            if X::MIN {
                (sc.d[i], sc.m[i]) = f16_pairs(xa.d(), xb.d(), xa.m(), xb.m());
            } else {
                sc.d[i] = f16_pair(xa.d(), xb.d());
            }
        }
        // (Q4_1/Q5_1 have no zero point: their `vo` is all zeros.)
        let init = if X::MIN {
            _mm512_setzero_si512()
        } else {
            ld_i32(&vo[b])
        };
        let mut acc = [init; N];
        for (j, y) in vq[b * 8..b * 8 + 8].iter().enumerate() {
            let y = ld64(y);
            for i in 0..N {
                let s = &sc.q[i][PAIR_AT[j]..PAIR_AT[j] + 8];
                let wq = _mm512_set1_epi64(i64::from_le_bytes(s.try_into().unwrap()));
                acc[i] = _mm512_dpbusd_epi32(acc[i], wq, y);
            }
        }
        let d = ld_f32(&vd[b]);
        for i in 0..N {
            let pair = _mm512_castsi512_ps(_mm512_set1_epi64(sc.d[i]));
            let s = _mm512_mul_ps(d, pair);
            if X::MIN {
                // dx·dy·Σ q·y + m·s, then added: the scalar reference's grouping.
                let m = _mm512_castsi512_ps(_mm512_set1_epi64(sc.m[i]));
                let ms = _mm512_mul_ps(ld_f32(&vs[b]), m);
                f[i] = _mm512_add_ps(f[i], _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i]), s, ms));
            } else {
                f[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i]), s, f[i]);
            }
        }
    }
    f
}

/// [`f16_pair`] of `(a, b)` and of `(c, d)`, with one conversion.
#[inline]
#[target_feature(enable = "f16c")]
fn f16_pairs(a: F16Le, b: F16Le, c: F16Le, d: F16Le) -> (i64, i64) {
    let h = |x: F16Le| u16::from_le_bytes(x.0) as i64;
    let v = _mm_cvtph_ps(_mm_cvtsi64_si128(
        h(a) | h(b) << 16 | h(c) << 32 | h(d) << 48,
    ));
    let v = _mm_castps_si128(v);
    (_mm_cvtsi128_si64(v), _mm_extract_epi64(v, 1))
}

/// Two f16 scales as the bits of two f32 (`a` low): written with one store, so the
/// kernel's 8-byte broadcast load of them can be forwarded from it.
#[inline]
#[target_feature(enable = "f16c")]
fn f16_pair(a: F16Le, b: F16Le) -> i64 {
    let h = u16::from_le_bytes(a.0) as i32 | (u16::from_le_bytes(b.0) as i32) << 16;
    _mm_cvtsi128_si64(_mm_castps_si128(_mm_cvtph_ps(_mm_cvtsi32_si128(h))))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_i32(v: &[i32; 16]) -> __m512i {
    // SAFETY: `v` is 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld64(v: &[u8; 64]) -> __m512i {
    // SAFETY: `v` is 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_f32(v: &[f32; 16]) -> __m512 {
    // SAFETY: `v` is 16 readable f32; unaligned load.
    unsafe { _mm512_loadu_ps(v.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn st_f32(o: &mut [f32; 16], v: __m512) {
    // SAFETY: `o` is 16 writable f32; unaligned store.
    unsafe { _mm512_storeu_ps(o.as_mut_ptr(), v) }
}

/// Hints the cache to fetch the lines of the block `pf` bytes past `x` (none for
/// `pf == 0`). Also used by `super::avx512_multi_k`.
#[inline]
pub(crate) fn prefetch_ahead<X>(x: &X, pf: usize) {
    if pf > 0 {
        let base = (x as *const X).cast::<i8>().wrapping_add(pf);
        for at in (0..std::mem::size_of::<X>()).step_by(64) {
            // SAFETY: a prefetch is a hint: it never faults or reads into the program, so
            // any address (past the end of the weights included) is allowed.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(at)) };
        }
    }
}
