//! A model's KV cache from its per-layer attention kinds.

use crate::error::Result;
use crate::kv::{CacheOptions, KvCache, LayerCache};

/// A cache with one layer per entry of `windows`: `Some(w)` keeps a ring of `w` + 128
/// positions, the last `w` attended (sliding-window layers; the slack lets a draft roll back), `None` the whole context (and the block summaries
/// of sparse attention, when `opts` turns it on).
pub fn new_cache(
    opts: &CacheOptions,
    windows: impl IntoIterator<Item = Option<usize>>,
    n_head_kv: usize,
    head_dim: usize,
) -> Result<KvCache> {
    let block = opts.sparse.as_ref().map(|p| p.block);
    let layers = windows
        .into_iter()
        .map(|w| {
            let summaries = if w.is_some() { None } else { block };
            LayerCache::new(opts.ty, opts.ctx, w, n_head_kv, head_dim, summaries)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(KvCache::new(layers, opts))
}
