//! Weights repacked at load time into layouts that the SIMD kernels unpack with fewer
//! instructions, and their safe entry points.
//!
//! A packing holds exactly the stock format's values in the same number of bytes per row,
//! so row slicing, activation quantization (`vec_dot_type` of the stock format) and every
//! result are unchanged up to float summation order. Packings, used at the AVX2 tier:
//! - Q5_0 → [`q5_0x4`](crate::formats::q5_0x4): the kernel needs about half the
//!   instructions of stock Q5_0's;
//! - Q8_0 → [`q8_0x4`](crate::formats::q8_0x4): one scale conversion per four blocks
//!   instead of two per block, on what is usually the output head.
//!
//! Each packing has one arithmetic for one token and many: the one-token product is the
//! batched kernel's for one token, so speculative verify passes run the batched kernel
//! and get decoding's bits.
//!
//! On a decode step that waits on memory, fewer instructions per byte keep more of the
//! weight stream in flight.

#[cfg(target_arch = "x86_64")]
use std::cell::RefCell;

#[cfg(target_arch = "x86_64")]
use super::quant::prefetch_bytes;
use super::quant::{row_bytes, Proven};
use super::tables::TokenTables;
use super::Isa;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::{cast_blocks, q5_0x4, q8_0x4, vec_dot_type};
use crate::GgmlType;

#[cfg(target_arch = "x86_64")]
use super::x86_64::{avx2_q5_0x4 as v2q, avx2_q8_0x4 as v2q8, avx2_quant::q8_0_has_min};

/// A load-time weight layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// Q5_0 in groups of four blocks: [`crate::formats::q5_0x4`].
    Q5_0x4,
    /// Q8_0 in groups of four blocks: [`crate::formats::q8_0x4`].
    Q8_0x4,
}

impl Packing {
    /// The packing to use for a `ty` matrix with rows of `cols` elements at this process's
    /// tier, if any. Only the AVX2 tier packs: that is where the packed kernels were
    /// measured faster; the AVX-512 tiers keep their own (VNNI) kernels on stock blocks.
    /// `WREN_REPACK=0` turns repacking off (for comparisons).
    pub fn for_matrix(ty: GgmlType, cols: usize) -> Option<Packing> {
        static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let off = *OFF.get_or_init(|| std::env::var("WREN_REPACK").is_ok_and(|v| v == "0"));
        if off || super::isa() != Isa::Avx2 {
            return None;
        }
        let p = match ty {
            GgmlType::Q5_0 => Packing::Q5_0x4,
            GgmlType::Q8_0 => Packing::Q8_0x4,
            _ => return None,
        };
        p.fits(cols).then_some(p)
    }

    pub fn name(self) -> &'static str {
        match self {
            Packing::Q5_0x4 => "q5_0x4",
            Packing::Q8_0x4 => "q8_0x4",
        }
    }

    /// The stock format whose values this packing holds.
    pub fn stock(self) -> GgmlType {
        match self {
            Packing::Q5_0x4 => GgmlType::Q5_0,
            Packing::Q8_0x4 => GgmlType::Q8_0,
        }
    }

    /// Whether rows of `cols` elements can be packed.
    pub fn fits(self, cols: usize) -> bool {
        match self {
            Packing::Q5_0x4 => q5_0x4::fits(cols),
            Packing::Q8_0x4 => q8_0x4::fits(cols),
        }
    }

    /// Repacks whole rows of `cols` stock elements (`src`) into `dst` (same length).
    /// Panics on a length mismatch or if rows of `cols` cannot be packed.
    pub fn repack(self, cols: usize, src: &[u8], dst: &mut [u8]) {
        assert!(
            self.fits(cols),
            "{}: rows of {cols} cannot be packed",
            self.name()
        );
        let rb = row_bytes("repack", self.stock(), cols);
        assert!(src.len().is_multiple_of(rb), "repack: not whole rows");
        match self {
            Packing::Q5_0x4 => q5_0x4::repack(cast_blocks(src), dst),
            Packing::Q8_0x4 => q8_0x4::repack(cast_blocks(src), cols / 32, dst),
        }
    }
}

/// Dequantizes one packed row (`dst.len()` elements).
pub fn packed_dequantize_row(p: Packing, src: &[u8], dst: &mut [f32]) {
    match p {
        Packing::Q5_0x4 => q5_0x4::dequantize(src, dst),
        Packing::Q8_0x4 => q8_0x4::dequantize(src, dst),
    }
}

/// `out[r] = row r of w_rows · a` for packed rows of `n` elements and one activation row
/// of `vec_dot_type(p.stock())`, with this process's tier. Panics on a length mismatch.
pub fn packed_rows(p: Packing, n: usize, w_rows: &[u8], a: &[u8], out: &mut [f32]) {
    rows(Proven::current(), p, n, w_rows, a, out)
}

/// [`packed_rows`] at an explicit tier (tests, benchmarks).
pub fn packed_rows_with(isa: Isa, p: Packing, n: usize, w_rows: &[u8], a: &[u8], out: &mut [f32]) {
    rows(Proven::checked(isa), p, n, w_rows, a, out)
}

/// `out[t·ld + r] = row r of w_rows · row t of a` for `tokens` activation rows, with this
/// process's tier. Panics on a length mismatch.
pub fn packed_rows_tokens(
    p: Packing,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    tokens_checked(Proven::current(), p, n, w_rows, a, tokens, out, ld, None)
}

/// [`packed_rows_tokens`] with the activation tables already laid out by
/// [`TokenTables::prepare`]`(p.stock(), Some(p), n, a, tokens)` (once per matrix product,
/// shared by its tasks). Panics if `tables` were prepared for another product.
#[allow(clippy::too_many_arguments)]
pub fn packed_rows_tokens_prepared(
    p: Packing,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: &TokenTables,
) {
    tokens_checked(
        Proven::current(),
        p,
        n,
        w_rows,
        a,
        tokens,
        out,
        ld,
        Some(tables),
    )
}

/// [`packed_rows_tokens`] at an explicit tier (tests, benchmarks).
#[allow(clippy::too_many_arguments)]
pub fn packed_rows_tokens_with(
    isa: Isa,
    p: Packing,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    tokens_checked(Proven::checked(isa), p, n, w_rows, a, tokens, out, ld, None)
}

/// Row and activation-row bytes, after checking that `n` can be packed.
fn sizes(p: Packing, n: usize) -> (usize, usize) {
    assert!(
        p.fits(n),
        "{}: rows of {n} elements are not whole groups",
        p.name()
    );
    let stock = p.stock();
    (
        row_bytes("packed rows (weights)", stock, n),
        row_bytes("packed rows (activations)", vec_dot_type(stock), n),
    )
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// The one-token product's activation tables: one token's of the batched kernels
    /// (`super::tables::packed_tables`: quants, group scales, Q5_0×4's offsets).
    static ROW_TAB: RefCell<OneToken> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

#[cfg(target_arch = "x86_64")]
type OneToken = (Vec<[u8; 32]>, Vec<f32>, Vec<[i32; 8]>);

/// Whether at tier `t` the batched products of the packings give every (row, token) the
/// one-token product's bits: at the AVX2 tiers, where each packing's one-token product
/// *is* its batched kernel for one token (`avx2_q5_0x4::rows_q5_0x4`,
/// `avx2_q8_0x4::rows_q8_0x4`). Speculative verification then runs the batched kernel
/// ([`super::rowwise`]).
pub(super) fn batched_is_one_token(t: Isa) -> bool {
    cfg!(target_arch = "x86_64") && t.at_least(Isa::Avx2)
}

/// The scalar reference of packing `p`: exact, any activations.
fn scalar_dot(p: Packing, row: &[u8], a: &[BlockQ8_0]) -> f32 {
    match p {
        Packing::Q5_0x4 => q5_0x4::vec_dot(row, a),
        Packing::Q8_0x4 => q8_0x4::vec_dot(row, a),
    }
}

/// Whether the SIMD kernels of `p` are exact for activation row `a` at tier `t` (the
/// Q8_0 sign trick is not for a `-128` quant, which wren's own quantizer never writes).
fn simd_ok(t: Proven, p: Packing, a: &[BlockQ8_0]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if t.0 >= Isa::Avx2 {
        // SAFETY: `t` proves at least AVX2.
        return p != Packing::Q8_0x4 || !unsafe { q8_0_has_min(a) };
    }
    let _ = (t, p, a);
    false
}

#[cfg_attr(not(target_arch = "x86_64"), allow(clippy::needless_return))]
pub(super) fn rows(t: Proven, p: Packing, n: usize, w: &[u8], a: &[u8], out: &mut [f32]) {
    let (rb, ab) = sizes(p, n);
    assert_eq!(
        w.len(),
        out.len() * rb,
        "packed rows: {} rows are {} bytes",
        out.len(),
        out.len() * rb
    );
    assert_eq!(
        a.len(),
        ab,
        "packed rows: an activation row of {n} is {ab} bytes"
    );
    let blocks: &[BlockQ8_0] = cast_blocks(a);
    if !simd_ok(t, p, blocks) {
        for (o, row) in out.iter_mut().zip(w.chunks_exact(rb)) {
            *o = scalar_dot(p, row, blocks);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    ROW_TAB.with(|tabs| {
        let (quants, scales, offsets) = &mut *tabs.borrow_mut();
        let q5 = p == Packing::Q5_0x4;
        super::tables::packed_tables(a, ab, 1, n, q5, quants, scales, offsets);
        let (pf, nb, ld) = (prefetch_bytes(), n / 32, out.len());
        // SAFETY: `simd_ok` proved at least the AVX2 tier (AVX2+FMA+F16C) and, for
        // Q8_0x4, no -128 activation quant; the kernels bounds-check their slices.
        unsafe {
            match p {
                Packing::Q5_0x4 => {
                    v2q::rows_q5_0x4::<1>(w, nb, quants, scales, offsets, out, ld, pf)
                }
                Packing::Q8_0x4 => v2q8::rows_q8_0x4::<1>(w, nb, quants, scales, out, ld, pf),
            }
        }
    });
}

#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(super) fn tokens_checked(
    t: Proven,
    p: Packing,
    n: usize,
    w: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: Option<&TokenTables>,
) {
    let (rb, ab) = sizes(p, n);
    let nrows = w.len() / rb;
    assert_eq!(w.len(), nrows * rb, "packed rows: not whole rows of {n}");
    assert_eq!(
        a.len(),
        tokens * ab,
        "packed rows: activations are not {tokens} rows of {n}"
    );
    assert!(ld >= nrows, "packed rows: ld {ld} < {nrows} rows");
    if tokens == 0 || nrows == 0 {
        return;
    }
    assert!(
        out.len() >= (tokens - 1) * ld + nrows,
        "packed rows: output too short for {tokens} tokens × ld {ld}"
    );
    #[cfg(target_arch = "x86_64")]
    if tokens > 1 {
        let key = (p.stock(), Some(p), n, a, tokens);
        let done = super::multi::with_tables(t, tables, key, |tb| {
            let usable = tb.usable_for(p.stock(), Some(p), n, a, tokens);
            if usable {
                super::multi::packed_tokens(p, n, w, rb, tb, tokens, out, ld);
            }
            usable
        });
        if done {
            return;
        }
    }
    for (i, ai) in a.chunks_exact(ab).enumerate() {
        rows(t, p, n, w, ai, &mut out[i * ld..i * ld + nrows]);
    }
}
