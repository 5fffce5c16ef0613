//! The attention inner loop: a group of query rows (some tokens × the query heads of one KV
//! head) against runs of cached keys, a tile of keys at a time, with an online softmax.
//!
//! Each tile's keys and values are read from the cache once and dequantized to f32 into
//! per-thread scratch, then used by every query row of the task: the query heads of a KV
//! group (4 for Gemma 3) and, during prefill, several consecutive tokens. Scores come from
//! the f32 4-key × 2-row dot kernel. The result is unnormalized (`o`, running max `m`,
//! running sum `l` per row), so a key range split across tasks can be merged exactly.

use std::cell::RefCell;

use wren_kernels::ops;

use crate::kv::LayerCache;

/// Byte budget of one dequantized tile of keys (and of values, and their packed copy):
/// 16 KiB each, so the three stay close to L1.
const TILE_BYTES: usize = 16 * 1024;

/// Keys per tile for a head size.
pub(super) fn tile_keys(hd: usize) -> usize {
    (TILE_BYTES / (4 * hd)).clamp(4, 256) / 4 * 4
}

/// The query rows of one task: `n_tok` consecutive tokens from position `pos0`, `g` heads
/// each; row `i·g + j` is head `j` of token `i`, at `q[i·stride + j·hd ..][..hd]`.
pub(super) struct Queries<'a> {
    pub q: &'a [f32],
    pub stride: usize,
    pub n_tok: usize,
    pub g: usize,
    pub hd: usize,
    pub pos0: usize,
    /// Keys at distance `>= window` are masked.
    pub window: Option<usize>,
}

impl Queries<'_> {
    fn row(&self, r: usize) -> &[f32] {
        let (i, j) = (r / self.g, r % self.g);
        let at = i * self.stride + j * self.hd;
        &self.q[at..at + self.hd]
    }

    /// Keys token `i` may see: `lo..hi`.
    fn visible(&self, i: usize) -> (usize, usize) {
        let pos = self.pos0 + i;
        let lo = self.window.map_or(0, |w| (pos + 1).saturating_sub(w));
        (lo, pos + 1)
    }
}

/// Where a task writes: `o` (`[rows, hd]`), then `m` and `l` (`[rows]` each), for at most
/// `max_rows` rows.
pub(super) fn part_len(max_rows: usize, hd: usize) -> usize {
    max_rows * (hd + 2)
}

#[derive(Default)]
struct Scratch {
    /// Keys of the tile, `[t, hd]`.
    kt: Vec<f32>,
    /// Values of the tile, `[t, hd]`, then packed for the panel kernel: `[hd/16, t, 16]`.
    vt: Vec<f32>,
    vp: Vec<f32>,
    /// Probabilities, `[rows, t]` (zero where a key is masked for the row).
    s: Vec<f32>,
    /// A zero row standing in for missing query rows in a 6-row panel product.
    zero: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs the rows of `qs` over the keys of KV head `kvh` at the positions of `segs`
/// (ascending, disjoint ranges), writing the unnormalized result to `part` (laid out for
/// `max_rows` rows, see [`part_len`]).
pub(super) fn run(
    qs: &Queries<'_>,
    cache: &LayerCache,
    kvh: usize,
    segs: &[(usize, usize)],
    max_rows: usize,
    part: &mut [f32],
) {
    let hd = qs.hd;
    let rows = qs.n_tok * qs.g;
    let (o, ml) = part.split_at_mut(max_rows * hd);
    let (m, l) = ml.split_at_mut(max_rows);
    o[..rows * hd].fill(0.0);
    m[..rows].fill(f32::NEG_INFINITY);
    l[..rows].fill(0.0);
    if qs.n_tok == 1 && ops::attn_supported(cache.ty().ggml(), hd) {
        let mut acc = Acc { o, m, l };
        SCRATCH.with(|sc| run_fused(qs, cache, kvh, segs, &mut sc.borrow_mut().s, &mut acc));
        return;
    }
    let t = tile_keys(hd);
    SCRATCH.with(|sc| {
        let sc = &mut *sc.borrow_mut();
        sc.kt.resize(t * hd, 0.0);
        sc.vt.resize(t * hd, 0.0);
        sc.vp.resize(t * hd.next_multiple_of(ops::PANEL_ROWS), 0.0);
        sc.s.resize(rows.max(ops::PANEL_TOKENS) * t, 0.0);
        sc.zero.resize(t, 0.0);
        let mut acc = Acc { o, m, l };
        for &(a, b) in segs {
            let mut p = a;
            while p < b {
                // A tile never wraps around a ring.
                let nt = cache.contiguous(p, (b - p).min(t));
                tile(qs, cache, kvh, p, nt, sc, &mut acc);
                p += nt;
            }
        }
    });
}

/// Keys per step of [`run_fused`].
const FUSED_TILE: usize = 64;

/// One token's query rows (the `g` heads of a KV group, contiguous) over the keys of
/// `segs`, reading keys and values in the cache's format without a dequantized copy: the
/// decode path, where there is no second token to share a dequantized tile with.
fn run_fused(
    qs: &Queries<'_>,
    cache: &LayerCache,
    kvh: usize,
    segs: &[(usize, usize)],
    s: &mut Vec<f32>,
    acc: &mut Acc<'_>,
) {
    let (hd, rows) = (qs.hd, qs.g);
    let ty = cache.ty().ggml();
    let q = &qs.q[..rows * hd];
    let (lo, hi) = qs.visible(0);
    const T: usize = FUSED_TILE;
    s.resize(rows * T, 0.0);
    // The runs of at most T keys (contiguous slots) that the token sees.
    let mut runs = segs
        .iter()
        .flat_map(|&(a, b)| {
            let (mut p, b) = (a.max(lo), b.min(hi));
            std::iter::from_fn(move || {
                (p < b).then(|| {
                    let nt = cache.contiguous(p, (b - p).min(T));
                    p += nt;
                    (cache.slot(p - nt), nt)
                })
            })
        })
        .peekable();
    while let Some((slot, nt)) = runs.next() {
        // The values are read in column strips (32 or 16 wide) across all rows of the
        // run: ask for them in L1 now, while the scores read the keys; and for the next
        // run's keys and values in L2, so that they arrive while this run is computed (the
        // runs a sparse layer selects are scattered, out of the hardware prefetcher's reach).
        ops::attn_prefetch(cache.v_rows(kvh, slot, nt), true);
        if let Some(&(s2, n2)) = runs.peek() {
            ops::attn_prefetch(cache.k_rows(kvh, s2, n2), false);
            ops::attn_prefetch(cache.v_rows(kvh, s2, n2), false);
        }
        ops::attn_scores(ty, cache.k_rows(kvh, slot, nt), nt, hd, q, rows, s, T);
        for r in 0..rows {
            let o = &mut acc.o[r * hd..(r + 1) * hd];
            softmax_step(&mut s[r * T..r * T + nt], &mut acc.m[r], &mut acc.l[r], o);
        }
        let o = &mut acc.o[..rows * hd];
        ops::attn_values(ty, cache.v_rows(kvh, slot, nt), nt, hd, s, T, rows, o);
    }
}

/// The online-softmax update for one row and a run of its scores `s`: `s` becomes
/// `exp(s − m_new)`, and `o`, `l` are rescaled by `exp(m − m_new)` before `l` takes the
/// new sum.
fn softmax_step(s: &mut [f32], m: &mut f32, l: &mut f32, o: &mut [f32]) {
    let mt = s.iter().fold(f32::NEG_INFINITY, |x, &y| x.max(y));
    let m_new = m.max(mt);
    if *m < m_new {
        if *l > 0.0 {
            let c = ops::exp(*m - m_new);
            *l *= c;
            o.iter_mut().for_each(|x| *x *= c);
        }
        *m = m_new;
    }
    *l += ops::exp_sub_sum(s, m_new);
}

struct Acc<'a> {
    o: &'a mut [f32],
    m: &'a mut [f32],
    l: &'a mut [f32],
}

/// One tile: keys at positions `p0..p0+nt` (contiguous slots).
fn tile(
    qs: &Queries<'_>,
    cache: &LayerCache,
    kvh: usize,
    p0: usize,
    nt: usize,
    sc: &mut Scratch,
    acc: &mut Acc<'_>,
) {
    let (hd, g) = (qs.hd, qs.g);
    let t = tile_keys(hd);
    // Each token's visible keys within the tile, as tile indices.
    let span = |i: usize| {
        let (lo, hi) = qs.visible(i);
        let a = lo.max(p0).min(p0 + nt) - p0;
        let b = hi.max(p0).min(p0 + nt) - p0;
        (a, b)
    };
    if (0..qs.n_tok).all(|i| {
        let (a, b) = span(i);
        a >= b
    }) {
        return;
    }
    let ty = cache.ty().ggml();
    let slot = cache.slot(p0);
    let kt = &mut sc.kt[..nt * hd];
    wren_kernels::dequantize_row(ty, cache.k_rows(kvh, slot, nt), kt);
    let kt = &sc.kt[..nt * hd];
    let key = |j: usize| &kt[j * hd..(j + 1) * hd];

    // Scores of every row against its visible keys, then the online-softmax update:
    // s becomes exp(s − m_new) (0 where masked), o and l are rescaled by exp(m_old − m_new).
    for i in 0..qs.n_tok {
        let (a, b) = span(i);
        let r0 = i * g;
        if a >= b {
            sc.s[r0 * t..(r0 + g) * t].fill(0.0);
            continue;
        }
        let mut r = r0;
        while r < r0 + g {
            let pair = r + 1 < r0 + g;
            let (x0, x1) = (qs.row(r), qs.row(if pair { r + 1 } else { r }));
            let mut j = a;
            while j + 4 <= b {
                let d = ops::dot_4x2([key(j), key(j + 1), key(j + 2), key(j + 3)], [x0, x1], hd);
                sc.s[r * t + j..r * t + j + 4].copy_from_slice(&d[0]);
                if pair {
                    sc.s[(r + 1) * t + j..(r + 1) * t + j + 4].copy_from_slice(&d[1]);
                }
                j += 4;
            }
            for j in j..b {
                sc.s[r * t + j] = ops::dot(x0, key(j));
                if pair {
                    sc.s[(r + 1) * t + j] = ops::dot(x1, key(j));
                }
            }
            r += if pair { 2 } else { 1 };
        }
        for r in r0..r0 + g {
            let row = &mut sc.s[r * t..r * t + nt];
            row[..a].fill(0.0);
            row[b..].fill(0.0);
            let o = &mut acc.o[r * hd..(r + 1) * hd];
            softmax_step(&mut row[a..b], &mut acc.m[r], &mut acc.l[r], o);
        }
    }
    accumulate_values(qs, cache, kvh, slot, nt, sc, acc);
}

/// `o[r] += Σ_j s[r][j] · v_j` for every row: the tile's values are packed 16 columns at
/// a time and multiplied with 6 rows of probabilities per panel-kernel call, so each value
/// is loaded once per 6 rows and the sums stay in registers.
fn accumulate_values(
    qs: &Queries<'_>,
    cache: &LayerCache,
    kvh: usize,
    slot: usize,
    nt: usize,
    sc: &mut Scratch,
    acc: &mut Acc<'_>,
) {
    const R: usize = ops::PANEL_ROWS;
    const X: usize = ops::PANEL_TOKENS;
    let hd = qs.hd;
    let t = tile_keys(hd);
    let rows = qs.n_tok * qs.g;
    let vt = &mut sc.vt[..nt * hd];
    wren_kernels::dequantize_row(cache.ty().ggml(), cache.v_rows(kvh, slot, nt), vt);
    // Pack: vp[c][j][0..16] = v_j[16c .. 16c+16] (zero-padded past hd).
    let panels = hd.div_ceil(R);
    for j in 0..nt {
        for (c, src) in sc.vt[j * hd..(j + 1) * hd].chunks(R).enumerate() {
            let at = (c * nt + j) * R;
            let dst: &mut [f32; R] = (&mut sc.vp[at..at + R]).try_into().expect("16 floats");
            match <&[f32; R]>::try_from(src) {
                Ok(full) => *dst = *full,
                Err(_) => {
                    dst.fill(0.0);
                    dst[..src.len()].copy_from_slice(src);
                }
            }
        }
    }
    let mut r0 = 0;
    while r0 < rows {
        // Six probability rows per call: the last group overlaps the previous one (its
        // repeated rows are not added twice), or is padded with zero rows.
        let base = if rows >= X { r0.min(rows - X) } else { 0 };
        let x: [&[f32]; X] = std::array::from_fn(|i| {
            let r = base + i;
            if r < rows {
                &sc.s[r * t..r * t + nt]
            } else {
                &sc.zero[..nt]
            }
        });
        for c in 0..panels {
            let w = R.min(hd - c * R);
            let prod = ops::gemm_panel_16x6(&sc.vp[c * nt * R..(c + 1) * nt * R], x, nt);
            for (i, p) in prod.iter().enumerate() {
                let r = base + i;
                if r < r0 || r >= rows {
                    continue;
                }
                let o = &mut acc.o[r * hd + c * R..r * hd + c * R + w];
                for (y, v) in o.iter_mut().zip(p) {
                    *y += v;
                }
            }
        }
        r0 = base + X;
    }
}
