//! Activation tables of the multi-token kernels ([`super::multi`], [`super::packed`]),
//! laid out once per matrix product: [`TokenTables`].
//!
//! A batched decode step multiplies every weight matrix with the same few activation rows.
//! The kernels want those rows rearranged (quants token-interleaved per block, scales
//! broadcast, offset terms summed). Built per task, that rearranging cost as much as a
//! small matrix's share of the products; built once and shared read-only by every task of
//! the product, it is paid once.
//!
//! Two layouts: the AVX2 kernels' (`yq`, `tab`, `gt`: one token's block per register),
//! and at the AVX-512 VNNI tier the token-lane layout of `x86_64::avx512_multi` (`vq`,
//! `vd`, `vo`, and `vs` for Q4_1/Q5_1) and `x86_64::avx512_multi_k` (`kq`, `kb`, `kd`),
//! where a register's lanes are the tokens. The 32-element layouts take Q8_0 activations
//! (Q8_0, Q4_0, Q5_0 weights) and Q8_1 ones (Q4_1, Q5_1): the same quants and scales, and
//! for Q8_1 its stored `s = d·Σq` as the offset term.

use super::packed::Packing;
use super::quant::Proven;
use super::Isa;
use crate::formats::f16::F16Le;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;
use crate::formats::q8_k::BlockQ8K;
use crate::formats::{cast_blocks, vec_dot_type, Block};
use crate::GgmlType;

/// Most tokens one kernel call multiplies at once.
pub const MAX_TOKENS: usize = 8;
/// f32 of activation tables per block and token group: broadcast scales, then offset terms.
pub(super) const TAB: usize = MAX_TOKENS * 8 + 8;

/// What a set of tables was prepared for: weights of `ty` (repacked as `packing`), rows of
/// `n`, `tokens` activation rows of `bytes` bytes in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    ty: GgmlType,
    packing: Option<Packing>,
    n: usize,
    tokens: usize,
    bytes: usize,
}

/// Activation rows laid out for the multi-token kernels of one weight format.
///
/// [`TokenTables::prepare`] fills them from the activation rows; the `*_prepared` products
/// ([`super::multi::vec_dot_rows_tokens_prepared`],
/// [`super::packed::packed_rows_tokens_prepared`]) then read them, from any thread. The
/// vectors are kept between uses, so one value per matrix-product scratch allocates only
/// while it grows.
#[derive(Debug, Default)]
pub struct TokenTables {
    key: Option<Key>,
    /// Whether a multi-token kernel applies (tier, format, and for Q8_0 at the AVX2 tier
    /// no `-128` quant).
    usable: bool,
    /// Whether the tables are the AVX-512 VNNI layout (`vq`, `vd`, `vo`) instead of the
    /// AVX2 one (`yq`, `tab`, `gt`).
    vnni: bool,
    /// Quants `[token group][block][token]`.
    pub(super) yq: Vec<[u8; 32]>,
    /// Per token group (`nb · TAB` f32): scales `[block][token][8 lanes]`, then offset
    /// terms `[block][lane of 8]`.
    pub(super) tab: Vec<f32>,
    /// Packed kernels: per token group, weight group of four blocks and token, the four
    /// block scales twice (`[d0 d1 d2 d3 d0 d1 d2 d3]`).
    pub(super) gt: Vec<f32>,
    /// Q5_0×4 kernel: per token group, weight group and token, the offset terms `16·Σy`
    /// of the four blocks' 16-element halves (`avx2_q5_0x4::reduce4`'s lane order).
    pub(super) go: Vec<[i32; 8]>,
    /// VNNI layout (`x86_64::avx512_multi`): per token group, block and group of four
    /// quants, the eight tokens' four quants side by side.
    pub(super) vq: Vec<[u8; 64]>,
    /// VNNI layout: per token group and block, the tokens' scales (0 in unused lanes).
    pub(super) vd: Vec<[f32; 16]>,
    /// VNNI layout: per token group and block, `−o·Σ y` per token (`o` the weight offset).
    pub(super) vo: Vec<[i32; 16]>,
    /// VNNI layout, Q4_1/Q5_1 only: per token group and block, the tokens' Q8_1 `s`
    /// (`d·Σ y`, which the weights' `m` multiplies); empty for the other formats.
    pub(super) vs: Vec<[f32; 16]>,
    /// VNNI k-quant layout (`x86_64::avx512_multi_k`): per token group, super-block and
    /// group of four quants, the eight tokens' four quants side by side.
    pub(super) kq: Vec<[u8; 32]>,
    /// VNNI k-quant layout: per token group, super-block and pair of 16-element groups,
    /// each token's two group sums as an i16 pair.
    pub(super) kb: Vec<[i32; 8]>,
    /// VNNI k-quant layout: per token group and super-block, the tokens' scales.
    pub(super) kd: Vec<[f32; 8]>,
}

impl TokenTables {
    pub const fn new() -> TokenTables {
        TokenTables {
            key: None,
            usable: false,
            vnni: false,
            yq: Vec::new(),
            tab: Vec::new(),
            gt: Vec::new(),
            go: Vec::new(),
            vq: Vec::new(),
            vd: Vec::new(),
            vo: Vec::new(),
            vs: Vec::new(),
            kq: Vec::new(),
            kb: Vec::new(),
            kd: Vec::new(),
        }
    }

    /// Prepares the tables for `tokens` rows `a` of [`vec_dot_type`]`(ty)` against weight
    /// rows of `n` elements of `ty`, repacked as `packing` if given, at this process's tier.
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
        let ab = match vec_dot_type(ty).row_bytes(n as u64) {
            Some(b) => b as usize,
            None => panic!("token tables: {n} is not whole {ty} blocks"),
        };
        assert_eq!(
            a.len(),
            tokens * ab,
            "token tables: activations are not {tokens} rows of {n}"
        );
        if let Some(p) = packing {
            assert_eq!(
                p.stock(),
                ty,
                "token tables: {} does not pack {ty}",
                p.name()
            );
        }
        self.key = Some(Key {
            ty,
            packing,
            n,
            tokens,
            bytes: a.len(),
        });
        self.usable = false;
        self.vnni = false;
        let kquant = matches!(ty, GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K);
        if kquant && t.0.at_least(Isa::Avx512Vnni) && packing.is_none() && tokens > 0 {
            fill_vnni_k(
                a,
                ab,
                tokens,
                n / 256,
                &mut self.kq,
                &mut self.kb,
                &mut self.kd,
            );
            self.usable = true;
            self.vnni = true;
            return;
        }
        // The weights' zero point (0 for Q4_1/Q5_1, whose offset `m` meets Q8_1's `s`).
        let offset = match (ty, packing) {
            (GgmlType::Q8_0, _) => Some(0),
            (GgmlType::Q4_0, None) => Some(8),
            (GgmlType::Q5_0, _) => Some(16),
            (GgmlType::Q4_1 | GgmlType::Q5_1, None) => Some(0),
            _ => None,
        };
        let Some(offset) = offset else { return };
        if !t.0.at_least(Isa::Avx2) || tokens == 0 {
            return;
        }
        let q8_1 = vec_dot_type(ty) == GgmlType::Q8_1;
        if t.0.at_least(Isa::Avx512Vnni) && packing.is_none() {
            // Q8_0's offset makes its signed quants unsigned (`w + 128`).
            let o = if ty == GgmlType::Q8_0 { 128 } else { offset };
            let (vq, vd, vo) = (&mut self.vq, &mut self.vd, &mut self.vo);
            if q8_1 {
                fill_vnni::<BlockQ8_1>(a, ab, tokens, n / 32, o, vq, vd, vo, Some(&mut self.vs));
            } else {
                fill_vnni::<BlockQ8_0>(a, ab, tokens, n / 32, o, vq, vd, vo, None);
            }
            self.usable = true;
            self.vnni = true;
            return;
        }
        if ty == GgmlType::Q8_0 && a.chunks_exact(ab).any(|y| has_min(t, y)) {
            return;
        }
        self.usable = true;
        if let Some(p) = packing {
            let (yq, gt, go) = (&mut self.yq, &mut self.gt, &mut self.go);
            packed_tables(a, ab, tokens, n, p == Packing::Q5_0x4, yq, gt, go);
            return;
        }
        let nb = n / 32;
        if q8_1 {
            fill::<BlockQ8_1>(a, ab, tokens, nb, offset, &mut self.yq, &mut self.tab);
        } else {
            fill::<BlockQ8_0>(a, ab, tokens, nb, offset, &mut self.yq, &mut self.tab);
        }
    }

    /// Whether the tables were prepared for exactly this product, and a multi-token kernel
    /// applies. Panics if they were prepared for another one (a caller bug that would
    /// otherwise give wrong numbers).
    pub(super) fn usable_for(
        &self,
        ty: GgmlType,
        packing: Option<Packing>,
        n: usize,
        a: &[u8],
        tokens: usize,
    ) -> bool {
        let want = Key {
            ty,
            packing,
            n,
            tokens,
            bytes: a.len(),
        };
        assert_eq!(
            self.key,
            Some(want),
            "token tables prepared for another product"
        );
        self.usable
    }

    /// Whether the tables are the AVX-512 VNNI layout.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(super) fn vnni(&self) -> bool {
        self.vnni
    }
}

/// Whether an activation row holds a `-128` quant (the Q8_0 sign trick is inexact there).
fn has_min(t: Proven, y: &[u8]) -> bool {
    let y: &[BlockQ8_0] = cast_blocks(y);
    #[cfg(target_arch = "x86_64")]
    if t.0.at_least(Isa::Avx2) {
        // SAFETY: `t` proves at least the AVX2 tier.
        return unsafe { super::x86_64::avx2_quant::q8_0_has_min(y) };
    }
    let _ = t;
    y.iter().any(|b| b.qs.contains(&0x80))
}

/// A 32-element activation block: Q8_0, or Q8_1 with its stored `s = d·Σq`.
trait Act: Block {
    fn qs(&self) -> &[u8; 32];
    fn d(&self) -> F16Le;
    /// Q8_1's `s`; `None` for Q8_0.
    fn s(&self) -> Option<F16Le>;
}

impl Act for BlockQ8_0 {
    fn qs(&self) -> &[u8; 32] {
        &self.qs
    }
    fn d(&self) -> F16Le {
        self.d
    }
    fn s(&self) -> Option<F16Le> {
        None
    }
}

impl Act for BlockQ8_1 {
    fn qs(&self) -> &[u8; 32] {
        &self.qs
    }
    fn d(&self) -> F16Le {
        self.d
    }
    fn s(&self) -> Option<F16Le> {
        Some(self.s)
    }
}

/// Quants and scale/offset tables (see [`TokenTables`]) for `tokens` Q8_0 or Q8_1 rows of
/// `nb` blocks, with offset `offset` (the unsigned weight formats' zero point; Q8_1 rows
/// have none and give `−s` as their offset term, see `x86_64::avx2_multi`).
fn fill<B: Act>(
    a: &[u8],
    ab: usize,
    tokens: usize,
    nb: usize,
    offset: i32,
    yq: &mut Vec<[u8; 32]>,
    tab: &mut Vec<f32>,
) {
    let ys = || a.chunks_exact(ab).map(cast_blocks::<B>);
    let groups = tokens.div_ceil(MAX_TOKENS);
    yq.clear();
    yq.resize(tokens * nb, [0; 32]);
    tab.clear();
    tab.resize(groups * nb * TAB, 0.0);
    let parts = yq.chunks_mut(MAX_TOKENS * nb).zip(tab.chunks_mut(nb * TAB));
    for (g, (qg, tg)) in parts.enumerate() {
        let width = qg.len() / nb;
        let (dy, sy) = tg.split_at_mut(nb * MAX_TOKENS * 8);
        for (lane, y) in ys().skip(g * MAX_TOKENS).take(width).enumerate() {
            for (b, blk) in y.iter().enumerate() {
                qg[b * width + lane] = *blk.qs();
                let d = blk.d().to_f32();
                dy[(b * width + lane) * 8..][..8].fill(d);
                if let Some(s) = blk.s() {
                    sy[b * 8 + lane] = -s.to_f32();
                } else if offset != 0 {
                    let s: i32 = blk.qs().iter().map(|&q| q as i8 as i32).sum();
                    sy[b * 8 + lane] = (offset * s) as f32 * d;
                }
            }
        }
    }
}

/// The VNNI layout (see [`TokenTables`] and `x86_64::avx512_multi`) for `tokens` Q8_0 or
/// Q8_1 rows of `nb` blocks against weights offset by `offset`; for Q8_1 rows also their
/// `s` into `vs` (which must then be given).
#[allow(clippy::too_many_arguments)]
fn fill_vnni<B: Act>(
    a: &[u8],
    ab: usize,
    tokens: usize,
    nb: usize,
    offset: i32,
    vq: &mut Vec<[u8; 64]>,
    vd: &mut Vec<[f32; 16]>,
    vo: &mut Vec<[i32; 16]>,
    mut vs: Option<&mut Vec<[f32; 16]>>,
) {
    let groups = tokens.div_ceil(MAX_TOKENS);
    vq.clear();
    vq.resize(groups * nb * 8, [0; 64]);
    vd.clear();
    vd.resize(groups * nb, [0.0; 16]);
    vo.clear();
    vo.resize(groups * nb, [0; 16]);
    if let Some(vs) = vs.as_deref_mut() {
        vs.clear();
        vs.resize(groups * nb, [0.0; 16]);
    }
    for (i, y) in a.chunks_exact(ab).map(cast_blocks::<B>).enumerate() {
        let (g, t) = (i / MAX_TOKENS, i % MAX_TOKENS);
        for (b, blk) in y.iter().enumerate() {
            let at = g * nb + b;
            let qs = blk.qs();
            let s: i32 = qs.iter().map(|&q| q as i8 as i32).sum();
            // Each token twice: lanes 2t and 2t + 1 (a pair of weight rows).
            for (j, row) in vq[at * 8..at * 8 + 8].iter_mut().enumerate() {
                let four = &qs[4 * j..4 * j + 4];
                row[8 * t..8 * t + 4].copy_from_slice(four);
                row[8 * t + 4..8 * t + 8].copy_from_slice(four);
            }
            let d = blk.d().to_f32();
            vd[at][2 * t..2 * t + 2].fill(d);
            vo[at][2 * t..2 * t + 2].fill(-offset * s);
            if let (Some(vs), Some(s)) = (vs.as_deref_mut(), blk.s()) {
                vs[at][2 * t..2 * t + 2].fill(s.to_f32());
            }
        }
    }
}

/// The VNNI k-quant layout (see [`TokenTables`] and `x86_64::avx512_multi_k`) for
/// `tokens` Q8_K rows of `nb` super-blocks.
fn fill_vnni_k(
    a: &[u8],
    ab: usize,
    tokens: usize,
    nb: usize,
    kq: &mut Vec<[u8; 32]>,
    kb: &mut Vec<[i32; 8]>,
    kd: &mut Vec<[f32; 8]>,
) {
    let groups = tokens.div_ceil(MAX_TOKENS);
    kq.clear();
    kq.resize(groups * nb * 64, [0; 32]);
    kb.clear();
    kb.resize(groups * nb * 8, [0; 8]);
    kd.clear();
    kd.resize(groups * nb, [0.0; 8]);
    for (i, y) in a.chunks_exact(ab).map(cast_blocks::<BlockQ8K>).enumerate() {
        let (g, t) = (i / MAX_TOKENS, i % MAX_TOKENS);
        for (b, blk) in y.iter().enumerate() {
            let at = g * nb + b;
            for j in 0..64 {
                kq[at * 64 + j][4 * t..4 * t + 4].copy_from_slice(&blk.qs[4 * j..4 * j + 4]);
            }
            for m in 0..8 {
                let [l0, h0] = blk.bsums[2 * m];
                let [l1, h1] = blk.bsums[2 * m + 1];
                kb[at * 8 + m][t] = i32::from_le_bytes([l0, h0, l1, h1]);
            }
            kd[at][t] = blk.d();
        }
    }
}

/// The packed kernels' tables (`super::packed`) for `tokens` Q8_0 rows `a` (`ab` bytes
/// each) of `n` elements: the quants laid out as [`fill`] lays them out (`yq`), and per
/// token group of [`MAX_TOKENS`], weight group of four blocks (a Q8_0×4 row's tail group
/// of 1–3 too) and token, the group's block scales twice (`gt`: `[d0 d1 d2 d3 d0 d1 d2
/// d3]`, the lane order of `avx2_q5_0x4::reduce4`, zeros past a tail's blocks) and, with
/// `offsets` (Q5_0×4), the [`group_offsets`] of offset 16 (`go`; else empty). One token's
/// tables are the one-token product's.
#[allow(clippy::too_many_arguments)]
pub(super) fn packed_tables(
    a: &[u8],
    ab: usize,
    tokens: usize,
    n: usize,
    offsets: bool,
    yq: &mut Vec<[u8; 32]>,
    gt: &mut Vec<f32>,
    go: &mut Vec<[i32; 8]>,
) {
    // A Q8_0×4 row's tail group of 1–3 blocks has a table group of its own.
    let (nb, ng) = (n / 32, (n / 32).div_ceil(4));
    yq.clear();
    yq.resize(tokens * nb, [0; 32]);
    gt.clear();
    gt.resize(tokens * ng * 8, 0.0);
    go.clear();
    if offsets {
        go.resize(tokens * ng, [0; 8]);
    }
    for (i, y) in a.chunks_exact(ab).map(cast_blocks::<BlockQ8_0>).enumerate() {
        let (g8, lane) = (i / MAX_TOKENS, i % MAX_TOKENS);
        let width = MAX_TOKENS.min(tokens - g8 * MAX_TOKENS);
        for (b, blk) in y.iter().enumerate() {
            yq[g8 * MAX_TOKENS * nb + b * width + lane] = blk.qs;
        }
        for (g, ys) in y.chunks(4).enumerate() {
            let at = g8 * ng * MAX_TOKENS + g * width + lane;
            for (k, blk) in ys.iter().enumerate() {
                let d = blk.d.to_f32();
                gt[8 * at + k] = d;
                gt[8 * at + 4 + k] = d;
            }
            if offsets {
                go[at] = group_offsets(ys, 16);
            }
        }
    }
}

/// `o·Σy` over each 16-element half of four consecutive activation blocks, in
/// `avx2_q5_0x4::reduce4`'s lane order: `[block 0..4, first halves; block 0..4, second
/// halves]`. The Q5_0×4 kernel subtracts it from the integer block sums.
fn group_offsets(ys: &[BlockQ8_0], o: i32) -> [i32; 8] {
    std::array::from_fn(|l| {
        let half = &ys[l % 4].qs[16 * (l / 4)..][..16];
        o * half.iter().map(|&q| q as i8 as i32).sum::<i32>()
    })
}
