//! `y = x · Wᵀ` for a batch of activation rows against a quantized weight matrix.
//!
//! Two arithmetics, chosen per call by [`Compute`]:
//! - **exact**: weight rows are dequantized exactly to f32 (a tile at a time, in per-thread
//!   scratch) and multiplied with f32 activations. This is the spec path.
//! - **quantized**: activations are quantized once to the weight format's partner format
//!   (Q8_0 / Q8_1 / Q8_K, as llama.cpp does) and each output is an integer block dot product.
//!
//! Work is split by output rows across the thread pool; with several tokens each task
//! writes its own token-major stripe of scratch, then copies it into the `[tokens, rows]`
//! output as contiguous runs. [`matmul_many`] runs several matrices with one input in one
//! parallel region.

use std::cell::RefCell;

use rayon::prelude::*;
use wren_kernels::isa::{RowwiseTables, TokenTables};
use wren_kernels::ops;

use crate::tensor::QMatrix;

/// Which arithmetic the matrix products use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compute {
    /// f32 activations, weights dequantized exactly: the reference path.
    Exact,
    /// Activations quantized to 8 bits, integer dot products (llama.cpp's CPU arithmetic).
    Quantized,
    /// Exact for batches of 32 tokens or more (prompts), quantized below (decode).
    Auto,
}

impl Compute {
    pub fn from_name(s: &str) -> Option<Compute> {
        match s {
            "exact" | "f32" => Some(Compute::Exact),
            "quant" | "quantized" => Some(Compute::Quantized),
            "auto" => Some(Compute::Auto),
            _ => None,
        }
    }

    /// The arithmetic a one-token decode step uses: [`Compute::Auto`] resolved for one
    /// token. Speculative verification runs several tokens with it, so that each gets
    /// the logits its own decode step would.
    pub fn for_decode(self) -> Compute {
        if self.quantize_for(1) {
            Compute::Quantized
        } else {
            Compute::Exact
        }
    }

    fn quantize_for(self, tokens: usize) -> bool {
        match self {
            Compute::Exact => false,
            Compute::Quantized => true,
            // Below ~32 rows, dequantizing every weight costs more than quantizing the
            // activations; above, the exact panel kernel is the faster one.
            Compute::Auto => tokens < 32,
        }
    }
}

/// Reusable buffers for [`matmul`]; they grow to the largest batch seen and are then reused.
#[derive(Default)]
pub struct LinearScratch {
    /// Compute every token's row of a several-token product exactly as a one-token product
    /// computes it (the same kernel, the same summation order), bit for bit, while still
    /// reading each chunk of weights from memory once for all the tokens. Speculative
    /// verification sets it, so that its logits are the ones plain decode would produce.
    pub rowwise: bool,
    xq: Vec<u8>,
    yt: Vec<f32>,
    /// Activation tables of the matrices of one [`matmul_many`] call.
    tables: Vec<TokenTables>,
    /// Activation tables of the rowwise kernels, as `tables`.
    rw: Vec<RowwiseTables>,
}

thread_local! {
    /// Per-thread scratch of the exact path: dequantized rows, and the same rows packed.
    static TILE: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Rows of weights dequantized together in the exact path: two 16-row panels, multiplied
/// together (`ops::gemm_panel_32x12`) when the batch is wide enough.
const TILE_ROWS: usize = 2 * ops::PANEL_ROWS;

/// `y[t][r] = Σ_k x[t][k] · W[r][k]` for `t < tokens`, `r < w.rows`.
/// `x` is `[tokens, w.cols]`, `y` is `[tokens, w.rows]`, both row-major.
///
/// The rows are cut into chunks, one rayon task each. With several tokens a task writes
/// its results token-major into its own stripe of scratch (`[tokens, chunk_rows]`), then
/// copies the stripe into its columns of `y`.
pub fn matmul(
    w: &QMatrix,
    x: &[f32],
    tokens: usize,
    y: &mut [f32],
    compute: Compute,
    s: &mut LinearScratch,
) {
    matmul_many(&mut [(w, y)], x, tokens, compute, s)
}

/// [`matmul`] for several matrices with the same input (a layer's Q, K and V, or its
/// gate and up projections): the activations are quantized once, and every matrix's
/// chunks run in one parallel region, so the threads meet once instead of once per matrix.
pub fn matmul_many(
    jobs: &mut [(&QMatrix, &mut [f32])],
    x: &[f32],
    tokens: usize,
    compute: Compute,
    s: &mut LinearScratch,
) {
    for (w, y) in jobs.iter() {
        assert_eq!(
            x.len(),
            tokens * w.cols,
            "matmul {}: input is not [tokens, cols]",
            w.name
        );
        assert_eq!(
            y.len(),
            tokens * w.rows,
            "matmul {}: output is not [tokens, rows]",
            w.name
        );
    }
    let Some(first) = jobs.first() else { return };
    if tokens == 0 {
        return;
    }
    let aty = wren_kernels::vec_dot_type(first.0.ty);
    if !compute.quantize_for(tokens) {
        for (w, y) in jobs.iter_mut() {
            exact(w, x, tokens, y, s);
        }
    } else if jobs
        .iter()
        .all(|(w, _)| wren_kernels::vec_dot_type(w.ty) == aty)
    {
        if s.rowwise && tokens > 1 {
            quantized_rowwise(jobs, x, tokens, s);
        } else {
            quantized(jobs, x, tokens, s);
        }
    } else if s.rowwise && tokens > 1 {
        for job in jobs.iter_mut() {
            quantized_rowwise(std::slice::from_mut(job), x, tokens, s);
        }
    } else {
        for job in jobs.iter_mut() {
            quantized(std::slice::from_mut(job), x, tokens, s);
        }
    }
}

/// Quantizes the `[tokens, w.cols]` rows of `x` to `w`'s activation format into `xq`
/// (resized); returns the bytes per row.
fn quantize_activations(w: &QMatrix, x: &[f32], tokens: usize, xq: &mut Vec<u8>) -> usize {
    let k = w.cols;
    let aty = wren_kernels::vec_dot_type(w.ty);
    let arb = aty.row_bytes(k as u64).expect("activation row size") as usize;
    xq.resize(arb * tokens, 0);
    for (r, q) in x.chunks_exact(k).zip(xq.chunks_exact_mut(arb)).take(tokens) {
        wren_kernels::quantize_row(aty, r, q);
    }
    arb
}

/// Matrices of one format and packing over the same activations (Q/K/V, gate/up) share
/// one layout of the activation tables: the group of each matrix, and each group's first
/// matrix (whose tables the group uses).
fn format_groups(jobs: &[(&QMatrix, &mut [f32])]) -> (Vec<usize>, Vec<usize>) {
    let mut firsts: Vec<usize> = Vec::new();
    let group = (0..jobs.len())
        .map(|m| {
            let (w, _) = &jobs[m];
            let same = |&i: &usize| jobs[i].0.ty == w.ty && jobs[i].0.packing() == w.packing();
            firsts.iter().position(same).unwrap_or_else(|| {
                firsts.push(m);
                firsts.len() - 1
            })
        })
        .collect();
    (group, firsts)
}

/// For each chunk of `cr` of the `n` output rows, in order: its columns of every token's
/// row of `y` (`[tokens, n]`).
fn chunk_columns(y: &mut [f32], n: usize, cr: usize) -> Vec<Vec<&mut [f32]>> {
    let mut rows: Vec<_> = y.chunks_mut(n).map(|r| r.chunks_mut(cr)).collect();
    (0..n.div_ceil(cr))
        .map(|_| {
            rows.iter_mut()
                .map(|r| r.next().expect("a chunk per row"))
                .collect()
        })
        .collect()
}

/// Rows per task for a matrix of `n` rows: about eight tasks per thread.
fn chunk_rows(n: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    (n / (threads * 8))
        .clamp(TILE_ROWS, 1024)
        .next_multiple_of(4)
}

/// One task of [`quantized`] with several tokens: rows `r0..` of matrix `m`, results into
/// `out` (a stripe of scratch, token-major), then copied into `dest` (the chunk's columns
/// of each token's row of `y`).
struct Task<'a> {
    m: usize,
    r0: usize,
    out: &'a mut [f32],
    dest: Vec<&'a mut [f32]>,
}

/// The quantized path for matrices whose activations share one format.
fn quantized(jobs: &mut [(&QMatrix, &mut [f32])], x: &[f32], tokens: usize, s: &mut LinearScratch) {
    let arb = quantize_activations(jobs[0].0, x, tokens, &mut s.xq);
    let xq = &s.xq[..arb * tokens];
    if tokens == 1 {
        // Each matrix's chunks write y directly; nested regions, nothing allocated.
        jobs.par_iter_mut().for_each(|(w, y)| {
            let (rb, cr) = (w.row_bytes(), chunk_rows(w.rows));
            y.par_chunks_mut(cr).enumerate().for_each(|(ci, out)| {
                let r0 = ci * cr;
                w.dot_rows(&w.data()[r0 * rb..(r0 + out.len()) * rb], xq, out);
            });
        });
        return;
    }
    let (table, firsts) = format_groups(jobs);
    if s.tables.len() < firsts.len() {
        s.tables.resize_with(firsts.len(), TokenTables::new);
    }
    for (&m, tb) in firsts.iter().zip(s.tables.iter_mut()) {
        jobs[m].0.prepare_tokens(xq, tokens, tb);
    }
    let total: usize = jobs.iter().map(|(w, _)| w.rows * tokens).sum();
    if s.yt.len() < total {
        s.yt.resize(total, 0.0);
    }
    let mats: Vec<&QMatrix> = jobs.iter().map(|(w, _)| *w).collect();
    let mut tasks: Vec<Task<'_>> = Vec::new();
    let mut scratch: &mut [f32] = &mut s.yt;
    for (m, (w, y)) in jobs.iter_mut().enumerate() {
        let (n, cr) = (w.rows, chunk_rows(w.rows));
        let (mine, rest) = std::mem::take(&mut scratch).split_at_mut(n * tokens);
        scratch = rest;
        let chunks = mine.chunks_mut(cr * tokens).zip(chunk_columns(y, n, cr));
        for (ci, (out, dest)) in chunks.enumerate() {
            tasks.push(Task {
                m,
                r0: ci * cr,
                out,
                dest,
            });
        }
    }
    let tables = &s.tables;
    tasks.par_iter_mut().for_each(|t| {
        let w = mats[t.m];
        let rb = w.row_bytes();
        let rows_here = t.out.len() / tokens;
        let w_rows = &w.data()[t.r0 * rb..(t.r0 + rows_here) * rb];
        // Rows are taken a few at a time, kept in L1 while every token's activations
        // pass by (several tokens per unpacked weight block).
        w.dot_rows_tokens(w_rows, xq, tokens, t.out, rows_here, &tables[table[t.m]]);
        for (d, src) in t.dest.iter_mut().zip(t.out.chunks_exact(rows_here)) {
            d.copy_from_slice(src);
        }
    });
}

/// Weight rows per step of [`quantized_rowwise`]: tens of KiB of weights, kept in cache while
/// every token's one-token product runs over them. A multiple of 4, the row interleave of
/// the packed formats, so each step's rows are grouped as the one-token call groups them.
const ROWWISE_ROWS: usize = 128;

/// The quantized path with [`LinearScratch::rowwise`] for matrices whose activations share
/// one format: the chunks of rows of the one-token path, all matrices' chunks in one
/// parallel region, and within each chunk, a few rows at a time, the one-token kernel for
/// each token. Matrices of one format and packing (Q/K/V, gate/up) share one layout of the
/// tables.
fn quantized_rowwise(
    jobs: &mut [(&QMatrix, &mut [f32])],
    x: &[f32],
    tokens: usize,
    s: &mut LinearScratch,
) {
    let k = jobs[0].0.cols;
    let arb = quantize_activations(jobs[0].0, x, tokens, &mut s.xq);
    let xq = &s.xq[..arb * tokens];
    // Formats and packings with a rowwise kernel (`wren_kernels::isa::rowwise`): several
    // tokens per weight load, each (row, token) still the one-token kernel's bits. The
    // others run the one-token kernel per token.
    let (group, firsts) = format_groups(jobs);
    if s.rw.len() < firsts.len() {
        s.rw.resize_with(firsts.len(), RowwiseTables::default);
    }
    let mut fast = vec![false; firsts.len()];
    for ((&m, tb), f) in firsts.iter().zip(s.rw.iter_mut()).zip(&mut fast) {
        let w = jobs[m].0;
        tb.prepare(w.ty, w.packing(), k, xq, tokens);
        *f = tb.accelerated();
    }
    let tables = &s.rw;
    let table: Vec<Option<usize>> = group.iter().map(|&g| fast[g].then_some(g)).collect();
    let mats: Vec<&QMatrix> = jobs.iter().map(|(w, _)| *w).collect();
    // Tasks: matrix, first row, and the chunk's columns of each token's row of y.
    let mut tasks: Vec<(usize, usize, Vec<&mut [f32]>)> = Vec::new();
    for (m, (w, y)) in jobs.iter_mut().enumerate() {
        let (n, cr) = (w.rows, chunk_rows(w.rows));
        for (ci, dest) in chunk_columns(y, n, cr).into_iter().enumerate() {
            tasks.push((m, ci * cr, dest));
        }
    }
    tasks.par_iter_mut().for_each(|(m, r0, dest)| {
        let (w, tab) = (mats[*m], table[*m].map(|i| &tables[i]));
        let rb = w.row_bytes();
        let here = dest[0].len();
        let mut a = 0;
        while a < here {
            let b = (a + ROWWISE_ROWS).min(here);
            let w_rows = &w.data()[(*r0 + a) * rb..(*r0 + b) * rb];
            if let Some(tab) = tab {
                RW_OUT.with(|buf| {
                    let buf = &mut *buf.borrow_mut();
                    buf.resize(tokens * ROWWISE_ROWS, 0.0);
                    wren_kernels::isa::vec_dot_rows_rowwise(
                        w.ty,
                        w.packing(),
                        k,
                        w_rows,
                        xq,
                        tokens,
                        buf,
                        ROWWISE_ROWS,
                        tab,
                    );
                    for (t, d) in dest.iter_mut().enumerate() {
                        let at = t * ROWWISE_ROWS;
                        d[a..b].copy_from_slice(&buf[at..at + (b - a)]);
                    }
                });
            } else {
                for (t, d) in dest.iter_mut().enumerate() {
                    w.dot_rows(w_rows, &xq[t * arb..(t + 1) * arb], &mut d[a..b]);
                }
            }
            a = b;
        }
    });
}

thread_local! {
    /// Per-thread results of one step of [`quantized_rowwise`] (`[tokens, ROWWISE_ROWS]`).
    static RW_OUT: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The exact path: weight rows dequantized a tile at a time, f32 products.
fn exact(w: &QMatrix, x: &[f32], tokens: usize, y: &mut [f32], s: &mut LinearScratch) {
    let (n, k) = (w.rows, w.cols);
    // Whole 16-row panels per chunk (only the matrix's last chunk may be ragged).
    let chunk_rows = chunk_rows(n).next_multiple_of(ops::PANEL_ROWS);
    if tokens > 1 {
        s.yt.resize(n * tokens, 0.0);
    }
    let data = w.data();
    let rb = w.row_bytes();
    // One token's products are `ops::dot` per row (`tile_products`); rowwise keeps that.
    let rowwise = s.rowwise && tokens > 1;
    by_chunks(y, &mut s.yt, n, tokens, chunk_rows, |ci, out| {
        TILE.with(|scratch| {
            let (tile, panel) = &mut *scratch.borrow_mut();
            tile.resize(TILE_ROWS * k, 0.0);
            panel.resize(TILE_ROWS * k, 0.0);
            let r0 = ci * chunk_rows;
            let rows_here = out.len() / tokens;
            let mut done = 0;
            while done < rows_here {
                let nr = TILE_ROWS.min(rows_here - done);
                for i in 0..nr {
                    let r = r0 + done + i;
                    w.dequantize_bytes(&data[r * rb..(r + 1) * rb], &mut tile[i * k..(i + 1) * k]);
                }
                let block = Block {
                    out: &mut *out,
                    stride: rows_here,
                    col: done,
                };
                if rowwise {
                    rowwise_products(&tile[..nr * k], nr, x, tokens, k, block);
                } else if tokens >= ops::PANEL_TOKENS {
                    panel_products(&tile[..nr * k], nr, panel, x, tokens, k, block);
                } else {
                    tile_products(&tile[..nr * k], nr, x, tokens, k, block);
                }
                done += nr;
            }
        });
    });
}

/// Runs `f(chunk, out)` for every chunk of `chunk_rows` weight rows (of `n`), one rayon
/// task each, with `out` the chunk's results token-major (`[tokens, rows of the chunk]`).
/// For one token that is `y`'s own slice; for several, the task's stripe of `scratch`,
/// which the task then copies into its columns of `y` while the stripe is still in cache.
fn by_chunks(
    y: &mut [f32],
    scratch: &mut [f32],
    n: usize,
    tokens: usize,
    chunk_rows: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    if tokens == 1 {
        y.par_chunks_mut(chunk_rows)
            .enumerate()
            .for_each(|(ci, out)| f(ci, out));
        return;
    }
    // Each chunk's destination: its columns of every token's row of y.
    let mut dests: Vec<&mut [f32]> = chunk_columns(y, n, chunk_rows)
        .into_iter()
        .flatten()
        .collect();
    scratch[..n * tokens]
        .par_chunks_mut(chunk_rows * tokens)
        .zip(dests.par_chunks_mut(tokens))
        .enumerate()
        .for_each(|(ci, (stripe, dest))| {
            f(ci, stripe);
            let rows_here = stripe.len() / tokens;
            for (d, src) in dest.iter_mut().zip(stripe.chunks_exact(rows_here)) {
                d.copy_from_slice(src);
            }
        });
}

/// Where a tile's results go: `out[t * stride + col + r]` for token t, tile row r.
struct Block<'a> {
    out: &'a mut [f32],
    stride: usize,
    col: usize,
}

/// `out[r][t] = tile[r] · x[t]` for up to 32 dequantized rows: the rows are packed k-major
/// into one or two 16-row panels of `panel` (zero-padded) and multiplied with 12 tokens
/// at a time (6 when the batch is narrower); two panels go through one kernel call, which
/// shares each activation broadcast between them.
fn panel_products(
    tile: &[f32],
    nr: usize,
    panel: &mut [f32],
    x: &[f32],
    tokens: usize,
    k: usize,
    o: Block<'_>,
) {
    const R: usize = ops::PANEL_ROWS;
    const T: usize = ops::PANEL_TOKENS;
    debug_assert!(nr <= 2 * R && tokens >= T);
    let panels = nr.div_ceil(R);
    // Transpose in 8-column blocks: contiguous reads from each row, short strided writes.
    if nr < panels * R {
        panel[..panels * R * k].fill(0.0);
    }
    for i0 in (0..k).step_by(8) {
        let w = 8.min(k - i0);
        for r in 0..nr {
            let p = &mut panel[(r / R) * R * k..];
            let src = &tile[r * k + i0..r * k + i0 + w];
            for (j, v) in src.iter().enumerate() {
                p[(i0 + j) * R + r % R] = *v;
            }
        }
    }
    let (pa, pb) = panel.split_at(R * k);
    let xr = |t: usize| &x[t * k..(t + 1) * k];
    // Stores the results of panel `h` (rows `h·16..`) for tokens `t..`.
    let mut store = |h: usize, t: usize, rows: &[[f32; R]]| {
        let n = nr.min((h + 1) * R) - h * R;
        for (j, row) in rows.iter().enumerate() {
            let at = (t + j) * o.stride + o.col + h * R;
            o.out[at..at + n].copy_from_slice(&row[..n]);
        }
    };
    // 12 tokens per call (one AVX-512 kernel), then 6; the last group overlaps the
    // previous one rather than running past the batch. Every output is the same sum in
    // the same order whichever call computes it.
    const W: usize = ops::PANEL_TOKENS_WIDE;
    let mut t0 = 0;
    if tokens >= W {
        while t0 < tokens {
            let t = t0.min(tokens - W);
            let xs = std::array::from_fn(|j| xr(t + j));
            if panels == 2 {
                let [a, b] = ops::gemm_panel_32x12(pa, pb, xs, k);
                store(0, t, &a);
                store(1, t, &b);
            } else {
                store(0, t, &ops::gemm_panel_16x12(pa, xs, k));
            }
            t0 += W;
        }
        return;
    }
    while t0 < tokens {
        let t = t0.min(tokens - T);
        let xs = std::array::from_fn(|j| xr(t + j));
        store(0, t, &ops::gemm_panel_16x6(pa, xs, k));
        if panels == 2 {
            store(1, t, &ops::gemm_panel_16x6(&pb[..R * k], xs, k));
        }
        t0 += T;
    }
}

/// `tile[r] · x[t]` with the one-token kernel for every (row, token): what
/// [`tile_products`] computes for a single token, for each of several.
fn rowwise_products(tile: &[f32], nr: usize, x: &[f32], tokens: usize, k: usize, o: Block<'_>) {
    for t in 0..tokens {
        let xt = &x[t * k..(t + 1) * k];
        for r in 0..nr {
            o.out[t * o.stride + o.col + r] = ops::dot(&tile[r * k..(r + 1) * k], xt);
        }
    }
}

/// `tile[r] · x[t]` for `nr` dequantized rows and a few tokens, in 4-row × 2-token blocks.
fn tile_products(tile: &[f32], nr: usize, x: &[f32], tokens: usize, k: usize, o: Block<'_>) {
    let row = |r: usize| &tile[r * k..(r + 1) * k];
    let xr = |t: usize| &x[t * k..(t + 1) * k];
    let at = |t: usize, r: usize| t * o.stride + o.col + r;
    let mut r = 0;
    while r + 4 <= nr {
        let ws = [row(r), row(r + 1), row(r + 2), row(r + 3)];
        let mut t = 0;
        while t + 2 <= tokens {
            let d = ops::dot_4x2(ws, [xr(t), xr(t + 1)], k);
            for (j, col) in d.iter().enumerate() {
                let i0 = at(t + j, r);
                o.out[i0..i0 + 4].copy_from_slice(col);
            }
            t += 2;
        }
        if t < tokens {
            for (i, w) in ws.iter().enumerate() {
                o.out[at(t, r + i)] = ops::dot(w, xr(t));
            }
        }
        r += 4;
    }
    for r in r..nr {
        for t in 0..tokens {
            o.out[at(t, r)] = ops::dot(row(r), xr(t));
        }
    }
}
