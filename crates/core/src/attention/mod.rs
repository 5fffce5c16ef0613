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

mod plan;
pub mod sparse;
mod tile;

use rayon::prelude::*;

use crate::kv::LayerCache;
pub use plan::AttnScratch;
use sparse::SparseParams;

/// Shapes of one attention call.
pub struct AttnShape {
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    /// Keys at distance `>= window` from the query are masked (`q_pos − k_pos ≥ window`).
    pub window: Option<usize>,
}

/// Store the batch's keys/values (positions `start..start+n`, `k`, `v`: `[n, kv_dim]`)
/// into `cache` and compute `out[t] = softmax(q[t]·Kᵀ) V` for each of its tokens (`q`:
/// pre-scaled `[n, n_head·head_dim]`). A ring layer is fed in pieces it can hold.
///
/// `rowwise`: each token attends on its own, exactly as a one-token call computes it (same
/// tasks, same kernels, same merge order), so its output is bit-identical to decoding it
/// alone; the keys of the tokens after it are in the cache but outside its causal span.
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
    rowwise: bool,
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
        if rowwise {
            for i in t..e {
                let r = i * qdim..(i + 1) * qdim;
                attend(
                    sh,
                    start + i,
                    &q[r.clone()],
                    cache,
                    sparse,
                    &mut out[r],
                    scratch,
                );
            }
        } else {
            attend(
                sh,
                start + t,
                &q[t * qdim..e * qdim],
                cache,
                sparse,
                &mut out[t * qdim..e * qdim],
                scratch,
            );
        }
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
    assert_eq!(
        out.len(),
        q.len(),
        "attend: output is not [n, n_head·head_dim]"
    );
    let sparse = match (sparse, &cache.summaries) {
        (Some(p), Some(sm)) if sh.window.is_none() && sm.block() == p.block => Some(p),
        _ => None,
    };
    let p = plan::Plan {
        sh,
        start,
        n: q.len() / qdim,
        sparse,
    };
    p.items(s);
    p.select_keys(q, cache, s);
    p.tasks(rayon::current_num_threads().max(1), s);

    // Run the tasks, each into its own part.
    let max_rows = plan::TOKENS_PER_TASK * g;
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
            let segs = &task_segs[task.segs.clone()];
            tile::run(&qs, cache, it.kvh, segs, max_rows, part);
        });

    // Merge each row's parts: out = Σ o·e^(m−M) / Σ l·e^(m−M).
    let (parts, tok_item) = (&s.parts, &s.tok_item);
    out.par_chunks_mut(qdim).enumerate().for_each(|(t, orow)| {
        for kvh in 0..sh.n_head_kv {
            let it = &items[tok_item[t] + kvh];
            for j in 0..g {
                let r = (t - it.t0) * g + j;
                let part = |k: usize| &parts[k * plen..(k + 1) * plen];
                let (m_at, l_at) = (max_rows * hd + r, max_rows * hd + max_rows + r);
                let mx = it
                    .tasks
                    .clone()
                    .fold(f32::NEG_INFINITY, |a, k| a.max(part(k)[m_at]));
                let oh = &mut orow[(kvh * g + j) * hd..(kvh * g + j + 1) * hd];
                oh.fill(0.0);
                let mut den = 0.0;
                for k in it.tasks.clone() {
                    let p = part(k);
                    if p[l_at] == 0.0 {
                        continue; // a split with no visible key for this row
                    }
                    let c = (p[m_at] - mx).exp();
                    den += p[l_at] * c;
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
