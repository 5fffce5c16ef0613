//! Mean-pooled key summaries of fixed-size blocks of positions, per KV head: what
//! InfLLM-v2 block selection scores a query against (`crate::attention::sparse`).

/// `means[h][b]` = mean of the keys at positions `b·block .. (b+1)·block` of KV head `h`,
/// valid for every block the cache has seen completely. Kept only for global layers of a
/// session with sparse attention.
pub struct BlockSummaries {
    block: usize,
    head_dim: usize,
    n_blocks: usize,
    /// `[n_head_kv, n_blocks, head_dim]`.
    means: Vec<f32>,
}

impl BlockSummaries {
    /// Room for the blocks of `capacity` positions.
    pub fn new(block: usize, n_head_kv: usize, head_dim: usize, capacity: usize) -> Self {
        let block = block.max(1);
        let n_blocks = capacity / block;
        BlockSummaries {
            block,
            head_dim,
            n_blocks,
            means: vec![0.0; n_head_kv * n_blocks * head_dim],
        }
    }

    /// Positions per block.
    pub fn block(&self) -> usize {
        self.block
    }

    /// Summaries of KV head `h`: `[n_blocks, head_dim]`, the first `len / block` of them
    /// valid when the cache holds `len` positions.
    pub fn head(&self, h: usize) -> &[f32] {
        let per = self.n_blocks * self.head_dim;
        &self.means[h * per..(h + 1) * per]
    }

    /// Sets the summary of block `b` of head `h` from its keys (`[block, head_dim]`).
    pub fn set(&mut self, h: usize, b: usize, keys: &[f32]) {
        let hd = self.head_dim;
        debug_assert_eq!(keys.len(), self.block * hd);
        if b >= self.n_blocks {
            return; // a trailing partial block of the context: never complete
        }
        let at = (h * self.n_blocks + b) * hd;
        let m = &mut self.means[at..at + hd];
        m.fill(0.0);
        for k in keys.chunks_exact(hd) {
            for (a, x) in m.iter_mut().zip(k) {
                *a += x;
            }
        }
        let inv = 1.0 / self.block as f32;
        m.iter_mut().for_each(|a| *a *= inv);
    }

    /// Blocks completed by storing positions `start..start + n`.
    pub fn completed(&self, start: usize, n: usize) -> std::ops::Range<usize> {
        // Block b completes when position (b+1)·block − 1 is stored.
        start / self.block..(start + n) / self.block
    }

    pub fn bytes(&self) -> usize {
        self.means.len() * std::mem::size_of::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_blocks() {
        let s = BlockSummaries::new(4, 1, 2, 64);
        assert_eq!(s.completed(0, 3), 0..0);
        assert_eq!(s.completed(0, 4), 0..1);
        assert_eq!(s.completed(3, 1), 0..1);
        assert_eq!(s.completed(4, 1), 1..1);
        assert_eq!(s.completed(2, 11), 0..3);
        assert_eq!(s.completed(8, 8), 2..4);
    }

    #[test]
    fn means() {
        let mut s = BlockSummaries::new(2, 2, 3, 8);
        s.set(1, 2, &[1.0, 2.0, 3.0, 3.0, 4.0, 5.0]);
        assert_eq!(&s.head(1)[6..9], &[2.0, 3.0, 4.0]);
        assert!(s.head(0).iter().all(|&x| x == 0.0));
    }
}
