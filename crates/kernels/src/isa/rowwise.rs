//! Several activation rows against the same weight rows, each (row, token) result
//! **bit-identical** to the one-token product [`super::vec_dot_rows`] of this tier: what
//! speculative verification needs (its rows must be the logits plain decoding computes),
//! at a fraction of one-token products' cost per extra token.
//!
//! The batched kernels ([`super::multi`]) are cheaper still but sum in another order. The
//! kernels here follow the one-token kernel's order exactly (same lanes, same FMA chain,
//! same horizontal reduction) and share only what does not change a bit: the weight
//! loads and unpacking, and each token's activation preparation (done once per product,
//! [`RowwiseTables`]). Formats or tiers without such a kernel run the one-token kernel per
//! token ([`vec_dot_rows_rowwise`] is then exactly that loop).
//!
//! | format · activation | avx512-vnni |
//! |---|---|
//! | Q8_0 · Q8_0 | `x86_64::avx512_rowwise::q8_0_rows_tokens` (up to 8 tokens per weight load) |

use super::quant::{prefetch_bytes, row_bytes, rows_checked, Proven};
#[cfg(target_arch = "x86_64")]
use super::x86_64::avx512_rowwise::{self as rw, Q8Pair};
use super::Isa;
use crate::formats::{cast_blocks, vec_dot_type};
use crate::GgmlType;

/// Tokens per kernel call.
pub const ROWWISE_TOKENS: usize = 8;

/// Activation rows laid out once per product for [`vec_dot_rows_rowwise`]; kept between
/// uses (one per matrix-product scratch allocates only while it grows).
#[derive(Debug, Default)]
pub struct RowwiseTables {
    /// What the tables hold: (tier, weight format, row length, tokens); `None` when no
    /// kernel applies (the products then run the one-token kernel per token).
    key: Option<(Isa, GgmlType, usize, usize)>,
    /// Q8_0 at the VNNI tier: per token, `nb.div_ceil(2)` block pairs.
    #[cfg(target_arch = "x86_64")]
    q8: Vec<Q8Pair>,
}

/// Whether tier `t` has a rowwise kernel for `ty`.
fn has_kernel(t: Isa, ty: GgmlType) -> bool {
    #[cfg(target_arch = "x86_64")]
    if t.at_least(Isa::Avx512Vnni) && ty == GgmlType::Q8_0 {
        return true;
    }
    let _ = (t, ty);
    false
}

impl RowwiseTables {
    pub const fn new() -> RowwiseTables {
        RowwiseTables {
            key: None,
            #[cfg(target_arch = "x86_64")]
            q8: Vec::new(),
        }
    }

    /// Prepares `tokens` activation rows `a` (of [`vec_dot_type`]`(ty)`, rows of `n`) for
    /// products with `ty` weights at this process's tier. Panics if `a` is not `tokens`
    /// whole rows.
    pub fn prepare(&mut self, ty: GgmlType, n: usize, a: &[u8], tokens: usize) {
        self.prepare_at(Proven::current(), ty, n, a, tokens)
    }

    pub(super) fn prepare_at(
        &mut self,
        t: Proven,
        ty: GgmlType,
        n: usize,
        a: &[u8],
        tokens: usize,
    ) {
        let ab = row_bytes("RowwiseTables (activations)", vec_dot_type(ty), n);
        assert_eq!(
            a.len(),
            ab * tokens,
            "RowwiseTables: activations are not {tokens} rows"
        );
        self.key = None;
        if !has_kernel(t.0, ty) || n == 0 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if ty == GgmlType::Q8_0 {
            let np = (n / 32).div_ceil(2);
            self.q8.clear();
            self.q8.resize(np * tokens, Q8Pair::ZERO);
            for (row, out) in a.chunks_exact(ab).zip(self.q8.chunks_exact_mut(np)) {
                // SAFETY: `t` proves the VNNI tier (`has_kernel`); the kernel bounds-checks.
                unsafe { rw::q8_0_pairs(cast_blocks(row), out) };
            }
        }
        self.key = Some((t.0, ty, n, tokens));
    }

    /// Whether a rowwise kernel serves these tables (else the one-token kernel per token).
    pub fn accelerated(&self) -> bool {
        self.key.is_some()
    }
}

/// `out[t·ld + r]` = [`super::vec_dot_rows`]`(ty, n, row r of w_rows, row t of a)`, bit
/// for bit, for `tokens` activation rows `a` and `tables` from [`RowwiseTables::prepare`]
/// on the same `a` (or unprepared: then the one-token kernel runs per token). Panics on a
/// length mismatch.
#[allow(clippy::too_many_arguments)]
pub fn vec_dot_rows_rowwise(
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: &RowwiseTables,
) {
    rowwise_checked(Proven::current(), ty, n, w_rows, a, tokens, out, ld, tables)
}

/// [`vec_dot_rows_rowwise`] at tier `isa`, preparing its own tables (tests, benchmarks).
/// Panics if the CPU does not support `isa`.
#[allow(clippy::too_many_arguments)]
pub fn vec_dot_rows_rowwise_with(
    isa: Isa,
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    let t = Proven::checked(isa);
    let mut tables = RowwiseTables::new();
    tables.prepare_at(t, ty, n, a, tokens);
    rowwise_checked(t, ty, n, w_rows, a, tokens, out, ld, &tables)
}

#[allow(clippy::too_many_arguments)]
fn rowwise_checked(
    t: Proven,
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: &RowwiseTables,
) {
    let rb = row_bytes("vec_dot_rows_rowwise (weights)", ty, n);
    let ab = row_bytes("vec_dot_rows_rowwise (activations)", vec_dot_type(ty), n);
    assert!(rb > 0, "vec_dot_rows_rowwise: empty rows");
    assert_eq!(
        w_rows.len() % rb,
        0,
        "vec_dot_rows_rowwise: weights are not whole rows"
    );
    assert_eq!(
        a.len(),
        ab * tokens,
        "vec_dot_rows_rowwise: activations are not {tokens} rows"
    );
    let rows = w_rows.len() / rb;
    if tokens == 0 || rows == 0 {
        return;
    }
    assert!(ld >= rows, "vec_dot_rows_rowwise: ld {ld} < {rows} rows");
    assert!(
        out.len() >= (tokens - 1) * ld + rows,
        "vec_dot_rows_rowwise: output too short"
    );
    if tables.key == Some((t.0, ty, n, tokens)) {
        #[cfg(target_arch = "x86_64")]
        if ty == GgmlType::Q8_0 {
            let nb = n / 32;
            let np = nb.div_ceil(2);
            let w = cast_blocks(w_rows);
            let pf = prefetch_bytes();
            let mut t0 = 0;
            while t0 < tokens {
                let width = (tokens - t0).min(ROWWISE_TOKENS);
                let tab = |j: usize| &tables.q8[(t0 + j) * np..(t0 + j + 1) * np];
                let o = &mut out[t0 * ld..];
                // The first group streams the weights; the later ones find them cached.
                let pf = if t0 == 0 { pf } else { 0 };
                macro_rules! call {
                    ($($w:literal)*) => {
                        match width {
                            // SAFETY: the key proves the VNNI tier; the kernel
                            // bounds-checks its slices.
                            $($w => unsafe {
                                rw::q8_0_rows_tokens::<$w>(w, nb, std::array::from_fn(tab), o, ld, pf)
                            },)*
                            _ => unreachable!(),
                        }
                    };
                }
                call!(1 2 3 4 5 6 7 8);
                t0 += width;
            }
            return;
        }
    }
    for tk in 0..tokens {
        rows_checked(
            t,
            ty,
            n,
            w_rows,
            &a[tk * ab..(tk + 1) * ab],
            &mut out[tk * ld..tk * ld + rows],
        );
    }
}
