//! Causal multi-head attention with grouped KV heads, an optional sliding window and
//! optional block-sparse selection (global layers), over a layer's KV cache.
//!
//! A batch's keys and values are stored into the cache first ([`store_and_attend`]), so
//! every key is read the same way, quantized or not, whether it came from this batch or an
//! earlier one (a ring takes the batch in pieces it can hold). The work is cut into tasks
//! of (a few consecutive tokens, one KV head, a run of keys): the query heads of the KV
//! group and the tokens of the task share each tile of keys ([`tile`]). A single decode
//! token's keys are split across tasks so that every thread helps; the partial results
//! (unnormalized output, max, sum) are merged per row.

pub mod sparse;
mod tile;

use std::ops::Range;

use rayon::prelude::*;

use crate::kv::LayerCache;
use sparse::SparseParams;

/// Shapes of one attention call.
pub struct AttnShape {
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    /// Keys at distance `>= window` from the query are masked (`q_pos − k_pos ≥ window`).
    pub window: Option<usize>,
}

/// Consecutive tokens that share a dense task.
const TOKENS_PER_TASK: usize = 8;
/// A split of one row group's keys holds at least this many keys.
const MIN_SPLIT_KEYS: usize = 256;

/// Buffers reused across calls (they grow to the largest call seen).
#[derive(Default)]
pub struct AttnScratch {
    items: Vec<Item>,
    /// Key ranges of the items.
    segs: Vec<(usize, usize)>,
    tasks: Vec<Task>,
    /// Key ranges of the tasks.
    task_segs: Vec<(usize, usize)>,
    parts: Vec<f32>,
    /// Per token: its item for KV head 0 (items of one token block are consecutive).
    tok_item: Vec<usize>,
    /// Per sparse item: its selected key ranges.
    sel: Vec<Vec<(usize, usize)>>,
}

/// Rows of tokens `t0..t1` × the query heads of KV head `kvh`, over key ranges `segs`.
#[derive(Clone)]
struct Item {
    t0: usize,
    t1: usize,
    kvh: usize,
    segs: Range<usize>,
    tasks: Range<usize>,
}

struct Task {
    item: usize,
    segs: Range<usize>,
}

/// Store the batch's keys/values (positions `start..start+n`, `k`, `v`: `[n, kv_dim]`)
/// into `cache` and compute `out[t] = softmax(q[t]·Kᵀ) V` for each of its tokens (`q`:
/// pre-scaled `[n, n_head·head_dim]`). A ring layer is fed in pieces it can hold.
#[allow(clippy::too_many_arguments)]
pub fn store_and_attend(
    sh: &AttnShape,
    start: usize,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    cache: &mut LayerCache,
    sparse: Option<&SparseParams>,
    out: &mut [f32],
    scratch: &mut AttnScratch,
) {
    let (qdim, kvdim) = (sh.n_head * sh.head_dim, sh.n_head_kv * sh.head_dim);
    let n = q.len() / qdim;
    let step = cache.max_append().min(n).max(1);
    let mut t = 0;
    while t < n {
        let e = (t + step).min(n);
        cache.store(
            start + t,
            &k[t * kvdim..e * kvdim],
            &v[t * kvdim..e * kvdim],
        );
        attend(
            sh,
            start + t,
            &q[t * qdim..e * qdim],
            cache,
            sparse,
            &mut out[t * qdim..e * qdim],
            scratch,
        );
        t = e;
    }
}

/// Attention of the tokens at positions `start..start+n` (`q`: `[n, n_head·head_dim]`,
/// pre-scaled) over `cache`, which must already hold every key they attend to.
/// `sparse` applies to a global layer (no window, not a ring) whose cache keeps block
/// summaries.
pub fn attend(
    sh: &AttnShape,
    start: usize,
    q: &[f32],
    cache: &LayerCache,
    sparse: Option<&SparseParams>,
    out: &mut [f32],
    s: &mut AttnScratch,
) {
    let hd = sh.head_dim;
    let g = sh.n_head / sh.n_head_kv;
    let qdim = sh.n_head * hd;
    let n = q.len() / qdim;
    assert_eq!(
        out.len(),
        q.len(),
        "attend: output is not [n, n_head·head_dim]"
    );
    let sparse = match (sparse, &cache.summaries) {
        (Some(p), Some(sm)) if sh.window.is_none() && sm.block() == p.block => Some(p),
        _ => None,
    };
    let is_sparse = |t: usize| sparse.is_some_and(|p| start + t + 1 > p.dense_len);

    // Items: dense token blocks, and single tokens that select their blocks.
    s.items.clear();
    s.segs.clear();
    s.tok_item.clear();
    let mut t = 0;
    while t < n {
        let t1 = if is_sparse(t) {
            t + 1
        } else {
            let mut e = t + 1;
            while e < n && e - t < TOKENS_PER_TASK && !is_sparse(e) {
                e += 1;
            }
            e
        };
        let first = s.items.len();
        for _ in t..t1 {
            s.tok_item.push(first);
        }
        for kvh in 0..sh.n_head_kv {
            s.items.push(Item {
                t0: t,
                t1,
                kvh,
                segs: 0..0,
                tasks: 0..0,
            });
        }
        t = t1;
    }

    // Key ranges: selected in parallel for the sparse items, the causal (windowed) span
    // of the block for the dense ones.
    if s.sel.len() < s.items.len() {
        s.sel.resize_with(s.items.len(), Vec::new);
    }
    s.sel[..s.items.len()]
        .par_iter_mut()
        .zip(s.items.par_iter())
        .for_each(|(sel, it)| {
            sel.clear();
            let pos = start + it.t0;
            match sparse {
                Some(p) if is_sparse(it.t0) => {
                    let sums = cache.summaries.as_ref().expect("checked above");
                    let qr = &q[it.t0 * qdim + it.kvh * g * hd..][..g * hd];
                    sparse::select(p, sums, it.kvh, qr, hd, pos, sel);
                }
                _ => {
                    let lo = sh.window.map_or(0, |w| (pos + 1).saturating_sub(w));
                    sel.push((lo, start + it.t1));
                }
            }
        });

    // Tasks: split the keys of the items when there are too few items to go round.
    let threads = rayon::current_num_threads().max(1);
    let want_tasks = 4 * threads;
    let tile = tile::tile_keys(hd);
    let n_items = s.items.len();
    s.tasks.clear();
    s.task_segs.clear();
    for (i, it) in s.items.iter_mut().enumerate() {
        let a = s.segs.len();
        s.segs.extend_from_slice(&s.sel[i]);
        it.segs = a..s.segs.len();
        let keys: usize = s.segs[it.segs.clone()].iter().map(|r| r.1 - r.0).sum();
        let splits = want_tasks
            .div_ceil(n_items)
            .min(keys / MIN_SPLIT_KEYS)
            .max(1);
        let per = keys.div_ceil(splits).next_multiple_of(tile);
        let t0 = s.tasks.len();
        let (mut left, mut si) = (per, it.segs.start);
        let mut cur = s.task_segs.len();
        let mut off = 0;
        while si < it.segs.end {
            let (a, b) = s.segs[si];
            let take = (b - a - off).min(left);
            s.task_segs.push((a + off, a + off + take));
            left -= take;
            off += take;
            if off == b - a {
                si += 1;
                off = 0;
            }
            if left == 0 || si == it.segs.end {
                s.tasks.push(Task {
                    item: i,
                    segs: cur..s.task_segs.len(),
                });
                cur = s.task_segs.len();
                left = per;
            }
        }
        it.tasks = t0..s.tasks.len();
    }

    // Run the tasks, each into its own part.
    let max_rows = TOKENS_PER_TASK * g;
    let plen = tile::part_len(max_rows, hd);
    s.parts.resize(s.tasks.len() * plen, 0.0);
    let (items, tasks, task_segs) = (&s.items, &s.tasks, &s.task_segs);
    s.parts[..tasks.len() * plen]
        .par_chunks_mut(plen)
        .zip(tasks.par_iter())
        .for_each(|(part, task)| {
            let it = &items[task.item];
            let qs = tile::Queries {
                q: &q[it.t0 * qdim + it.kvh * g * hd..],
                stride: qdim,
                n_tok: it.t1 - it.t0,
                g,
                hd,
                pos0: start + it.t0,
                window: sh.window,
            };
            tile::run(
                &qs,
                cache,
                it.kvh,
                &task_segs[task.segs.clone()],
                max_rows,
                part,
            );
        });

    // Merge each row's parts: out = Σ o·e^(m−M) / Σ l·e^(m−M).
    let parts = &s.parts;
    let tok_item = &s.tok_item;
    out.par_chunks_mut(qdim).enumerate().for_each(|(t, orow)| {
        for kvh in 0..sh.n_head_kv {
            let it = &items[tok_item[t] + kvh];
            for j in 0..g {
                let r = (t - it.t0) * g + j;
                let part = |k: usize| &parts[k * plen..(k + 1) * plen];
                let mx = it
                    .tasks
                    .clone()
                    .fold(f32::NEG_INFINITY, |a, k| a.max(part(k)[max_rows * hd + r]));
                let oh = &mut orow[(kvh * g + j) * hd..(kvh * g + j + 1) * hd];
                oh.fill(0.0);
                let mut den = 0.0;
                for k in it.tasks.clone() {
                    let p = part(k);
                    let (m, l) = (p[max_rows * hd + r], p[max_rows * hd + max_rows + r]);
                    if l == 0.0 {
                        continue;
                    }
                    let c = (m - mx).exp();
                    den += l * c;
                    wren_kernels::ops::axpy(c, &p[r * hd..(r + 1) * hd], oh);
                }
                if den > 0.0 {
                    let inv = 1.0 / den;
                    oh.iter_mut().for_each(|x| *x *= inv);
                }
            }
        }
    });
}
