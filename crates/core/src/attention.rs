//! Causal multi-head attention with grouped KV heads and an optional sliding window,
//! over the keys of the current batch plus those already in the layer's cache.

use rayon::prelude::*;
use wren_kernels::ops;

use crate::kv::LayerCache;

/// Shapes of one attention call.
pub struct AttnShape {
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    /// Keys at distance `>= window` from the query are masked (`q_pos − k_pos ≥ window`).
    pub window: Option<usize>,
}

thread_local! {
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `out[t] = softmax(q[t]·Kᵀ) V` per head for the batch tokens at positions
/// `start..start+n`. `q` is pre-scaled `[n, n_head·head_dim]`; `k`, `v` are the batch's own
/// `[n, n_head_kv·head_dim]`; earlier positions come from `cache`.
pub fn attend(
    sh: &AttnShape,
    start: usize,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    cache: &LayerCache,
    out: &mut [f32],
) {
    let hd = sh.head_dim;
    let qdim = sh.n_head * hd;
    let kvdim = sh.n_head_kv * hd;
    let group = sh.n_head / sh.n_head_kv;
    // One task per (token, head): a single decode token still spreads over the heads.
    out.par_chunks_mut(hd).enumerate().for_each(|(idx, oh)| {
        let (t, h) = (idx / sh.n_head, idx % sh.n_head);
        let pos = start + t;
        let lo = match sh.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        };
        let n_keys = pos + 1 - lo;
        let kvh = h / group;
        let qh = &q[t * qdim + h * hd..t * qdim + (h + 1) * hd];
        let key = |p: usize| -> &[f32] {
            if p >= start {
                let i = p - start;
                &k[i * kvdim + kvh * hd..i * kvdim + (kvh + 1) * hd]
            } else {
                let s = cache.slot(p);
                &cache.k[s * kvdim + kvh * hd..s * kvdim + (kvh + 1) * hd]
            }
        };
        let val = |p: usize| -> &[f32] {
            if p >= start {
                let i = p - start;
                &v[i * kvdim + kvh * hd..i * kvdim + (kvh + 1) * hd]
            } else {
                let s = cache.slot(p);
                &cache.v[s * kvdim + kvh * hd..s * kvdim + (kvh + 1) * hd]
            }
        };
        SCORES.with(|sc| {
            let mut sc = sc.borrow_mut();
            if sc.len() < n_keys {
                sc.resize(n_keys, 0.0);
            }
            let scores = &mut sc[..n_keys];
            for (j, s) in scores.iter_mut().enumerate() {
                *s = ops::dot(qh, key(lo + j));
            }
            ops::softmax_inplace(scores);
            oh.fill(0.0);
            for (j, &p) in scores.iter().enumerate() {
                ops::axpy(p, val(lo + j), oh);
            }
        });
    });
}
