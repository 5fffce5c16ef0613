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
//! | Q8_0, Q4_0, Q5_0 · Q8_0 | `x86_64::avx512_rowwise::pair_rows_tokens` (up to 8 tokens per weight load) |
//! | Q4_1, Q5_1 · Q8_1 | `x86_64::avx512_rowwise::q8_1_rows_tokens` (up to 8 tokens, two per register) |
//! | Q6_K · Q8_K | `x86_64::avx512_kquants::q6_k_rows_tokens` (up to 8 tokens per unpacked super-block) |
//! | Q4_K, Q5_K · Q8_K | `x86_64::avx512_kquants::k4_rows_tokens` (up to 8 tokens per unpacked super-block) |

#[cfg(target_arch = "x86_64")]
use super::quant::prefetch_bytes;
use super::quant::{row_bytes, rows_checked, Proven};
#[cfg(target_arch = "x86_64")]
use super::x86_64::avx512_rowwise::{self as rw, Q8Pair, Q8_1Pair};
use super::Isa;
#[cfg(target_arch = "x86_64")]
use crate::formats::cast_blocks;
#[cfg(target_arch = "x86_64")]
use crate::formats::q8_0::BlockQ8_0;
#[cfg(target_arch = "x86_64")]
use crate::formats::q8_1::BlockQ8_1;
use crate::formats::vec_dot_type;
#[cfg(target_arch = "x86_64")]
use crate::formats::{q4_0::BlockQ4_0, q4_1::BlockQ4_1, q5_0::BlockQ5_0, q5_1::BlockQ5_1};
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
    /// Q8_0 activations at the VNNI tier: per token, `nb.div_ceil(2)` block pairs.
    #[cfg(target_arch = "x86_64")]
    q8: Vec<Q8Pair>,
    /// Q8_1 activations at the VNNI tier: per pair of tokens, `nb` blocks.
    #[cfg(target_arch = "x86_64")]
    q81: Vec<Q8_1Pair>,
    /// Q8_1 activations: per group of [`ROWWISE_TOKENS`] tokens and block, the tokens'
    /// `s` (f32; zeros past the last token), for the offsets' products of all of them at
    /// once.
    #[cfg(target_arch = "x86_64")]
    q81s: Vec<[f32; ROWWISE_TOKENS]>,
}

/// Whether tier `t` has a rowwise kernel for `ty`.
fn has_kernel(t: Isa, ty: GgmlType) -> bool {
    #[cfg(target_arch = "x86_64")]
    if t.at_least(Isa::Avx512Vnni)
        && matches!(
            ty,
            GgmlType::Q8_0
                | GgmlType::Q4_0
                | GgmlType::Q5_0
                | GgmlType::Q4_1
                | GgmlType::Q5_1
                | GgmlType::Q4K
                | GgmlType::Q5K
                | GgmlType::Q6K
        )
    {
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
            #[cfg(target_arch = "x86_64")]
            q81: Vec::new(),
            #[cfg(target_arch = "x86_64")]
            q81s: Vec::new(),
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
        {
            let nb = n / 32;
            let np = nb.div_ceil(2);
            // SAFETY (the kernel calls below): `t` proves the VNNI tier (`has_kernel`);
            // the kernels bounds-check their slices.
            match ty {
                // The k-quants read the activation rows as they are.
                GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => {}
                GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => {
                    self.q8.clear();
                    self.q8.resize(np * tokens, Q8Pair::ZERO);
                    for (row, out) in a.chunks_exact(ab).zip(self.q8.chunks_exact_mut(np)) {
                        let row = cast_blocks(row);
                        unsafe {
                            match ty {
                                GgmlType::Q8_0 => rw::q8_0_pairs::<BlockQ8_0>(row, out),
                                GgmlType::Q4_0 => rw::q8_0_pairs::<BlockQ4_0>(row, out),
                                _ => rw::q8_0_pairs::<BlockQ5_0>(row, out),
                            }
                        }
                    }
                }
                _ => {
                    let pairs = tokens.div_ceil(2);
                    self.q81.clear();
                    self.q81.resize(nb * pairs, Q8_1Pair::ZERO);
                    for (j, out) in self.q81.chunks_exact_mut(nb).enumerate() {
                        let row = |t: usize| cast_blocks(&a[t * ab..(t + 1) * ab]);
                        let second = (2 * j + 1 < tokens).then(|| row(2 * j + 1));
                        unsafe { rw::q8_1_pairs(row(2 * j), second, out) };
                    }
                    let groups = tokens.div_ceil(ROWWISE_TOKENS);
                    self.q81s.clear();
                    self.q81s.resize(nb * groups, [0.0; ROWWISE_TOKENS]);
                    for t in 0..tokens {
                        let row: &[BlockQ8_1] = cast_blocks(&a[t * ab..(t + 1) * ab]);
                        let (g, lane) = (t / ROWWISE_TOKENS, t % ROWWISE_TOKENS);
                        for (o, x) in self.q81s[g * nb..(g + 1) * nb].iter_mut().zip(row) {
                            o[lane] = x.s.to_f32();
                        }
                    }
                }
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
        {
            // One token of Q4_1/Q5_1 (two tokens per register): the one-token kernel is
            // cheaper than a half-used pair.
            let one = |tk: usize, o: &mut [f32]| {
                rows_checked(t, ty, n, w_rows, &a[tk * ab..(tk + 1) * ab], &mut o[..rows])
            };
            rowwise_x86(ty, n, w_rows, a, tokens, out, ld, tables, one);
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

/// The VNNI rowwise kernels over token groups of up to [`ROWWISE_TOKENS`] (tables checked
/// by the caller: prepared at a proven VNNI tier for this `ty`, `n` and `tokens`); `one(t,
/// out)` is the one-token kernel for token `t`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn rowwise_x86(
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: &RowwiseTables,
    one: impl Fn(usize, &mut [f32]),
) {
    let nb = n / 32;
    let pf0 = prefetch_bytes();
    let mut t0 = 0;
    while t0 < tokens {
        let width = (tokens - t0).min(ROWWISE_TOKENS);
        let o = &mut out[t0 * ld..];
        // The first group streams the weights; the later ones find them cached.
        let pf = if t0 == 0 { pf0 } else { 0 };
        match ty {
            GgmlType::Q8_0 => pairs::<BlockQ8_0>(w_rows, nb, tables, t0, width, o, ld, pf),
            GgmlType::Q4_0 => pairs::<BlockQ4_0>(w_rows, nb, tables, t0, width, o, ld, pf),
            GgmlType::Q5_0 => pairs::<BlockQ5_0>(w_rows, nb, tables, t0, width, o, ld, pf),
            GgmlType::Q4_1 | GgmlType::Q5_1 if width == 1 => one(t0, o),
            GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => {
                kquants(ty, w_rows, n, a, t0, width, o, ld, pf)
            }
            GgmlType::Q4_1 => mins::<BlockQ4_1>(w_rows, nb, tables, t0, width, o, ld, pf),
            GgmlType::Q5_1 => mins::<BlockQ5_1>(w_rows, nb, tables, t0, width, o, ld, pf),
            _ => unreachable!("no rowwise kernel for {ty}"),
        }
        t0 += width;
    }
}

/// Tokens `t0..t0 + width` of a [`rw::PairBlock`] format.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn pairs<X: rw::PairBlock + crate::formats::Block>(
    w_rows: &[u8],
    nb: usize,
    tables: &RowwiseTables,
    t0: usize,
    width: usize,
    o: &mut [f32],
    ld: usize,
    pf: usize,
) {
    let w: &[X] = cast_blocks(w_rows);
    let np = nb.div_ceil(2);
    let tab = |j: usize| &tables.q8[(t0 + j) * np..(t0 + j + 1) * np];
    macro_rules! call {
        ($($k:literal)*) => {
            match width {
                // SAFETY: the tables' key proves the VNNI tier; the kernel bounds-checks
                // its slices.
                $($k => unsafe {
                    rw::pair_rows_tokens::<X, $k>(w, nb, std::array::from_fn(tab), o, ld, pf)
                },)*
                _ => unreachable!(),
            }
        };
    }
    call!(1 2 3 4 5 6 7 8)
}

/// Tokens `t0..t0 + width` of a [`rw::MinBlock`] format (`t0` even).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn mins<X: rw::MinBlock + crate::formats::Block>(
    w_rows: &[u8],
    nb: usize,
    tables: &RowwiseTables,
    t0: usize,
    width: usize,
    o: &mut [f32],
    ld: usize,
    pf: usize,
) {
    let w: &[X] = cast_blocks(w_rows);
    let j0 = t0 / 2;
    let tab = |j: usize| &tables.q81[(j0 + j) * nb..(j0 + j + 1) * nb];
    let g = t0 / ROWWISE_TOKENS;
    let s8 = &tables.q81s[g * nb..(g + 1) * nb];
    macro_rules! call {
        ($($k:literal)*) => {
            match width.div_ceil(2) {
                // SAFETY: the tables' key proves the VNNI tier; the kernel bounds-checks
                // its slices.
                $($k => unsafe {
                    rw::q8_1_rows_tokens::<X, $k>(w, nb, std::array::from_fn(tab), s8, width, o, ld, pf)
                },)*
                _ => unreachable!(),
            }
        };
    }
    call!(1 2 3 4)
}

/// The per-row VNNI kernels of Q8_0, Q4_0 and Q5_0 (one row at a time), which the rows
/// kernels of that tier (the rowwise kernels for one token) must equal bit for bit: for
/// tests. Returns `false` (nothing written) where there is no such kernel or the CPU lacks
/// VNNI. Panics on a length mismatch.
#[doc(hidden)]
pub fn vec_dot_rows_vnni_per_row(
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    out: &mut [f32],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if Isa::Avx512Vnni.supported() {
        if let Some(k) = super::table_x86::vnni_rows_reference(ty) {
            let rb = row_bytes("vec_dot_rows_vnni_per_row", ty, n);
            assert_eq!(w_rows.len(), rb * out.len());
            assert_eq!(
                a.len(),
                row_bytes("vec_dot_rows_vnni_per_row", vec_dot_type(ty), n)
            );
            // SAFETY: VNNI is supported (checked above); the kernel bounds-checks.
            unsafe { k(w_rows, a, out) };
            return true;
        }
    }
    let _ = (ty, n, w_rows, a, out);
    false
}

/// Tokens `t0..t0 + width` of k-quant weights (Q4_K, Q5_K, Q6_K; `a`: all the Q8_K
/// activation rows).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn kquants(
    ty: GgmlType,
    w_rows: &[u8],
    n: usize,
    a: &[u8],
    t0: usize,
    width: usize,
    o: &mut [f32],
    ld: usize,
    pf: usize,
) {
    use super::x86_64::avx512_kquants::{k4_rows_tokens, q6_k_rows_tokens};
    use crate::formats::{q4_k::BlockQ4K, q5_k::BlockQ5K, q8_k::BlockQ8K};
    let nb = n / 256;
    let ab = nb * std::mem::size_of::<BlockQ8K>();
    let tok = |j: usize| -> &[BlockQ8K] { cast_blocks(&a[(t0 + j) * ab..(t0 + j + 1) * ab]) };
    macro_rules! call {
        ($($k:literal)*) => {
            // SAFETY (each call): the tables' key proves the VNNI tier; the kernels
            // bounds-check their slices.
            match (ty, width) {
                $(
                    (GgmlType::Q4K, $k) => unsafe {
                        k4_rows_tokens::<BlockQ4K, $k>(
                            cast_blocks(w_rows), nb, std::array::from_fn(tok), o, ld, pf,
                        )
                    },
                    (GgmlType::Q5K, $k) => unsafe {
                        k4_rows_tokens::<BlockQ5K, $k>(
                            cast_blocks(w_rows), nb, std::array::from_fn(tok), o, ld, pf,
                        )
                    },
                    (GgmlType::Q6K, $k) => unsafe {
                        q6_k_rows_tokens::<$k>(
                            cast_blocks(w_rows), nb, std::array::from_fn(tok), o, ld, pf,
                        )
                    },
                )*
                _ => unreachable!("no k-quant rowwise kernel for {ty} × {width}"),
            }
        };
    }
    call!(1 2 3 4 5 6 7 8)
}
