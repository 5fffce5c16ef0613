//! The token-lane kernel of [`super::avx512_multi`] for groups of at most four tokens:
//! a register holds four weight rows × four tokens (lane `4t + i`: row `i`, token `t`)
//! instead of two rows × eight, so a short group (a speculative verify pass of 2–4 rows,
//! a batched step of 2–4 sequences) does not pay for eight token lanes.
//!
//! Every lane's arithmetic is `rows_vnni`'s, operand for operand: the block's exact
//! integer sum (`−o·Σy` as the start value), `f = (Σ q·y)·(d_y·d_x) + f` with one FMA, or
//! `f = f + ((Σ q·y)·(d_y·d_x) + s_y·m_x)`; so a (row, token) has the same bits whichever
//! kernel ran it, and the one-token kernel's (`super::avx512_lanes`). The activation side
//! is `rows_vnni`'s tables (`crate::isa::tables`, each token in lanes `2t`, `2t + 1`),
//! spread to lanes `4t..4t + 4` with one permute per load. The weights are unpacked one
//! block at a time for four quads of rows: per quad, the two row pairs' groups
//! ([`VnniBlock::pair`]) interleaved by two 64-bit permutes into sixteen bytes per group
//! (the four rows' quants), which each `vpdpbusd` takes as a 16-byte broadcast load.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::multi` calls them after a `Proven` tier shows the CPU has
//! those features. Memory is reached through bounds-checked slices and arrays; the
//! raw-pointer operations are the prefetch hint, which cannot fault, and the broadcast
//! loads of [`dots8x4`] and [`bcast128`], each from a reference to exactly the bytes read.

use std::arch::x86_64::*;

use super::avx512_lanes::f16x16;
use super::avx512_multi::{
    broadcast_products, ld64, ld_f32, ld_i32, prefetch_ahead, st_f32, st_u8, VnniBlock,
};
use crate::formats::f16::F16Le;

/// Quads of rows per tile.
const Q: usize = 4;

/// Most tokens per call.
pub const TOKENS4: usize = 4;

/// One block of [`Q`] row quads unpacked: per quad, group `j` of the four rows at bytes
/// `16j..16j + 16` (row `i`'s four quants at `16j + 4i`); the rows' scales (and offsets)
/// as f32, quad `i` at `4i..4i + 4`.
#[repr(C, align(64))]
struct Scratch {
    q: [[u8; 128]; Q],
    d: [f32; 4 * Q],
    m: [f32; 4 * Q],
}

/// Every row of `w` (`nb` blocks each) against the first `width` (1..=4) tokens of token
/// group `vq`/`vd`/`vo`/`vs` (laid out for `rows_vnni`): `out[t·ld + r]` gets exactly
/// `rows_vnni`'s row `r` · token `t`. Prefetches `pf` bytes ahead of each block read, at
/// least one tile of rows ahead (none for `pf == 0`).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn rows_vnni4<X: VnniBlock>(
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
    assert!((1..=TOKENS4).contains(&width), "token group of {width}");
    let (vq, vd, vo) = (&vq[..nb * 8], &vd[..nb], &vo[..nb]);
    let vs = if X::MIN { &vs[..nb] } else { vs };
    let rows = w.len() / nb;
    let pf = match pf {
        0 => 0,
        pf => pf.max(4 * Q * nb * std::mem::size_of::<X>()),
    };
    let mut sc = Scratch {
        q: [[0; 128]; Q],
        d: [0.0; 4 * Q],
        m: [0.0; 4 * Q],
    };
    // Token `t`'s lanes `2t` of the tables to lanes `4t..4t + 4`.
    let spread = _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6);
    let mut r0 = 0;
    while r0 < rows {
        let take = (rows - r0).min(4 * Q);
        // A last tile of fewer rows repeats its last row.
        let mut rs: [&[X]; 4 * Q] = [&w[..nb]; 4 * Q];
        for (i, r) in rs.iter_mut().enumerate() {
            let at = r0 + i.min(take - 1);
            *r = &w[at * nb..(at + 1) * nb];
        }
        let mut f = [_mm512_setzero_ps(); Q];
        for b in 0..nb {
            unpack(&rs, b, &mut sc, pf);
            let init = if X::MIN {
                _mm512_setzero_si512()
            } else {
                _mm512_permutexvar_epi32(spread, ld_i32(&vo[b]))
            };
            let mut y = [_mm512_setzero_si512(); 8];
            for (j, y) in y.iter_mut().enumerate() {
                *y = _mm512_permutexvar_epi32(spread, ld64(&vq[b * 8 + j]));
            }
            let d = _mm512_permutexvar_ps(spread, ld_f32(&vd[b]));
            let s8 = if X::MIN {
                _mm512_permutexvar_ps(spread, ld_f32(&vs[b]))
            } else {
                _mm512_setzero_ps()
            };
            for (i, f) in f.iter_mut().enumerate() {
                let acc = dots8x4(init, &sc.q[i], &y);
                let s = _mm512_mul_ps(
                    d,
                    _mm512_castsi512_ps(bcast128(f32_bytes(&sc.d[4 * i..4 * i + 4]))),
                );
                *f = if X::MIN {
                    let m = _mm512_castsi512_ps(bcast128(f32_bytes(&sc.m[4 * i..4 * i + 4])));
                    let ms = _mm512_mul_ps(s8, m);
                    _mm512_add_ps(*f, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), s, ms))
                } else {
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), s, *f)
                };
            }
        }
        for (i, f) in f.iter().enumerate() {
            let mut lanes = [0f32; 16];
            // SAFETY: 16 writable f32; unaligned store.
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), *f) };
            for r in 0..4 {
                let row = 4 * i + r;
                if row < take {
                    for t in 0..width {
                        out[t * ld + r0 + row] = lanes[4 * t + r];
                    }
                }
            }
        }
        r0 += take;
    }
}

/// Block `b` of the tile's row quads unpacked into `sc` ([`Scratch`]), prefetching `pf`
/// bytes ahead of each block read.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn unpack<X: VnniBlock>(rows: &[&[X]; 4 * Q], b: usize, sc: &mut Scratch, pf: usize) {
    let h = |x: F16Le| u16::from_le_bytes(x.0) as u64;
    let (mut dh, mut mh) = ([0u64; Q], [0u64; Q]);
    let lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    let hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    for i in 0..Q {
        let x: [&X; 4] = [
            &rows[4 * i][b],
            &rows[4 * i + 1][b],
            &rows[4 * i + 2][b],
            &rows[4 * i + 3][b],
        ];
        for x in x {
            prefetch_ahead(x, pf);
        }
        // SAFETY: this function's features include AVX-512 F/BW and AVX2.
        let (p01, p23) = unsafe { (X::pair(x[0], x[1]), X::pair(x[2], x[3])) };
        // Pair qword `j` holds both rows' group `j`: interleaved, the four rows' group.
        let (a, c) = (
            _mm512_permutex2var_epi64(p01, lo, p23),
            _mm512_permutex2var_epi64(p01, hi, p23),
        );
        let (q0, q1) = sc.q[i].split_at_mut(64);
        st_u8(q0.try_into().unwrap(), a);
        st_u8(q1.try_into().unwrap(), c);
        for (k, x) in x.iter().enumerate() {
            dh[i] |= h(x.d()) << (16 * k);
            if X::MIN {
                mh[i] |= h(x.m()) << (16 * k);
            }
        }
    }
    st_f32(&mut sc.d, f16x16(dh));
    if X::MIN {
        st_f32(&mut sc.m, f16x16(mh));
    }
}

const _: () = assert!(Q == 4, "`f16x16` converts the scales of four row quads");

/// The 16 bytes of four f32.
fn f32_bytes(v: &[f32]) -> &[u8; 16] {
    let v: &[f32; 4] = v.try_into().unwrap();
    // SAFETY: four f32 are 16 bytes, any bit pattern of which is a valid byte array with
    // the same (smaller) alignment.
    unsafe { &*(v as *const [f32; 4]).cast() }
}

// `dots8x4`: per group `j`, bytes `16j..16j + 16` of a quad's block (the four rows' quants)
// broadcast and one `vpdpbusd`; `bcast128`: 16 bytes broadcast.
broadcast_products!(
    dots8x4,
    bcast128,
    16,
    "vbroadcasti32x4",
    "xmmword",
    [16, 32, 48, 64, 80, 96, 112]
);
