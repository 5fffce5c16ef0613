//! Per-sequence key/value storage.
//!
//! Each attention layer owns a [`LayerCache`]: global layers keep every position up to the
//! context size; sliding-window layers keep a ring of `window + RING_SLACK` positions, so
//! their memory is flat however long the context grows. Keys and values are stored in the
//! session's [`KvType`] (f16 by default; f32, q8_0, q4_0), one row of `head_dim` elements
//! per (KV head, position), head-major: the rows of one head are contiguous, so attention
//! streams a run of positions of one head as one slice. Storage is separate from the
//! attention arithmetic (`crate::attention`), which reads rows through
//! [`LayerCache::k_rows`] / [`LayerCache::v_rows`].

mod summary;
mod types;

pub use summary::BlockSummaries;
pub use types::KvType;

use crate::attention::sparse::SparseParams;
use crate::error::{Error, Result};

/// Extra positions a sliding-window ring holds beyond the window, so that up to
/// `RING_SLACK` new positions can be stored before they are attended without overwriting
/// a key an earlier query of the same batch still needs (see [`LayerCache::max_append`]).
pub const RING_SLACK: usize = 128;

/// How a cache is made: context size, element type, and the sparse-attention settings
/// (global layers then keep block summaries).
#[derive(Clone, Copy, Debug)]
pub struct CacheOptions {
    pub ctx: usize,
    pub ty: KvType,
    pub sparse: Option<SparseParams>,
}

/// Keys and values of one layer.
pub struct LayerCache {
    ty: KvType,
    /// `[n_head_kv, capacity, row_bytes]` each.
    k: Vec<u8>,
    v: Vec<u8>,
    /// Positions held: the context size (global) or window + slack (ring).
    pub capacity: usize,
    /// Whether positions wrap around (sliding-window layer).
    pub ring: bool,
    /// For a ring: the attention window it serves.
    window: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    /// Bytes of one stored row (`head_dim` elements of `ty`).
    row_bytes: usize,
    /// Block summaries of the keys, for sparse attention (global layers only).
    pub summaries: Option<BlockSummaries>,
    /// Scratch: one block of keys, dequantized, while a summary is computed.
    scratch: Vec<f32>,
}

impl LayerCache {
    /// A global layer's cache (`ring_window = None`) of `ctx` positions, or a
    /// sliding-window ring for `window` (capacity `window + RING_SLACK`, or `ctx` if
    /// smaller). `summary_block` keeps block summaries of that many positions.
    pub fn new(
        ty: KvType,
        ctx: usize,
        ring_window: Option<usize>,
        n_head_kv: usize,
        head_dim: usize,
        summary_block: Option<usize>,
    ) -> Result<LayerCache> {
        let row_bytes = ty.row_bytes(head_dim)?;
        let (capacity, ring, window) = match ring_window {
            Some(w) if w + RING_SLACK < ctx => (w + RING_SLACK, true, w),
            _ => (ctx, false, ctx),
        };
        let bytes = n_head_kv
            .checked_mul(capacity)
            .and_then(|x| x.checked_mul(row_bytes))
            .ok_or_else(|| Error::Invalid(format!("KV cache of {ctx} positions is too large")))?;
        let summaries = match (summary_block, ring) {
            (Some(b), false) => Some(BlockSummaries::new(b, n_head_kv, head_dim, capacity)),
            _ => None,
        };
        Ok(LayerCache {
            ty,
            k: vec![0; bytes],
            v: vec![0; bytes],
            capacity,
            ring,
            window,
            n_head_kv,
            head_dim,
            row_bytes,
            summaries,
            scratch: Vec::new(),
        })
    }

    pub fn ty(&self) -> KvType {
        self.ty
    }

    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Storage slot of absolute position `pos`.
    #[inline]
    pub fn slot(&self, pos: usize) -> usize {
        if self.ring {
            pos % self.capacity
        } else {
            pos
        }
    }

    /// How many new positions may be stored before they are attended: with positions
    /// `start..start+n` stored, a ring must still hold `start + 1 − window`, the oldest key
    /// the first of them attends to.
    pub fn max_append(&self) -> usize {
        if self.ring {
            self.capacity + 1 - self.window
        } else {
            usize::MAX
        }
    }

    /// Longest run of positions from `pos` (at most `n`) whose slots are contiguous.
    #[inline]
    pub fn contiguous(&self, pos: usize, n: usize) -> usize {
        if self.ring {
            n.min(self.capacity - pos % self.capacity)
        } else {
            n
        }
    }

    /// Keys of head `h` at slots `slot..slot + n`, as `n` rows of [`Self::row_bytes`].
    #[inline]
    pub fn k_rows(&self, h: usize, slot: usize, n: usize) -> &[u8] {
        let at = (h * self.capacity + slot) * self.row_bytes;
        &self.k[at..at + n * self.row_bytes]
    }

    /// Values of head `h` at slots `slot..slot + n`.
    #[inline]
    pub fn v_rows(&self, h: usize, slot: usize, n: usize) -> &[u8] {
        let at = (h * self.capacity + slot) * self.row_bytes;
        &self.v[at..at + n * self.row_bytes]
    }

    /// Store the keys/values of positions `start..start+n` (`k`, `v`: `[n, n_head_kv ·
    /// head_dim]` f32, converted to the cache type). A ring only keeps the last
    /// `capacity` of them. Updates the block summaries of blocks this completes.
    pub fn store(&mut self, start: usize, k: &[f32], v: &[f32]) {
        let (hd, rb) = (self.head_dim, self.row_bytes);
        let kv_dim = self.n_head_kv * hd;
        let n = k.len() / kv_dim;
        assert!(
            k.len() == n * kv_dim && v.len() == k.len(),
            "KV store: rows are not [n, kv_dim]"
        );
        let first = if self.ring {
            n.saturating_sub(self.capacity)
        } else {
            0
        };
        assert!(
            start + n <= self.capacity || self.ring,
            "KV store past the context"
        );
        let ty = self.ty.ggml();
        for i in first..n {
            let s = self.slot(start + i);
            for h in 0..self.n_head_kv {
                let at = (h * self.capacity + s) * rb;
                let src = i * kv_dim + h * hd..i * kv_dim + (h + 1) * hd;
                wren_kernels::quantize_row(ty, &k[src.clone()], &mut self.k[at..at + rb]);
                wren_kernels::quantize_row(ty, &v[src], &mut self.v[at..at + rb]);
            }
        }
        self.update_summaries(start, n);
    }

    /// Recomputes the summaries of the blocks completed by positions `start..start+n`
    /// from the stored keys (so they summarize what attention reads).
    fn update_summaries(&mut self, start: usize, n: usize) {
        let Some(sm) = self.summaries.as_mut() else {
            return;
        };
        let (hd, block) = (self.head_dim, sm.block());
        let ty = self.ty.ggml();
        self.scratch.resize(block * hd, 0.0);
        for b in sm.completed(start, n) {
            for h in 0..self.n_head_kv {
                let at = (h * self.capacity + b * block) * self.row_bytes;
                let rows = &self.k[at..at + block * self.row_bytes];
                wren_kernels::dequantize_row(ty, rows, &mut self.scratch);
                sm.set(h, b, &self.scratch);
            }
        }
    }

    /// Dequantizes row `slot` of head `h` of the keys into `out` (`head_dim` floats).
    pub fn key(&self, h: usize, slot: usize, out: &mut [f32]) {
        wren_kernels::dequantize_row(self.ty.ggml(), self.k_rows(h, slot, 1), out);
    }

    /// How many of its `len` positions this layer can drop: all of them for a global layer
    /// or a ring that has not wrapped yet; a ring that has still holds the `capacity −
    /// window` positions before the window of its newest one, so it can drop that many
    /// (every key a position at the shorter length attends to is still there). Block
    /// summaries need nothing: a block's summary is read only once the cache has seen the
    /// whole block, and is recomputed from the stored keys whenever the block completes.
    pub fn max_rewind(&self, len: usize) -> usize {
        if self.ring && len > self.capacity {
            self.capacity - self.window
        } else {
            len
        }
    }

    pub fn bytes(&self) -> usize {
        self.k.len() + self.v.len() + self.summaries.as_ref().map_or(0, BlockSummaries::bytes)
    }
}

/// All layers' caches plus the number of positions already processed.
pub struct KvCache {
    pub layers: Vec<LayerCache>,
    /// Tokens already in the cache; the next token goes at this position.
    pub pos: usize,
    /// Context size the cache was made for.
    pub ctx: usize,
    pub ty: KvType,
    /// Block-sparse attention on the global layers (`None`: dense everywhere).
    pub sparse: Option<SparseParams>,
}

impl KvCache {
    pub fn new(layers: Vec<LayerCache>, opts: &CacheOptions) -> KvCache {
        KvCache {
            layers,
            pos: 0,
            ctx: opts.ctx,
            ty: opts.ty,
            sparse: opts.sparse,
        }
    }

    pub fn bytes(&self) -> usize {
        self.layers.iter().map(LayerCache::bytes).sum()
    }

    /// Forget everything (keeps the memory).
    pub fn clear(&mut self) {
        self.pos = 0;
    }

    /// How many positions the cache can drop from its end: all of them for global layers
    /// only; [`LayerCache::max_rewind`] for the sliding-window rings.
    pub fn max_rewind(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.max_rewind(self.pos))
            .min()
            .unwrap_or(self.pos)
    }

    /// Drop the positions from `len` on, so the next token goes at `len`. Fails (changing
    /// nothing) past [`KvCache::max_rewind`] or beyond the current length; `len = 0` always
    /// works (it is [`KvCache::clear`]).
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len > self.pos {
            return Err(Error::Invalid(format!(
                "cannot truncate the KV cache to {len} tokens: it holds {}",
                self.pos
            )));
        }
        if len > 0 && self.pos - len > self.max_rewind() {
            return Err(Error::Rewind {
                from: self.pos,
                to: len,
                max: self.max_rewind(),
            });
        }
        self.pos = len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(window: Option<usize>) -> KvCache {
        let opts = CacheOptions {
            ctx: 1000,
            ty: KvType::F32,
            sparse: None,
        };
        let layers = vec![
            LayerCache::new(KvType::F32, 1000, None, 1, 4, None).unwrap(),
            LayerCache::new(KvType::F32, 1000, window, 1, 4, None).unwrap(),
        ];
        KvCache::new(layers, &opts)
    }

    #[test]
    fn truncation_within_the_ring_slack_and_errors_beyond_it() {
        // Global layers only (a window past the context is a global layer): any rewind.
        let mut c = cache(Some(2000));
        c.pos = 900;
        assert_eq!(c.max_rewind(), 900);
        c.truncate(1).unwrap();
        assert_eq!(c.pos, 1);
        // A ring of 4 + 128 slots: any rewind until it wraps, then at most the slack.
        let mut c = cache(Some(4));
        c.pos = 132;
        assert_eq!(c.max_rewind(), 132);
        c.pos = 500;
        assert_eq!(c.max_rewind(), RING_SLACK);
        let e = c.truncate(500 - RING_SLACK - 1).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Rewind {
                    from: 500,
                    to: 371,
                    max: RING_SLACK
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("128 positions beyond its window"),
            "{e}"
        );
        assert_eq!(c.pos, 500, "a refused rewind changes nothing");
        c.truncate(500 - RING_SLACK).unwrap();
        assert_eq!(c.pos, 372);
        assert!(c.truncate(373).is_err(), "cannot grow by truncation");
        c.truncate(0).unwrap();
        assert_eq!(c.pos, 0);
    }
}
