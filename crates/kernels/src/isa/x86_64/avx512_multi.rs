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
//! The weights are unpacked to unsigned bytes one block at a time, four row pairs (eight
//! rows) at once, into L1 scratch: per pair one two-source permute interleaves the rows'
//! four-byte groups (for Q4_0/Q4_1 straight from the packed nibbles), and the rows' f16
//! scales are converted eight at a time. Each `vpdpbusd` then takes its weight pair as an
//! 8-byte broadcast *load* from the scratch (inline assembly, [`dots8`]), so the
//! broadcasts run on the load ports and the vector ALU ports are left to the products,
//! the unpacking and the float scaling; one activation load serves the four pairs, and
//! each pair's eight products run as two chains (integer sums: the order changes no bit).
//!
//! Unused token lanes (a group of fewer than 8) hold zeros and are never written out.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::multi` calls them after a `Proven` tier shows the CPU has
//! those features. Memory is reached through bounds-checked slices and arrays; the
//! raw-pointer operations are the prefetch hint, which cannot fault, and the broadcast
//! loads of [`dots8`] and [`bcast64`], each from a reference to exactly the bytes read.

use std::arch::x86_64::*;

use super::avx2_quant::{bits32, ld16, ld32, nibbles32};
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
    /// The zero point `o` of the unsigned quants (`q = w + o`; 0 for Q4_1/Q5_1, whose
    /// offset is `m`).
    const OFF: i32;
    fn d(&self) -> F16Le;
    /// The offset `m` (zero where [`VnniBlock::MIN`] is false).
    fn m(&self) -> F16Le {
        F16Le::ZERO
    }
    /// # Safety
    /// AVX2 must be available.
    unsafe fn unsigned(&self) -> __m256i;
    /// The unsigned quants of `a` and `b` in four-byte groups taken in turn: 32-bit lane
    /// `2j` holds `a`'s group `j`, lane `2j + 1` `b`'s (by default from
    /// [`VnniBlock::unsigned`] of each, with one two-source permute).
    ///
    /// # Safety
    /// AVX-512 F/BW and AVX2 must be available.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    unsafe fn pair(a: &Self, b: &Self) -> __m512i {
        // SAFETY: the caller guarantees AVX2.
        let (a, b) = unsafe { (a.unsigned(), b.unsigned()) };
        interleave(_mm512_zextsi256_si512(a), _mm512_zextsi256_si512(b))
    }
}

/// 32-bit lanes `0, 16, 1, 17, …, 7, 23` of `a` then `b`: the first eight lanes of each,
/// taken in turn.
#[inline]
#[target_feature(enable = "avx512f")]
fn interleave(a: __m512i, b: __m512i) -> __m512i {
    let idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    _mm512_permutex2var_epi32(a, idx, b)
}

/// [`VnniBlock::pair`] of two 4-bit blocks (Q4_0, Q4_1): both rows' 16 bytes interleaved
/// once, each byte's low nibble (quants 0..16) in the low half and its high nibble
/// (quants 16..32) in the high half.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2")]
fn nibble_pair(a: &[u8; 16], b: &[u8; 16]) -> __m512i {
    let (a, b) = (ld16(a, 0), ld16(b, 0));
    let idx = _mm512_set_epi32(19, 3, 18, 2, 17, 1, 16, 0, 19, 3, 18, 2, 17, 1, 16, 0);
    let both = _mm512_permutex2var_epi32(_mm512_castsi128_si512(a), idx, _mm512_castsi128_si512(b));
    let shift = _mm512_set_epi32(4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm512_and_si512(_mm512_srlv_epi32(both, shift), _mm512_set1_epi8(0x0F))
}

impl VnniBlock for BlockQ8_0 {
    const OFF: i32 = 128;
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unsigned(&self) -> __m256i {
        _mm256_xor_si256(ld32(&self.qs, 0), _mm256_set1_epi8(-128))
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    unsafe fn pair(a: &Self, b: &Self) -> __m512i {
        let (a, b) = (ld32(&a.qs, 0), ld32(&b.qs, 0));
        let both = interleave(_mm512_castsi256_si512(a), _mm512_castsi256_si512(b));
        _mm512_xor_si512(both, _mm512_set1_epi8(-128))
    }
}

impl VnniBlock for BlockQ4_0 {
    const OFF: i32 = 8;
    #[inline]
    fn d(&self) -> F16Le {
        self.d
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn unsigned(&self) -> __m256i {
        nibbles32(&self.qs)
    }
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    unsafe fn pair(a: &Self, b: &Self) -> __m512i {
        nibble_pair(&a.qs, &b.qs)
    }
}

impl VnniBlock for BlockQ5_0 {
    const OFF: i32 = 16;
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
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    unsafe fn pair(a: &Self, b: &Self) -> __m512i {
        with_fifth_bits(nibble_pair(&a.qs, &b.qs), a.qh, b.qh)
    }
}

/// `q` (a [`VnniBlock::pair`] of 4-bit quants) with the fifth bits `qa`, `qb` of the two
/// rows (Q5_0/Q5_1's `qh`, bit `k` for quant `k`) added as 16: byte `k` of lane `2j + i`
/// is row `i`'s quant `4j + k`, so it takes bit `4j + k` of its row's bits.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2")]
fn with_fifth_bits(q: __m512i, qa: [u8; 4], qb: [u8; 4]) -> __m512i {
    let h = u32::from_le_bytes(qa) as u64 | (u32::from_le_bytes(qb) as u64) << 32;
    // Lane `2j + i`: row `i`'s bits shifted down by `4j`, the low byte in every byte.
    let v = _mm512_set1_epi64(h as i64);
    let shift = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    let v = _mm512_srlv_epi32(v, shift);
    let spread = _mm512_set_epi8(
        12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4, 4, 0, 0, 0, 0, 12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4, 4,
        0, 0, 0, 0, 12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4, 4, 0, 0, 0, 0, 12, 12, 12, 12, 8, 8, 8, 8,
        4, 4, 4, 4, 0, 0, 0, 0,
    );
    let v = _mm512_shuffle_epi8(v, spread);
    // Byte `k` tests bit `k`.
    let set = _mm512_test_epi8_mask(v, _mm512_set1_epi32(0x0804_0201));
    _mm512_mask_add_epi8(q, set, q, _mm512_set1_epi8(16))
}

impl VnniBlock for BlockQ4_1 {
    const MIN: bool = true;
    const OFF: i32 = 0;
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
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    unsafe fn pair(a: &Self, b: &Self) -> __m512i {
        nibble_pair(&a.qs, &b.qs)
    }
}

impl VnniBlock for BlockQ5_1 {
    const MIN: bool = true;
    const OFF: i32 = 0;
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
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    unsafe fn pair(a: &Self, b: &Self) -> __m512i {
        with_fifth_bits(nibble_pair(&a.qs, &b.qs), a.qh, b.qh)
    }
}

/// Every row of `w` (`nb` blocks each) against one token group of `width` (1..=8) tokens
/// laid out as the module docs say: `out[t·ld + r]` gets row `r` · token `t`. `vs` is
/// read only for formats with an offset ([`VnniBlock::MIN`]; may be empty otherwise).
/// Prefetches `pf` bytes ahead of each block read, at least one tile of rows ahead (none for
/// `pf == 0`).
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
    // At least a whole tile ahead: `pf` bytes past a block can fall in the rows of the
    // tile being read (a tile of eight 680-byte rows, the Gemma 3 head's, is 5,440 bytes).
    let pf = match pf {
        0 => 0,
        pf => pf.max(2 * P * nb * std::mem::size_of::<X>()),
    };
    let mut sc = Scratch {
        q: [[0; 64]; P],
        d: [0.0; 2 * P],
        m: [0.0; 2 * P],
    };
    let row = |r: usize| &w[r * nb..(r + 1) * nb];
    let mut r = 0;
    while r < rows {
        let take = (rows - r).min(2 * P);
        let mut res = [[0f32; 16]; P];
        // The rows in pairs (a last odd one paired with itself), as many pairs at once as
        // there are (up to `P`).
        let pair = |p: usize| [row(r + 2 * p), row((r + 2 * p + 1).min(rows - 1))];
        macro_rules! pairs {
            ($n:literal) => {{
                let rs: [[&[X]; 2]; $n] = std::array::from_fn(pair);
                let v = rows_r::<X, $n>(rs, vq, vd, vo, vs, &mut sc, pf);
                for (o, v) in res.iter_mut().zip(v) {
                    st_f32(o, v);
                }
            }};
        }
        match take.div_ceil(2) {
            1 => pairs!(1),
            2 => pairs!(2),
            3 => pairs!(3),
            _ => pairs!(4),
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
/// tokens (lane `2t` the first row, `2t + 1` the second). Four pairs share each
/// activation load.
const P: usize = 4;

/// One block of up to [`P`] row pairs unpacked: per pair, byte group `j` of both rows
/// (the first row's four unsigned quants, then the second's) at bytes `8j..8j + 8`
/// ([`VnniBlock::pair`]); the rows' scales as f32 (pair `i` at `2i`, `2i + 1`) and for
/// Q4_1/Q5_1 their offsets `m` likewise. Written and read back within one block, the
/// reads as 8-byte broadcast loads ([`dots8`], [`bcast64`]), which use the load ports,
/// not the vector ALUs the products need. (A whole chunk of blocks unpacked ahead measured slower
/// on weights streamed from memory: the loads of the next chunk could not overlap this
/// one's products.)
#[repr(C, align(64))]
struct Scratch {
    q: [[u8; 64]; P],
    d: [f32; 2 * P],
    m: [f32; 2 * P],
}

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
    const { assert!(N <= P) };
    let nb = vd.len();
    let mut f = [_mm512_setzero_ps(); N];
    for b in 0..nb {
        unpack(&rows, b, sc, pf);
        // (Q4_1/Q5_1 have no zero point: their `vo` is all zeros.)
        let init = if X::MIN {
            _mm512_setzero_si512()
        } else {
            ld_i32(&vo[b])
        };
        let y: [__m512i; 8] = std::array::from_fn(|j| ld64(&vq[b * 8 + j]));
        let acc: [__m512i; N] = std::array::from_fn(|i| dots8(init, &sc.q[i], &y));
        let d = ld_f32(&vd[b]);
        for i in 0..N {
            let pair = _mm512_castsi512_ps(bcast64(f32_bytes(&sc.d[2 * i..2 * i + 2])));
            let s = _mm512_mul_ps(d, pair);
            if X::MIN {
                // dx·dy·Σ q·y + m·s, then added: the scalar reference's grouping.
                let m = _mm512_castsi512_ps(bcast64(f32_bytes(&sc.m[2 * i..2 * i + 2])));
                let ms = _mm512_mul_ps(ld_f32(&vs[b]), m);
                f[i] = _mm512_add_ps(f[i], _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i]), s, ms));
            } else {
                f[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i]), s, f[i]);
            }
        }
    }
    f
}

/// Block `b` of the `N` row pairs unpacked into `sc` ([`Scratch`]), prefetching `pf`
/// bytes ahead of each block read.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn unpack<X: VnniBlock, const N: usize>(
    rows: &[[&[X]; 2]; N],
    b: usize,
    sc: &mut Scratch,
    pf: usize,
) {
    let h = |x: F16Le| u16::from_le_bytes(x.0) as u64;
    // The rows' f16 scales (and offsets), four to a word, converted together.
    let (mut dh, mut mh) = ([0u64; P / 2], [0u64; P / 2]);
    for (i, [ra, rb]) in rows.iter().enumerate() {
        let (xa, xb) = (&ra[b], &rb[b]);
        // One prefetch per block read, `pf` bytes ahead: spread out, so the misses in
        // flight stay within the miss buffers.
        prefetch_ahead(xa, pf);
        prefetch_ahead(xb, pf);
        // SAFETY: this function's features include AVX-512 F/BW and AVX2.
        st_u8(&mut sc.q[i], unsafe { X::pair(xa, xb) });
        let at = 32 * (i % 2);
        dh[i / 2] |= (h(xa.d()) | h(xb.d()) << 16) << at;
        if X::MIN {
            mh[i / 2] |= (h(xa.m()) | h(xb.m()) << 16) << at;
        }
    }
    st_f32x8(&mut sc.d, f16x8(dh));
    if X::MIN {
        st_f32x8(&mut sc.m, f16x8(mh));
    }
}

const _: () = assert!(P == 4, "`f16x8` converts the scales of four row pairs");

/// Eight f16 (four to a word, the first in the low bits of `h[0]`) as f32.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn f16x8(h: [u64; P / 2]) -> __m256 {
    _mm256_cvtph_ps(_mm_set_epi64x(h[1] as i64, h[0] as i64))
}

/// The 8 bytes of two f32.
fn f32_bytes(v: &[f32]) -> &[u8; 8] {
    let v: &[f32; 2] = v.try_into().unwrap();
    // SAFETY: two f32 are 8 bytes, any bit pattern of which is a valid byte array with
    // the same (smaller) alignment.
    unsafe { &*(v as *const [f32; 2]).cast() }
}

/// Defines `$dots(acc, q, y)`: `acc` plus the products of an unpacked block `q` of
/// `8·$w` bytes with the eight activation groups `y`: per group `j`, bytes
/// `$w·j..$w·(j + 1)` of `q` broadcast (`$ins`, a `$size` load) and one `vpdpbusd`; and
/// `$bcast(v)`: the `$w` bytes of `v` broadcast the same way. Written as inline assembly so
/// that the broadcasts stay loads (from memory operands with constant offsets): the
/// compiler rewrites intrinsic broadcasts of bytes just stored into shuffles of the stored
/// register, which compete with the products for the vector ALU ports. Each block's
/// products run as two chains (integer sums: the order changes no bit).
macro_rules! broadcast_products {
    ($dots:ident, $bcast:ident, $w:literal, $ins:literal, $size:literal,
     [$o1:literal, $o2:literal, $o3:literal, $o4:literal, $o5:literal, $o6:literal, $o7:literal]) => {
        #[inline]
        #[target_feature(enable = "avx512f,avx512vnni")]
        fn $dots(acc: __m512i, q: &[u8; 8 * $w], y: &[__m512i; 8]) -> __m512i {
            let (mut acc, mut acc2) = (acc, _mm512_setzero_si512());
            // (Named scratch registers: an `out(zmm_reg) _` is given an invalid register name.)
            let (_t0, _t1): (__m512i, __m512i);
            // SAFETY: reads the bytes of `q`, nothing else; no stack, flags untouched; the
            // instructions are AVX-512 F/VNNI, which this function's features include.
            unsafe {
                std::arch::asm!(
                    concat!($ins, " {t0}, ", $size, " ptr [{q}]"),
                    "vpdpbusd {acc}, {t0}, {y0}",
                    concat!($ins, " {t1}, ", $size, " ptr [{q} + ", $o1, "]"),
                    "vpdpbusd {acc2}, {t1}, {y1}",
                    concat!($ins, " {t0}, ", $size, " ptr [{q} + ", $o2, "]"),
                    "vpdpbusd {acc}, {t0}, {y2}",
                    concat!($ins, " {t1}, ", $size, " ptr [{q} + ", $o3, "]"),
                    "vpdpbusd {acc2}, {t1}, {y3}",
                    concat!($ins, " {t0}, ", $size, " ptr [{q} + ", $o4, "]"),
                    "vpdpbusd {acc}, {t0}, {y4}",
                    concat!($ins, " {t1}, ", $size, " ptr [{q} + ", $o5, "]"),
                    "vpdpbusd {acc2}, {t1}, {y5}",
                    concat!($ins, " {t0}, ", $size, " ptr [{q} + ", $o6, "]"),
                    "vpdpbusd {acc}, {t0}, {y6}",
                    concat!($ins, " {t1}, ", $size, " ptr [{q} + ", $o7, "]"),
                    "vpdpbusd {acc2}, {t1}, {y7}",
                    acc = inout(zmm_reg) acc,
                    acc2 = inout(zmm_reg) acc2,
                    t0 = out(zmm_reg) _t0,
                    t1 = out(zmm_reg) _t1,
                    q = in(reg) q.as_ptr(),
                    y0 = in(zmm_reg) y[0],
                    y1 = in(zmm_reg) y[1],
                    y2 = in(zmm_reg) y[2],
                    y3 = in(zmm_reg) y[3],
                    y4 = in(zmm_reg) y[4],
                    y5 = in(zmm_reg) y[5],
                    y6 = in(zmm_reg) y[6],
                    y7 = in(zmm_reg) y[7],
                    options(pure, readonly, nostack, preserves_flags),
                );
            }
            _mm512_add_epi32(acc, acc2)
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        fn $bcast(v: &[u8; $w]) -> __m512i {
            let out: __m512i;
            // SAFETY: reads the bytes of `v`, nothing else; no stack, flags untouched.
            unsafe {
                std::arch::asm!(
                    concat!($ins, " {out}, ", $size, " ptr [{p}]"),
                    out = out(zmm_reg) out,
                    p = in(reg) v.as_ptr(),
                    options(pure, readonly, nostack, preserves_flags),
                );
            }
            out
        }
    };
}
pub(super) use broadcast_products;

broadcast_products!(
    dots8,
    bcast64,
    8,
    "vpbroadcastq",
    "qword",
    [8, 16, 24, 32, 40, 48, 56]
);

#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn ld_i32(v: &[i32; 16]) -> __m512i {
    // SAFETY: `v` is 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn ld64(v: &[u8; 64]) -> __m512i {
    // SAFETY: `v` is 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn ld_f32(v: &[f32; 16]) -> __m512 {
    // SAFETY: `v` is 16 readable f32; unaligned load.
    unsafe { _mm512_loadu_ps(v.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn st_u8(o: &mut [u8; 64], v: __m512i) {
    // SAFETY: `o` is 64 writable bytes; unaligned store.
    unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "avx")]
fn st_f32x8(o: &mut [f32; 2 * P], v: __m256) {
    // SAFETY: `o` is 8 writable f32; unaligned store.
    unsafe { _mm256_storeu_ps(o.as_mut_ptr(), v) }
}

#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn st_f32(o: &mut [f32; 16], v: __m512) {
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
