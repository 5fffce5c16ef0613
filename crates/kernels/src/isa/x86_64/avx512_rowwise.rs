//! AVX-512 VNNI kernels for several tokens against the same weight rows that give each
//! (row, token) **the bits of the one-token kernel** (`super::avx512`): speculative
//! verification's rows must equal plain decoding's, and the batched kernels
//! (`super::avx512_multi`) sum in another order.
//!
//! Q8_0 · Q8_0 ([`q8_0_rows_tokens`]): the one-token kernel `vec_dot_q8_0_q8_0_vnni` holds
//! two blocks per register (lanes 0–7 the eight 4-quant groups of block `2p`, lanes 8–15
//! those of block `2p + 1`), turns each lane's exact integer group sum into f32, multiplies
//! it by the pair's `dx·dy` (f32 products) with one FMA into accumulator `p mod 2`, and
//! ends with `hsum512(acc0 + acc1)`. Here the same lanes, the same FMA chain per lane and
//! the same final reduction run for up to 8 tokens per weight load: each block pair of a
//! row is loaded and made unsigned once, its two scales converted once, and every token
//! adds only `vpdpbusd` (its `−128·Σy` correction as the start value: the same exact
//! integer), one conversion, one scale product and one FMA. The token side is laid out
//! once per product ([`Q8Pair`], [`q8_0_pairs`]) and shared by all rows.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::rowwise` calls them after a `Proven` tier shows the CPU has
//! those features. Memory is reached through bounds-checked slices and references; the
//! one raw-pointer operation is the prefetch hint, which cannot fault.

use std::arch::x86_64::*;

use super::avx2_quant::{hsum_ps, ld32};
use super::avx512::{bit4s, hsum512, join, nibbles, q8_pair};
use super::avx512_multi::prefetch_ahead;
use crate::formats::f16::F16Le;
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;

/// A 32-element weight format whose one-token VNNI kernel (`super::avx512`) takes two
/// blocks per register against Q8_0 activations: Q8_0 (`w + 128`, two accumulators by
/// pair parity), Q4_0 and Q5_0 (stored unsigned quants with offset 8 / 16, one
/// accumulator).
pub trait PairBlock: Sized {
    /// The offset `o` of the unsigned quants (`Σ (q − o)·y` is the block sum).
    const OFF: u8;
    /// Accumulators of the one-token kernel (pair `p` goes to `p mod ACCS`).
    const ACCS: usize;
    fn d(&self) -> F16Le;
    /// # Safety
    /// AVX-512 F/BW/VL and AVX2 must be available.
    unsafe fn unsigned(&self) -> __m256i;
}

impl PairBlock for BlockQ8_0 {
    const OFF: u8 = 128;
    const ACCS: usize = 2;
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    unsafe fn unsigned(&self) -> __m256i {
        _mm256_xor_si256(ld32(&self.qs, 0), _mm256_set1_epi8(-128))
    }
}

impl PairBlock for BlockQ4_0 {
    const OFF: u8 = 8;
    const ACCS: usize = 1;
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    unsafe fn unsigned(&self) -> __m256i {
        nibbles(&self.qs)
    }
}

impl PairBlock for BlockQ5_0 {
    const OFF: u8 = 16;
    const ACCS: usize = 1;
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    unsafe fn unsigned(&self) -> __m256i {
        _mm256_or_si256(nibbles(&self.qs), bit4s(self.qh))
    }
}

/// The unsigned quants of blocks `i`, `i + 1` of `b` (zeros for a missing second block:
/// the one-token kernels' products of it are zero, as here).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn unsigned_pair<X: PairBlock>(b: &[X], i: usize) -> __m512i {
    // SAFETY: this function's features cover `unsigned`'s.
    unsafe {
        let hi = b
            .get(i + 1)
            .map_or(_mm256_setzero_si256(), |x| x.unsigned());
        join(b[i].unsigned(), hi)
    }
}

/// One token's block pair `2p, 2p + 1` laid out for [`q8_0_rows_tokens`] (a missing
/// second block of an odd row is zeros, as the one-token kernel reads it).
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug)]
pub struct Q8Pair {
    /// The two blocks' quants (signed bytes).
    pub y: [u8; 64],
    /// `−o·Σ y` per 4-quant group (the correction of the unsigned weights, `o` =
    /// [`PairBlock::OFF`] of the format the pairs were laid out for).
    pub nc: [i32; 16],
    /// The two block scales, eight lanes each.
    pub dy: [f32; 16],
}

impl Q8Pair {
    pub const ZERO: Q8Pair = Q8Pair {
        y: [0; 64],
        nc: [0; 16],
        dy: [0.0; 16],
    };
}

/// Both scales of a pair as f32 lanes `[a; 8, b; 8]` (exact conversions).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn scale_lanes(a: F16Le, b: F16Le) -> __m512 {
    let h = u16::from_le_bytes(a.0) as i32 | (u16::from_le_bytes(b.0) as i32) << 16;
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(h));
    let idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v))
}

/// The scales of block pair `i`, `i + 1` of `b` (zero for a missing second block).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn pair_d<X: PairBlock>(b: &[X], i: usize) -> __m512 {
    scale_lanes(b[i].d(), b.get(i + 1).map_or(F16Le::ZERO, |x| x.d()))
}

/// Lays out one Q8_0 activation row `a` as `a.len().div_ceil(2)` pairs in `out`, for
/// weights of format `X`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if `out` is
/// too short.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn q8_0_pairs<X: PairBlock>(a: &[BlockQ8_0], out: &mut [Q8Pair]) {
    let np = a.len().div_ceil(2);
    for (p, o) in out[..np].iter_mut().enumerate() {
        let y = q8_pair(a, 2 * p);
        let corr = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(X::OFF as i8), y);
        let nc = _mm512_sub_epi32(_mm512_setzero_si512(), corr);
        // SAFETY: each field is 64 writable bytes; unaligned stores.
        unsafe {
            _mm512_storeu_si512(o.y.as_mut_ptr().cast(), y);
            _mm512_storeu_si512(o.nc.as_mut_ptr().cast(), nc);
            let d = scale_lanes(a[2 * p].d, a.get(2 * p + 1).map_or(F16Le::ZERO, |x| x.d));
            _mm512_storeu_ps(o.dy.as_mut_ptr(), d);
        }
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_i(v: &[u8; 64]) -> __m512i {
    // SAFETY: 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_nc(v: &[i32; 16]) -> __m512i {
    // SAFETY: 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_f(v: &[f32; 16]) -> __m512 {
    // SAFETY: 16 readable f32; unaligned load.
    unsafe { _mm512_loadu_ps(v.as_ptr()) }
}

/// Every row of `w` (`nb` blocks each) against `T` tokens (`tabs[t]`: token `t`'s
/// [`q8_0_pairs`]`::<X>`, at least `nb.div_ceil(2)` of them): `out[t·ld + r]` gets
/// exactly the one-token VNNI kernel's `row r · token t` (`vec_dot_q8_0_q8_0_vnni`,
/// `vec_dot_q4_0_q8_0_vnni`, `vec_dot_q5_0_q8_0_vnni`). Prefetches `pf` bytes ahead.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn pair_rows_tokens<X: PairBlock, const T: usize>(
    w: &[X],
    nb: usize,
    tabs: [&[Q8Pair]; T],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    if nb == 0 {
        return;
    }
    let np = nb.div_ceil(2);
    let tabs: [&[Q8Pair]; T] = std::array::from_fn(|t| &tabs[t][..np]);
    let rows = w.len() / nb;
    for r in 0..rows {
        let row = &w[r * nb..(r + 1) * nb];
        let mut acc = [[_mm512_setzero_ps(); 2]; T];
        for p in 0..np {
            let i = 2 * p;
            prefetch_ahead(&row[i], pf);
            let xu = unsigned_pair(row, i);
            let dx = pair_d(row, i);
            let k = if X::ACCS == 2 { p & 1 } else { 0 };
            for (t, tab) in tabs.iter().enumerate() {
                let e = &tab[p];
                let s = _mm512_dpbusd_epi32(ld_nc(&e.nc), xu, ld_i(&e.y));
                let d = _mm512_mul_ps(dx, ld_f(&e.dy));
                acc[t][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), d, acc[t][k]);
            }
        }
        for (t, a) in acc.iter().enumerate() {
            // (One accumulator: summed alone, as `+0.0` would turn a `−0.0` sum into `+0.0`.)
            let v = if X::ACCS == 2 {
                _mm512_add_ps(a[0], a[1])
            } else {
                a[0]
            };
            out[t * ld + r] = hsum512(v);
        }
    }
}

/// One token against every row of `w`: [`pair_rows_tokens`] with the token's pairs laid out
/// in per-thread scratch: the one-token kernel's bits (it is the decode kernel of these
/// formats at this tier), with the activation side (`−o·Σy`, scales) prepared once per
/// call instead of once per row.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics unless `w` is
/// `out.len()` rows of `a.len()` blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn pair_rows_one<X: PairBlock>(w: &[X], a: &[BlockQ8_0], out: &mut [f32], pf: usize) {
    thread_local! {
        static PAIRS: std::cell::RefCell<Vec<Q8Pair>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let nb = a.len();
    assert_eq!(
        w.len(),
        nb * out.len(),
        "pair_rows_one: weights are not out.len() rows"
    );
    PAIRS.with(|p| {
        let p = &mut *p.borrow_mut();
        p.resize(nb.div_ceil(2), Q8Pair::ZERO);
        // SAFETY: this function's features.
        unsafe {
            q8_0_pairs::<X>(a, p);
            let ld = out.len();
            pair_rows_tokens::<X, 1>(w, nb, [&p[..]], out, ld, pf)
        }
    })
}

/// The one-token kernel's arithmetic in scalar code, lane by lane (the twin the tests
/// compare [`q8_0_rows_tokens`] with, bit for bit).
pub fn q8_0_one_token_order(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let n = w.len().min(a.len());
    let mut acc = [[0f32; 16]; 2];
    let mut i = 0;
    while i < n {
        let k = (i / 2) & 1;
        for (lane, acc) in acc[k].iter_mut().enumerate() {
            let b = i + lane / 8;
            let g = lane % 8;
            let (s, d) = if b < n {
                let s: i32 = (0..4)
                    .map(|j| w[b].qs[4 * g + j] as i8 as i32 * a[b].qs[4 * g + j] as i8 as i32)
                    .sum();
                (s, w[b].d.to_f32() * a[b].d.to_f32())
            } else {
                (0, 0.0)
            };
            *acc = (s as f32).mul_add(d, *acc);
        }
        i += 2;
    }
    let v: [f32; 16] = std::array::from_fn(|l| acc[0][l] + acc[1][l]);
    // hsum512: 256-bit halves, then 128-bit halves, then (0+2, 1+3), then the two.
    let h8: [f32; 8] = std::array::from_fn(|l| v[l] + v[l + 8]);
    let h4: [f32; 4] = std::array::from_fn(|l| h8[l] + h8[l + 4]);
    let (s0, s1) = (h4[0] + h4[2], h4[1] + h4[3]);
    s0 + s1
}

// ---------------------------------------------------------------------------------------
// Q4_1 / Q5_1 · Q8_1: the one-token kernel (`avx2_quant::sum_q8_1_blocks` with `vpdpbusd`)
// takes one block per 256-bit register: block `b`'s eight i32 lanes, converted, times the
// broadcast `dx·dy` into accumulator `b mod 2` (8 lanes), and `m·s` added into a scalar
// chain `b mod 2`; the end is `hsum_ps(acc0 + acc1) + (m0 + m1)`. Here a 512-bit register
// holds two tokens' copies of those 8 lanes (token `2j` low, `2j + 1` high), and the scalar
// `m·s` chains of all the tokens are the lanes of two 256-bit registers (token `t` in lane
// `t`): one product and one sum per block for every token.

/// A pair of tokens' block `b` laid out for [`q8_1_rows_tokens`].
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug)]
pub struct Q8_1Pair {
    /// Token `2j`'s 32 quants, then token `2j + 1`'s.
    pub y: [u8; 64],
    /// Their scales `d`, eight lanes each.
    pub dy: [f32; 16],
}

impl Q8_1Pair {
    pub const ZERO: Q8_1Pair = Q8_1Pair {
        y: [0; 64],
        dy: [0.0; 16],
    };
}

/// Q4_1 / Q5_1 weights for [`q8_1_rows_tokens`].
pub trait MinBlock {
    fn dm(&self) -> (F16Le, F16Le);
    /// # Safety
    /// AVX-512 F/BW/VL and AVX2 must be available.
    unsafe fn unsigned(&self) -> __m256i;
}

impl MinBlock for BlockQ4_1 {
    #[inline]
    fn dm(&self) -> (F16Le, F16Le) {
        (self.d, self.m)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    unsafe fn unsigned(&self) -> __m256i {
        nibbles(&self.qs)
    }
}

impl MinBlock for BlockQ5_1 {
    #[inline]
    fn dm(&self) -> (F16Le, F16Le) {
        (self.d, self.m)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    unsafe fn unsigned(&self) -> __m256i {
        _mm256_or_si256(nibbles(&self.qs), bit4s(self.qh))
    }
}

/// Lays out token rows `a` and `b` (Q8_1, same length; `b` absent: zeros) as one
/// [`Q8_1Pair`] per block in `out`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if `out` is
/// too short.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn q8_1_pairs(a: &[BlockQ8_1], b: Option<&[BlockQ8_1]>, out: &mut [Q8_1Pair]) {
    for (i, o) in out[..a.len()].iter_mut().enumerate() {
        let x = &a[i];
        let y = b.map(|b| &b[i]);
        let qy = y.map_or(_mm256_setzero_si256(), |y| ld32(&y.qs, 0));
        let z = F16Le::ZERO;
        // SAFETY: each field is 64 writable bytes; unaligned stores.
        unsafe {
            _mm512_storeu_si512(o.y.as_mut_ptr().cast(), join(ld32(&x.qs, 0), qy));
            _mm512_storeu_ps(o.dy.as_mut_ptr(), scale_lanes(x.d, y.map_or(z, |y| y.d)));
        }
    }
}

/// Every row of `w` (`nb` blocks each) against `2·J` tokens in pairs (`tabs[j]`: the
/// [`q8_1_pairs`] of tokens `2j`, `2j + 1`; `s8[b]`: every token's `s` of block `b`, token
/// `t` in lane `t`): `out[t·ld + r]` gets exactly the one-token kernel's `row r · token t`
/// for `t < width` (the tokens past `width` are not written). The offsets' `m·s` products
/// of all the tokens are one 8-lane product per block, each lane the one-token kernel's
/// scalar chain.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn q8_1_rows_tokens<X: MinBlock, const J: usize>(
    w: &[X],
    nb: usize,
    tabs: [&[Q8_1Pair]; J],
    s8: &[[f32; 8]],
    width: usize,
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    if nb == 0 {
        return;
    }
    let tabs: [&[Q8_1Pair]; J] = std::array::from_fn(|j| &tabs[j][..nb]);
    let s8 = &s8[..nb];
    let rows = w.len() / nb;
    for r in 0..rows {
        let row = &w[r * nb..(r + 1) * nb];
        let mut acc = [[_mm512_setzero_ps(); 2]; J];
        let mut accm = [_mm256_setzero_ps(); 2];
        for (b, x) in row.iter().enumerate() {
            if b % 2 == 0 {
                prefetch_ahead(x, pf);
            }
            // SAFETY: this function's features cover `unsigned`'s.
            let q = unsafe { x.unsigned() };
            let q = join(q, q);
            let (d, m) = x.dm();
            let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(
                u16::from_le_bytes(d.0) as i32 | (u16::from_le_bytes(m.0) as i32) << 16,
            ));
            let dx = _mm512_broadcastss_ps(dm);
            let mx = _mm256_broadcastss_ps(_mm_movehdup_ps(dm));
            let k = b & 1;
            for j in 0..J {
                let e = &tabs[j][b];
                let p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, ld_i(&e.y));
                let dd = _mm512_mul_ps(dx, ld_f(&e.dy));
                acc[j][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), dd, acc[j][k]);
            }
            // SAFETY: `s8[b]` is 8 readable f32; unaligned load.
            let sv = unsafe { _mm256_loadu_ps(s8[b].as_ptr()) };
            accm[k] = _mm256_add_ps(accm[k], _mm256_mul_ps(mx, sv));
        }
        let mut m = [0f32; 8];
        // SAFETY: `m` is 8 writable f32; unaligned store.
        unsafe { _mm256_storeu_ps(m.as_mut_ptr(), _mm256_add_ps(accm[0], accm[1])) };
        for j in 0..J {
            let v = _mm512_add_ps(acc[j][0], acc[j][1]);
            out[2 * j * ld + r] = hsum_ps(_mm512_castps512_ps256(v)) + m[2 * j];
            if 2 * j + 1 < width {
                let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
                out[(2 * j + 1) * ld + r] = hsum_ps(hi) + m[2 * j + 1];
            }
        }
    }
}
