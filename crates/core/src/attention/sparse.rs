//! InfLLM-v2 block-sparse attention for global layers (MiniCPM4; TECHNIQUES.md §1).
//!
//! The keys are cut into blocks of `block` positions; the cache keeps each complete
//! block's mean key ([`BlockSummaries`], updated as tokens are stored). A query at `pos`
//! (past `dense_len`) attends to the union of
//! - the first `sink` blocks (the attention sink),
//! - the local window: the query's own block and the blocks before it up to `window`
//!   positions (`⌈window / block⌉` blocks), so the partial last block is always included,
//! - the `topk` best of the remaining complete blocks,
//!
//! computed exactly (dense attention over those keys). Blocks are ranked per KV group: for
//! every query head `h` of the group, `p_h(b) = softmax_b(q_h · mean_b)` over all complete
//! blocks, and block b scores `Σ_h p_h(b)` (InfLLM-v2's stage 1 without the kernel/stride
//! pooling: one summary per block), so the heads of a group share one selection and read
//! each selected key once.

use std::cell::RefCell;

use wren_gguf::GgufFile;
use wren_kernels::ops;

use crate::error::{Error, Result};
use crate::kv::BlockSummaries;

/// Parameters of the block selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseParams {
    /// Positions per block.
    pub block: usize,
    /// Blocks chosen by score, besides the sink and the local window.
    pub topk: usize,
    /// Leading blocks always attended.
    pub sink: usize,
    /// Local window in positions (rounded up to whole blocks).
    pub window: usize,
    /// Queries at positions `< dense_len` attend densely.
    pub dense_len: usize,
}

impl Default for SparseParams {
    /// MiniCPM4's `sparse_config`: 64-token blocks, top 64, one sink block, a 2048-token
    /// window, dense below 8192 tokens.
    fn default() -> Self {
        SparseParams {
            block: 64,
            topk: 64,
            sink: 1,
            window: 2048,
            dense_len: 8192,
        }
    }
}

/// Metadata keys (under `<arch>.attention.sparse.`) by which a GGUF file declares that its
/// model was trained with block-sparse attention. `topk` must be present; the others
/// default as in [`SparseParams::default`]. Names follow MiniCPM4's `sparse_config`.
pub const META_PREFIX: &str = "attention.sparse";

impl SparseParams {
    /// Blocks in the local window (at least the query's own).
    pub fn local_blocks(&self) -> usize {
        self.window.div_ceil(self.block).max(1)
    }

    pub fn validate(&self) -> Result<()> {
        if self.block == 0 || self.block > 65536 {
            return Err(Error::Invalid(format!(
                "sparse block size {} is outside 1..=65536",
                self.block
            )));
        }
        Ok(())
    }

    /// The parameters the file declares (`<arch>.attention.sparse.topk` and friends), or
    /// `None` if it declares none.
    pub fn from_gguf(f: &GgufFile, arch: &str) -> Result<Option<SparseParams>> {
        let key = |k: &str| format!("{arch}.{META_PREFIX}.{k}");
        if f.get(&key("topk")).is_none() {
            return Ok(None);
        }
        let d = SparseParams::default();
        let get = |k: &str, default: usize| -> Result<usize> {
            match f.get(&key(k)) {
                None => Ok(default),
                // MiniCPM's dense_len = -1 means "always sparse".
                Some(v) => match v.as_i64() {
                    Some(x) => Ok(x.max(0) as usize),
                    None => Err(Error::Model(format!(
                        "{} must be an integer, found {}",
                        key(k),
                        v.describe()
                    ))),
                },
            }
        };
        let p = SparseParams {
            block: get("block_size", d.block)?,
            topk: get("topk", d.topk)?,
            sink: get("init_blocks", d.sink)?,
            window: get("window_size", d.window)?,
            dense_len: get("dense_len", d.dense_len)?,
        };
        p.validate().map_err(|e| Error::Model(e.to_string()))?;
        Ok(Some(p))
    }
}

/// The `<arch>.attention.sparse.*` metadata for a checkpoint's `sparse_config` (MiniCPM4's
/// `config.json` block: `block_size`, `topk`, `init_blocks`, `window_size`, `dense_len`;
/// `kernel_size`, `kernel_stride` and `use_nope` tune InfLLM-v2's training-time kernels and
/// are not used here). `topk` is required; the values are checked as a model load would.
pub fn sparse_metadata(
    arch: &str,
    sparse_config: &serde_json::Value,
) -> Result<Vec<(String, wren_gguf::Value)>> {
    let obj = sparse_config
        .as_object()
        .ok_or_else(|| Error::Invalid("sparse_config must be a JSON object".into()))?;
    if !obj.contains_key("topk") {
        return Err(Error::Invalid("sparse_config has no topk".into()));
    }
    let mut out = Vec::new();
    let mut p = SparseParams::default();
    for (k, field) in [
        ("block_size", &mut p.block),
        ("topk", &mut p.topk),
        ("init_blocks", &mut p.sink),
        ("window_size", &mut p.window),
        ("dense_len", &mut p.dense_len),
    ] {
        let Some(v) = obj.get(k) else { continue };
        let x = v
            .as_i64()
            .filter(|x| *x >= -1 && *x <= i32::MAX as i64)
            .ok_or_else(|| Error::Invalid(format!("sparse_config.{k} = {v} is not an integer")))?;
        *field = x.max(0) as usize;
        out.push((
            format!("{arch}.{META_PREFIX}.{k}"),
            wren_gguf::Value::I32(x as i32),
        ));
    }
    p.validate()?;
    Ok(out)
}

/// What a session asks for: on/off (`None`: as the model declares) and parameter
/// overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseSettings {
    pub enabled: Option<bool>,
    pub block: Option<usize>,
    pub topk: Option<usize>,
    pub sink: Option<usize>,
    pub window: Option<usize>,
    pub dense_len: Option<usize>,
}

impl SparseSettings {
    fn any_param(&self) -> bool {
        self.block.is_some()
            || self.topk.is_some()
            || self.sink.is_some()
            || self.window.is_some()
            || self.dense_len.is_some()
    }

    /// The parameters in effect: on if asked, or if the model declares sparse attention
    /// and it is not turned off; values from the overrides, else the model's, else the
    /// defaults. Parameters for a model that runs dense are refused rather than ignored.
    pub fn resolve(&self, declared: Option<&SparseParams>) -> Result<Option<SparseParams>> {
        let on = self.enabled.unwrap_or(declared.is_some());
        if !on {
            if self.any_param() {
                return Err(Error::Invalid(if self.enabled == Some(false) {
                    "sparse-attention parameters were given with sparse attention off".into()
                } else {
                    "sparse-attention parameters were given, but sparse attention is off for \
                     this model (it does not declare it): turn it on explicitly (--sparse on)"
                        .into()
                }));
            }
            return Ok(None);
        }
        let base = declared.copied().unwrap_or_default();
        let p = SparseParams {
            block: self.block.unwrap_or(base.block),
            topk: self.topk.unwrap_or(base.topk),
            sink: self.sink.unwrap_or(base.sink),
            window: self.window.unwrap_or(base.window),
            dense_len: self.dense_len.unwrap_or(base.dense_len),
        };
        p.validate()?;
        Ok(Some(p))
    }
}

thread_local! {
    /// Per-thread scratch: logits over blocks, and the group's summed probabilities.
    static SCORES: RefCell<(Vec<f32>, Vec<f32>, Vec<u32>)> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Appends to `out` the key ranges (sorted, disjoint, merged) that the query at `pos`
/// attends to. `q` holds the `g` query heads of KV head `h` (`[g, hd]`, pre-scaled);
/// `sums` the block summaries of the layer, valid for every block before `pos`'s.
pub fn select(
    p: &SparseParams,
    sums: &BlockSummaries,
    h: usize,
    q: &[f32],
    hd: usize,
    pos: usize,
    out: &mut Vec<(usize, usize)>,
) {
    let n = pos + 1;
    let b = p.block;
    debug_assert_eq!(sums.block(), b);
    let qb = pos / b;
    let local_first = (qb + 1).saturating_sub(p.local_blocks());
    let sink = p.sink.min(local_first);
    if n <= p.dense_len {
        out.push((0, n));
        return;
    }
    let means = sums.head(h);
    let k = p.topk.min(local_first - sink);
    SCORES.with(|s| {
        let (logits, score, idx) = &mut *s.borrow_mut();
        logits.resize(qb, 0.0);
        score.clear();
        score.resize(qb, 0.0);
        // Scores only matter when some candidates are left out.
        let rank = k < local_first - sink;
        for qh in q.chunks_exact(hd).take(if rank { usize::MAX } else { 0 }) {
            for (l, m) in logits.iter_mut().zip(means.chunks_exact(hd)) {
                *l = ops::dot(qh, m);
            }
            let max = logits.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x));
            let sum: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
            let lse = max + sum.ln();
            for (s, &l) in score.iter_mut().zip(logits.iter()) {
                *s += (l - lse).exp();
            }
        }
        idx.clear();
        idx.extend(sink as u32..local_first as u32);
        let by_score = |a: &u32, c: &u32| {
            score[*c as usize]
                .total_cmp(&score[*a as usize])
                .then(a.cmp(c))
        };
        if rank && k > 0 {
            idx.select_nth_unstable_by(k - 1, by_score);
        }
        idx.truncate(k);
        idx.sort_unstable();
        let mut push = |a: usize, e: usize| match out.last_mut() {
            Some(last) if last.1 == a => last.1 = e,
            _ => out.push((a, e)),
        };
        if sink > 0 {
            push(0, sink * b);
        }
        for &i in idx.iter() {
            push(i as usize * b, (i as usize + 1) * b);
        }
        push(local_first * b, n);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(block: usize, topk: usize, sink: usize, window: usize) -> SparseParams {
        SparseParams {
            block,
            topk,
            sink,
            window,
            dense_len: 0,
        }
    }

    #[test]
    fn settings_resolve() {
        let off = SparseSettings::default();
        assert_eq!(off.resolve(None).unwrap(), None);
        let declared = params(32, 8, 1, 256);
        assert_eq!(off.resolve(Some(&declared)).unwrap(), Some(declared));
        let no = SparseSettings {
            enabled: Some(false),
            ..Default::default()
        };
        assert_eq!(no.resolve(Some(&declared)).unwrap(), None);
        let on = SparseSettings {
            enabled: Some(true),
            topk: Some(3),
            ..Default::default()
        };
        let p = on.resolve(None).unwrap().unwrap();
        assert_eq!((p.block, p.topk, p.dense_len), (64, 3, 8192));
        let p = on.resolve(Some(&declared)).unwrap().unwrap();
        assert_eq!((p.block, p.topk), (32, 3));
        let implicit = SparseSettings {
            topk: Some(3),
            ..Default::default()
        };
        assert!(implicit.resolve(None).is_err());
        let bad = SparseSettings {
            enabled: Some(true),
            block: Some(0),
            ..Default::default()
        };
        assert!(bad.resolve(None).unwrap_err().to_string().contains("block"));
    }

    /// Summaries where block `hot` matches the query and every other block is orthogonal.
    fn planted(n_blocks: usize, block: usize, hd: usize, hot: &[usize]) -> BlockSummaries {
        let mut s = BlockSummaries::new(block, 1, hd, n_blocks * block);
        for b in 0..n_blocks {
            let mut keys = vec![0f32; block * hd];
            for r in 0..block {
                keys[r * hd + 1] = 1.0;
                if hot.contains(&b) {
                    keys[r * hd] = 5.0;
                }
            }
            s.set(0, b, &keys);
        }
        s
    }

    #[test]
    fn selects_sink_topk_and_window() {
        let (block, hd) = (4, 8);
        let sums = planted(16, block, hd, &[3, 7]);
        let mut q = vec![0f32; 2 * hd];
        q[0] = 1.0; // both heads look for dimension 0
        q[hd] = 1.0;
        let mut out = Vec::new();
        // pos 50: block 12; window 8 positions = 2 blocks (11, 12); sink block 0.
        select(&params(block, 2, 1, 8), &sums, 0, &q, hd, 50, &mut out);
        assert_eq!(out, vec![(0, 4), (12, 16), (28, 32), (44, 51)]);
        // topk 1 keeps only the better one (ties broken towards the earlier block).
        out.clear();
        select(&params(block, 1, 1, 8), &sums, 0, &q, hd, 50, &mut out);
        assert_eq!(out, vec![(0, 4), (12, 16), (44, 51)]);
        // Enough top-k for every candidate: dense.
        out.clear();
        select(&params(block, 10, 1, 8), &sums, 0, &q, hd, 50, &mut out);
        assert_eq!(out, vec![(0, 51)]);
        // Adjacent selections merge.
        let sums = planted(16, block, hd, &[1, 2]);
        out.clear();
        select(&params(block, 2, 1, 8), &sums, 0, &q, hd, 50, &mut out);
        assert_eq!(out, vec![(0, 12), (44, 51)]);
    }

    #[test]
    fn dense_below_dense_len() {
        let sums = planted(16, 4, 8, &[3]);
        let q = vec![1f32; 8];
        let mut p = params(4, 1, 1, 4);
        p.dense_len = 100;
        let mut out = Vec::new();
        select(&p, &sums, 0, &q, 8, 50, &mut out);
        assert_eq!(out, vec![(0, 51)]);
    }
}
