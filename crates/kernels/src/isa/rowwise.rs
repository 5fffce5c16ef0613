//! Several activation rows against the same weight rows, each (row, token) result
//! **bit-identical** to the one-token product [`super::vec_dot_rows`] of this tier: what
//! speculative verification needs (its rows must be the logits plain decoding computes),
//! at a fraction of one-token products' cost per extra token.
//!
//! Where the one-token kernel has the batched kernel's arithmetic (the 32-element formats
//! at the VNNI tier, `x86_64::avx512_lanes`), the product is the batched one
//! ([`super::multi`]). Elsewhere the batched kernels sum in another order, and the kernels
//! here follow the one-token kernel's order exactly (same lanes, same FMA chain, same
//! horizontal reduction), sharing only what does not change a bit: the weight loads and
//! unpacking. Formats or tiers without either run the one-token kernel per token
//! ([`vec_dot_rows_rowwise`] is then exactly that loop).
//!
//! | format · activation | avx512-vnni | avx2, avx512 |
//! |---|---|---|
//! | Q8_0, Q4_0, Q5_0 · Q8_0; Q4_1, Q5_1 · Q8_1 | the batched kernel, `x86_64::avx512_multi::rows_vnni` (up to 8 tokens per weight load) | Q4_1: `x86_64::avx2_lanes` (the one-token kernel itself, up to 8 tokens per unpacked block); Q8_0 (stock blocks): `x86_64::avx2_rowwise` (4 tokens per unpacked block; tokens holding `-128` run the one-token kernel, whose exact path they take) |
//! | Q6_K · Q8_K | `x86_64::avx512_kquants::q6_k_rows_tokens` (up to 8 tokens per unpacked super-block) | |
//! | Q4_K, Q5_K · Q8_K | `x86_64::avx512_kquants::k4_rows_tokens` (up to 8 tokens per unpacked super-block) | |

#[cfg(target_arch = "x86_64")]
use super::quant::prefetch_bytes;
use super::quant::{row_bytes, rows_checked, Proven};
use super::tables::TokenTables;
use super::{Isa, Packing};
#[cfg(target_arch = "x86_64")]
use crate::formats::cast_blocks;
use crate::formats::vec_dot_type;
use crate::GgmlType;

/// Tokens per kernel call.
pub const ROWWISE_TOKENS: usize = 8;

/// Activation rows laid out once per product for [`vec_dot_rows_rowwise`]; kept between
/// uses (one per matrix-product scratch allocates only while it grows).
#[derive(Debug, Default)]
pub struct RowwiseTables {
    /// What the tables hold: (tier, weight format, packing, row length, tokens); `None`
    /// when no kernel applies (the products then run the one-token kernel per token).
    key: Option<(Isa, GgmlType, Option<Packing>, usize, usize)>,
    /// The batched kernel's tables, for formats and packings whose one-token kernel
    /// shares its arithmetic ([`batched_is_one_token_at`], `packed::batched_is_one_token`).
    multi: TokenTables,
    /// The AVX2 rowwise kernels' tables ([`avx2_has_kernel`]).
    #[cfg(target_arch = "x86_64")]
    avx2: Avx2Tables,
}

/// What `x86_64::avx2_rowwise` needs besides the activation rows: the tokens it serves
/// (`fast`; Q8_0 tokens holding `-128` are `slow`, for the one-token kernel), and their
/// scale table (`avx2_rowwise::scale_table`).
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Default)]
struct Avx2Tables {
    fast: Vec<usize>,
    slow: Vec<usize>,
    ds: Vec<super::x86_64::avx2_rowwise::Scales>,
}

/// Whether at tier `t` the batched product of `ty` (stock layout) gives every (row, token)
/// the one-token kernel's bits: the 32-element formats at the VNNI tier, whose one-token
/// kernel (`x86_64::avx512_lanes`) has the token-lane kernel's arithmetic, and the
/// k-quants below it, whose multi-token kernels (`x86_64::avx2_multi_k`) do each token's
/// float arithmetic as the one-token kernels do (Q6_K's one-token kernel is that kernel
/// for one token).
pub(super) fn batched_is_one_token_at(t: Isa, ty: GgmlType) -> bool {
    if !cfg!(target_arch = "x86_64") || !t.at_least(Isa::Avx2) {
        return false;
    }
    if t.at_least(Isa::Avx512Vnni) {
        matches!(
            ty,
            GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q4_1 | GgmlType::Q5_1
        )
    } else {
        matches!(ty, GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K)
    }
}

/// Whether tier `t` runs `x86_64::avx2_rowwise` for `ty`: the tiers whose one-token
/// kernels of Q4_1 and Q8_0 are the AVX2 ones (`table_x86`: AVX2 and AVX-512 without VNNI).
fn avx2_has_kernel(t: Isa, ty: GgmlType) -> bool {
    cfg!(target_arch = "x86_64")
        && t.at_least(Isa::Avx2)
        && !t.at_least(Isa::Avx512Vnni)
        && matches!(ty, GgmlType::Q4_1 | GgmlType::Q8_0)
}

/// What one more token costs in a rowwise product of `ty` weights (`packing`: repacked at
/// load, `super::packed`) at this process's tier, as a share of a one-token product:
/// the cost model of speculative drafting. Measured single-threaded with
/// `examples/rowwise_bench.rs` on the 2-vCPU test VMs (Intel Xeon at the VNNI tier, AMD
/// Zen 3 at AVX2), rounded up:
/// - the batched kernel of the 32-element formats (VNNI): 8 tokens ≈ 2.1 one-token
///   products, 0.15 per token;
/// - the k-quants' VNNI kernels: 8 tokens ≈ 3.8, 0.4;
/// - AVX2 Q4_1 (`avx2_lanes`), compute-bound per token: 8 tokens ≈ 4.6, 0.5; AVX2 Q8_0
///   (`avx2_rowwise`): 8 tokens ≈ 5.9, 0.7;
/// - the AVX2 batched kernels whose one-token product is the same kernel: Q8_0×4 rows
///   streamed from memory as an output head's, 8 tokens ≈ 3.8; Q5_0×4, 8 tokens ≈ 3.3;
///   Q5_K and Q6_K (`avx2_multi_k`), 8 tokens ≈ 3.5–3.7: 0.4; Q4_K, whose unpacking is
///   cheap beside its per-token work, 8 tokens ≈ 5.1: 0.55;
/// - none (the one-token kernel per token, the weights found in cache after the first):
///   0.75.
pub fn row_cost(ty: GgmlType, packing: Option<Packing>) -> f64 {
    let t = Proven::current().0;
    if packing.is_some() {
        if super::packed::batched_is_one_token(t) {
            0.4
        } else {
            0.75
        }
    } else if batched_is_one_token_at(t, ty) {
        if t.at_least(Isa::Avx512Vnni) {
            0.15
        } else if ty == GgmlType::Q4K {
            0.55
        } else {
            0.4
        }
    } else if avx2_has_kernel(t, ty) {
        if ty == GgmlType::Q4_1 {
            0.5
        } else {
            0.7
        }
    } else if has_kernel(t, ty, None) {
        0.4
    } else {
        0.75
    }
}

/// Whether tier `t` has a rowwise kernel for `ty` weights packed as `packing`.
fn has_kernel(t: Isa, ty: GgmlType, packing: Option<Packing>) -> bool {
    if packing.is_some() {
        return super::packed::batched_is_one_token(t);
    }
    #[cfg(target_arch = "x86_64")]
    if t.at_least(Isa::Avx512Vnni) && matches!(ty, GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K) {
        return true;
    }
    batched_is_one_token_at(t, ty) || avx2_has_kernel(t, ty)
}

impl RowwiseTables {
    pub const fn new() -> RowwiseTables {
        RowwiseTables {
            key: None,
            multi: TokenTables::new(),
            #[cfg(target_arch = "x86_64")]
            avx2: Avx2Tables {
                fast: Vec::new(),
                slow: Vec::new(),
                ds: Vec::new(),
            },
        }
    }

    /// Prepares `tokens` activation rows `a` (of [`vec_dot_type`]`(ty)`, rows of `n`) for
    /// products with `ty` weights (repacked as `packing`, if any) at this process's tier.
    /// Panics if `a` is not `tokens` whole rows.
    pub fn prepare(
        &mut self,
        ty: GgmlType,
        packing: Option<Packing>,
        n: usize,
        a: &[u8],
        tokens: usize,
    ) {
        self.prepare_at(Proven::current(), ty, packing, n, a, tokens)
    }

    pub(super) fn prepare_at(
        &mut self,
        t: Proven,
        ty: GgmlType,
        packing: Option<Packing>,
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
        if !has_kernel(t.0, ty, packing) || n == 0 {
            return;
        }
        self.key = Some((t.0, ty, packing, n, tokens));
        if packing.is_some() {
            self.multi.prepare_at(t, ty, packing, n, a, tokens);
            return;
        }
        // (The k-quants' kernels read the activation rows as they are.)
        if batched_is_one_token_at(t.0, ty) {
            self.multi.prepare_at(t, ty, None, n, a, tokens);
        }
        #[cfg(target_arch = "x86_64")]
        if avx2_has_kernel(t.0, ty) {
            self.avx2.prepare(t, ty, n, a, ab, tokens);
        }
    }

    /// Whether a rowwise kernel serves these tables (else the one-token kernel per token).
    pub fn accelerated(&self) -> bool {
        self.key.is_some()
    }
}

/// `out[t·ld + r]` = [`super::vec_dot_rows`]`(ty, n, row r of w_rows, row t of a)` (for
/// rows repacked as `packing`: [`super::packed_rows`]), bit for bit, for `tokens`
/// activation rows `a` and `tables` from [`RowwiseTables::prepare`] on the same `a` (or
/// unprepared: then the one-token kernel runs per token). Panics on a length mismatch.
#[allow(clippy::too_many_arguments)]
pub fn vec_dot_rows_rowwise(
    ty: GgmlType,
    packing: Option<Packing>,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: &RowwiseTables,
) {
    let t = Proven::current();
    rowwise_checked(t, ty, packing, n, w_rows, a, tokens, out, ld, tables)
}

/// [`vec_dot_rows_rowwise`] at tier `isa`, preparing its own tables (tests, benchmarks).
/// Panics if the CPU does not support `isa`.
#[allow(clippy::too_many_arguments)]
pub fn vec_dot_rows_rowwise_with(
    isa: Isa,
    ty: GgmlType,
    packing: Option<Packing>,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    let t = Proven::checked(isa);
    let mut tables = RowwiseTables::new();
    tables.prepare_at(t, ty, packing, n, a, tokens);
    rowwise_checked(t, ty, packing, n, w_rows, a, tokens, out, ld, &tables)
}

#[allow(clippy::too_many_arguments)]
fn rowwise_checked(
    t: Proven,
    ty: GgmlType,
    packing: Option<Packing>,
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
    let prepared = tables.key == Some((t.0, ty, packing, n, tokens));
    if let Some(p) = packing {
        if prepared {
            super::packed::tokens_checked(t, p, n, w_rows, a, tokens, out, ld, Some(&tables.multi));
        } else {
            for tk in 0..tokens {
                let o = &mut out[tk * ld..tk * ld + rows];
                super::packed::rows(t, p, n, w_rows, &a[tk * ab..(tk + 1) * ab], o);
            }
        }
        return;
    }
    if prepared && batched_is_one_token_at(t.0, ty) {
        super::multi::tokens_checked(t, ty, n, w_rows, a, tokens, out, ld, Some(&tables.multi));
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if prepared {
        if avx2_has_kernel(t.0, ty) {
            tables.avx2.run(ty, n, w_rows, a, out, ld);
            for &tk in &tables.avx2.slow {
                let o = &mut out[tk * ld..tk * ld + rows];
                rows_checked(t, ty, n, w_rows, &a[tk * ab..(tk + 1) * ab], o);
            }
        } else {
            rowwise_x86(ty, n, w_rows, a, tokens, out, ld);
        }
        return;
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

#[cfg(target_arch = "x86_64")]
impl Avx2Tables {
    /// Sorts the `tokens` rows of `a` (`ab` bytes each) into fast and slow ones and lays
    /// out the fast ones' scales (`ty`: Q4_1 or Q8_0, checked by the caller at tier `t`).
    fn prepare(&mut self, t: Proven, ty: GgmlType, n: usize, a: &[u8], ab: usize, tokens: usize) {
        use super::x86_64::avx2_rowwise::scale_table;
        use crate::formats::q8_0::BlockQ8_0;
        debug_assert!(avx2_has_kernel(t.0, ty));
        let nb = n / 32;
        self.fast.clear();
        self.slow.clear();
        if ty == GgmlType::Q8_0 {
            let y: &[BlockQ8_0] = cast_blocks(a);
            for tk in 0..tokens {
                // SAFETY: `t` proves AVX2.
                let min =
                    unsafe { super::x86_64::avx2_quant::q8_0_has_min(&y[tk * nb..(tk + 1) * nb]) };
                if min { &mut self.slow } else { &mut self.fast }.push(tk);
            }
            let d = |tk: usize, b: usize| y[tk * nb + b].d.to_f32();
            scale_table(nb, &self.fast, d, &mut self.ds);
        } else {
            // (Q4_1: the one-token kernel takes its scales from the blocks.)
            self.fast.extend(0..tokens);
        }
        debug_assert_eq!(ab, nb * if ty == GgmlType::Q8_0 { 34 } else { 36 });
    }

    /// The fast tokens' products (`out[t·ld + r]`), checked by the caller.
    fn run(&self, ty: GgmlType, n: usize, w_rows: &[u8], a: &[u8], out: &mut [f32], ld: usize) {
        use super::x86_64::avx2_lanes::{q4_1_rows_tokens, GROUP};
        use super::x86_64::avx2_rowwise::{groups, q8_0_rows};
        use crate::formats::{q4_1::BlockQ4_1, q8_1::BlockQ8_1};
        let nb = n / 32;
        if ty == GgmlType::Q8_0 {
            let (w, y) = (cast_blocks(w_rows), cast_blocks(a));
            // SAFETY: the tables' key proves an AVX2 tier; the kernel bounds-checks.
            unsafe { q8_0_rows(w, nb, y, &self.fast, &self.ds, out, ld) };
            return;
        }
        // Q4_1: groups of tokens through the one-token kernel's eight-row code.
        let (w, y) = (
            cast_blocks::<BlockQ4_1>(w_rows),
            cast_blocks::<BlockQ8_1>(a),
        );
        let tok = |t: usize| &y[t * nb..(t + 1) * nb];
        for (i, g) in groups(self.fast.len(), GROUP).enumerate() {
            let ts = &self.fast[g];
            // The first group streams the weights; the later ones find them cached.
            let pf = if i == 0 { prefetch_bytes() } else { 0 };
            // The group's tokens are consecutive (every token is fast for Q4_1), so the
            // output starts at the first one's row.
            let o = &mut out[ts[0] * ld..];
            macro_rules! width {
                ($($t:literal)*) => {
                    match ts.len() {
                        // SAFETY: the tables' key proves an AVX2 tier; the kernel
                        // bounds-checks its slices.
                        $($t => unsafe {
                            let ys = std::array::from_fn(|i| tok(ts[i]));
                            q4_1_rows_tokens::<$t>(w, nb, ys, o, ld, pf)
                        },)*
                        n => unreachable!("a Q4_1 token group of {n}"),
                    }
                };
            }
            width!(1 2 3 4 5 6 7 8);
        }
    }
}

#[cfg(target_arch = "x86_64")]
const _: () = assert!(super::x86_64::avx2_lanes::GROUP == 8);

/// The VNNI rowwise kernels of the k-quants over token groups of up to
/// [`ROWWISE_TOKENS`] (tables checked by the caller: prepared at a proven VNNI tier for this
/// `ty`, `n` and `tokens`).
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
) {
    let pf0 = prefetch_bytes();
    let mut t0 = 0;
    while t0 < tokens {
        let width = (tokens - t0).min(ROWWISE_TOKENS);
        let o = &mut out[t0 * ld..];
        // The first group streams the weights; the later ones find them cached.
        let pf = if t0 == 0 { pf0 } else { 0 };
        kquants(ty, w_rows, n, a, t0, width, o, ld, pf);
        t0 += width;
    }
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
