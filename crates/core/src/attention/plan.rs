//! How one attention call is cut into tasks.
//!
//! - **Items**: rows that share keys: up to [`TOKENS_PER_TASK`] consecutive dense tokens,
//!   or one sparse token (its own block selection), times one KV head (all its query heads).
//! - **Key ranges** of each item: the causal (windowed) span of its tokens, or the ranges
//!   the sparse selection picked (computed in parallel).
//! - **Tasks**: an item's keys, split into several runs when there are too few items for
//!   the threads (a decode token): each run's partial softmax is merged afterwards.

use std::ops::Range;

use rayon::prelude::*;

use super::sparse::{self, SparseParams};
use super::{tile, AttnShape};
use crate::kv::LayerCache;

/// Consecutive tokens that share a dense task.
pub(super) const TOKENS_PER_TASK: usize = 8;
/// A split of one item's keys holds at least this many keys.
const MIN_SPLIT_KEYS: usize = 256;
/// Tasks wanted per thread before an item's keys are split.
const TASKS_PER_THREAD: usize = 4;

/// Buffers reused across calls (they grow to the largest call seen).
#[derive(Default)]
pub struct AttnScratch {
    pub(super) items: Vec<Item>,
    pub(super) tasks: Vec<Task>,
    /// Key ranges of the tasks.
    pub(super) task_segs: Vec<(usize, usize)>,
    pub(super) parts: Vec<f32>,
    /// Per token: its item for KV head 0 (the items of one token block are consecutive).
    pub(super) tok_item: Vec<usize>,
    /// Per item: its key ranges.
    sel: Vec<Vec<(usize, usize)>>,
}

/// Rows of tokens `t0..t1` × the query heads of KV head `kvh`; its tasks.
pub(super) struct Item {
    pub t0: usize,
    pub t1: usize,
    pub kvh: usize,
    pub tasks: Range<usize>,
}

/// One item's keys at `segs` (indices into `task_segs`).
pub(super) struct Task {
    pub item: usize,
    pub segs: Range<usize>,
}

pub(super) struct Plan<'a> {
    pub sh: &'a AttnShape,
    pub start: usize,
    pub n: usize,
    pub sparse: Option<&'a SparseParams>,
}

impl Plan<'_> {
    fn is_sparse(&self, t: usize) -> bool {
        self.sparse
            .is_some_and(|p| self.start + t + 1 > p.dense_len)
    }

    pub fn items(&self, s: &mut AttnScratch) {
        s.items.clear();
        s.tok_item.clear();
        let mut t = 0;
        while t < self.n {
            let mut t1 = t + 1;
            if !self.is_sparse(t) {
                while t1 < self.n && t1 - t < TOKENS_PER_TASK && !self.is_sparse(t1) {
                    t1 += 1;
                }
            }
            let first = s.items.len();
            s.tok_item.extend(std::iter::repeat_n(first, t1 - t));
            s.items.extend((0..self.sh.n_head_kv).map(|kvh| Item {
                t0: t,
                t1,
                kvh,
                tasks: 0..0,
            }));
            t = t1;
        }
    }

    pub fn select_keys(&self, q: &[f32], cache: &LayerCache, s: &mut AttnScratch) {
        let hd = self.sh.head_dim;
        let g = self.sh.n_head / self.sh.n_head_kv;
        let qdim = self.sh.n_head * hd;
        if s.sel.len() < s.items.len() {
            s.sel.resize_with(s.items.len(), Vec::new);
        }
        s.sel[..s.items.len()]
            .par_iter_mut()
            .zip(s.items.par_iter())
            .for_each(|(sel, it)| {
                sel.clear();
                let pos = self.start + it.t0;
                match (self.sparse, &cache.summaries) {
                    (Some(p), Some(sums)) if self.is_sparse(it.t0) => {
                        let qr = &q[it.t0 * qdim + it.kvh * g * hd..][..g * hd];
                        sparse::select(p, sums, it.kvh, qr, hd, pos, sel);
                    }
                    _ => {
                        let lo = self.sh.window.map_or(0, |w| (pos + 1).saturating_sub(w));
                        sel.push((lo, self.start + it.t1));
                    }
                }
            });
    }

    /// Cuts each item's key ranges into tasks of about equal key counts (whole tiles).
    pub fn tasks(&self, threads: usize, s: &mut AttnScratch) {
        let tile = tile::tile_keys(self.sh.head_dim);
        let want = TASKS_PER_THREAD * threads;
        let n_items = s.items.len();
        s.tasks.clear();
        s.task_segs.clear();
        for (i, it) in s.items.iter_mut().enumerate() {
            let ranges = &s.sel[i];
            let keys: usize = ranges.iter().map(|r| r.1 - r.0).sum();
            let splits = want.div_ceil(n_items).min(keys / MIN_SPLIT_KEYS).max(1);
            let per = keys.div_ceil(splits).next_multiple_of(tile);
            let first = s.tasks.len();
            let mut seg0 = s.task_segs.len();
            let mut left = per;
            for &(a, b) in ranges {
                let mut p = a;
                while p < b {
                    let e = b.min(p + left);
                    s.task_segs.push((p, e));
                    left -= e - p;
                    p = e;
                    if left == 0 {
                        s.tasks.push(Task {
                            item: i,
                            segs: seg0..s.task_segs.len(),
                        });
                        seg0 = s.task_segs.len();
                        left = per;
                    }
                }
            }
            if seg0 < s.task_segs.len() {
                s.tasks.push(Task {
                    item: i,
                    segs: seg0..s.task_segs.len(),
                });
            }
            it.tasks = first..s.tasks.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(window: Option<usize>) -> AttnShape {
        AttnShape {
            n_head: 4,
            n_head_kv: 2,
            head_dim: 256,
            window,
        }
    }

    #[test]
    fn prefill_blocks_tokens_and_decode_splits_keys() {
        let sh = shape(Some(100));
        let mut s = AttnScratch::default();
        // 20 tokens from position 1000: blocks of 8, 8, 4 tokens × 2 KV heads.
        let p = Plan {
            sh: &sh,
            start: 1000,
            n: 20,
            sparse: None,
        };
        p.items(&mut s);
        let spans: Vec<(usize, usize, usize)> =
            s.items.iter().map(|i| (i.t0, i.t1, i.kvh)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 8, 0),
                (0, 8, 1),
                (8, 16, 0),
                (8, 16, 1),
                (16, 20, 0),
                (16, 20, 1)
            ]
        );
        assert_eq!(s.tok_item[9], 2);
        let mut c = LayerCache::new(crate::kv::KvType::F16, 2048, Some(100), 2, 256, None).unwrap();
        c.store(0, &vec![0.0; 1020 * 512], &vec![0.0; 1020 * 512]);
        p.select_keys(&vec![0.0; 20 * 1024], &c, &mut s);
        assert_eq!(s.sel[0], vec![(901, 1008)]);
        p.tasks(2, &mut s);
        assert_eq!(s.tasks.len(), 6, "enough items: no split");
        // One decode token at position 5000 of a global layer: its 5001 keys are split
        // into tasks of whole tiles covering every key once.
        let sh = shape(None);
        let p = Plan {
            sh: &sh,
            start: 5000,
            n: 1,
            sparse: None,
        };
        p.items(&mut s);
        let c = LayerCache::new(crate::kv::KvType::F16, 8192, None, 2, 256, None).unwrap();
        p.select_keys(&vec![0.0; 1024], &c, &mut s);
        p.tasks(2, &mut s);
        assert_eq!(s.tasks.len(), 8, "2 threads × 4 tasks over 2 items");
        let mut covered = Vec::new();
        for t in &s.tasks[s.items[0].tasks.clone()] {
            covered.extend_from_slice(&s.task_segs[t.segs.clone()]);
        }
        assert_eq!(covered.first().unwrap().0, 0);
        assert_eq!(covered.last().unwrap().1, 5001);
        assert!(covered.windows(2).all(|w| w[0].1 == w[1].0));
    }
}
