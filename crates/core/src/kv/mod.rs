//! Per-sequence key/value storage.
//!
//! Each attention layer owns a [`LayerCache`]: global layers keep every position up to the
//! context size; sliding-window layers keep a ring of exactly `window` positions, so their
//! memory is flat however long the context grows. Storage is separate from the attention
//! arithmetic (`crate::attention`), which reads keys through [`LayerCache::slot`].

/// Keys and values of one layer, `[capacity, kv_dim]` each, f32.
pub struct LayerCache {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    /// Positions held: the context size (global) or the window (ring).
    pub capacity: usize,
    /// Whether positions wrap around (sliding-window layer).
    pub ring: bool,
    pub kv_dim: usize,
}

impl LayerCache {
    pub fn new(capacity: usize, ring: bool, kv_dim: usize) -> LayerCache {
        LayerCache {
            k: vec![0.0; capacity * kv_dim],
            v: vec![0.0; capacity * kv_dim],
            capacity,
            ring,
            kv_dim,
        }
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

    /// Store the keys/values of positions `start..start+n` (`k`, `v`: `[n, kv_dim]`).
    /// A ring layer only needs the last `capacity` of them.
    pub fn store(&mut self, start: usize, k: &[f32], v: &[f32]) {
        let d = self.kv_dim;
        let n = k.len() / d;
        let first = if self.ring {
            n.saturating_sub(self.capacity)
        } else {
            0
        };
        for i in first..n {
            let s = self.slot(start + i);
            self.k[s * d..(s + 1) * d].copy_from_slice(&k[i * d..(i + 1) * d]);
            self.v[s * d..(s + 1) * d].copy_from_slice(&v[i * d..(i + 1) * d]);
        }
    }

    pub fn bytes(&self) -> usize {
        (self.k.len() + self.v.len()) * std::mem::size_of::<f32>()
    }
}

/// All layers' caches plus the number of positions already processed.
pub struct KvCache {
    pub layers: Vec<LayerCache>,
    /// Tokens already in the cache; the next token goes at this position.
    pub pos: usize,
    /// Context size the cache was made for.
    pub ctx: usize,
}

impl KvCache {
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(LayerCache::bytes).sum()
    }

    /// Forget everything (keeps the memory).
    pub fn clear(&mut self) {
        self.pos = 0;
    }
}
