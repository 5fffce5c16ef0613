//! Model architectures: one file per `general.architecture`, all behind [`Model`].

use std::ops::Range;
use std::sync::Arc;

use wren_gguf::GgufFile;

use crate::attention::sparse::SparseParams;
use crate::attention::AttnScratch;
use crate::error::{Error, Result};
use crate::kv::{CacheOptions, KvCache};
use crate::layers::moe::MoeScratch;
use crate::linear::{Compute, LinearScratch};

pub mod gemma3;
pub mod llama;
pub mod minicpm;
pub mod phi3;
pub mod qwen2;
pub mod qwen3;
pub mod qwen3moe;

use crate::tensor::QMatrix;

/// What callers need to know about a loaded model.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub arch: String,
    pub name: String,
    pub vocab_size: usize,
    /// Context length the model was trained for.
    pub n_ctx_train: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    /// Bytes of weights read per decoded token (all matrices, the output head included;
    /// a mixture of experts counts its router and the experts one token uses).
    pub weight_bytes: usize,
    /// What a drafted row adds to a speculative verify pass, as a share of a decode
    /// step's matrix products: the mean of the matrices' [`QMatrix::verify_row_cost`]
    /// weighted by their bytes per token (the cost model of `generate::step`).
    pub verify_row_cost: f64,
}

/// Activation buffers reused across forward calls; they grow to the largest batch seen.
#[derive(Default)]
pub struct Workspace {
    pub x: Vec<f32>,
    pub xn: Vec<f32>,
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub att: Vec<f32>,
    pub proj: Vec<f32>,
    pub ff_a: Vec<f32>,
    pub ff_b: Vec<f32>,
    pub head_in: Vec<f32>,
    /// One attention scratch per sequence of a pass (sequences attend in parallel).
    pub attn: Vec<AttnScratch>,
    /// Row offsets of the sequences in a batched pass.
    pub offs: Vec<usize>,
    pub lin: LinearScratch,
    /// Routing scratch of mixture-of-experts layers.
    pub moe: MoeScratch,
}

/// Resize `v` to `n` elements, reusing its memory.
pub(crate) fn sized(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// A decoder-only language model.
pub trait Model: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// A fresh cache for a context of `opts.ctx` tokens, every layer's memory allocated
    /// now. Fails if the model's head size does not fit the element type.
    fn new_cache(&self, opts: &CacheOptions) -> Result<KvCache>;

    /// Block-sparse attention parameters the model was trained with (declared in its
    /// metadata); such models run sparse by default.
    fn declared_sparse(&self) -> Option<&SparseParams> {
        None
    }

    /// The output head (final norm and vocabulary projection), for drafting with a part of
    /// it (FR-Spec, [`crate::generate::FrDraft`]); `None` where a model does not expose it.
    fn output_head(&self) -> Option<&crate::layers::head::OutputHead> {
        None
    }

    /// Process several sequences in one pass: every sequence's `tokens` go at positions
    /// `cache.pos..` of its own cache; the matrix products run over all rows at once.
    /// `logits` receives `[Σ want.len(), vocab]`: each sequence's wanted rows, in order.
    fn forward_batch(
        &self,
        seqs: &mut [SeqBatch<'_>],
        logits: &mut Vec<f32>,
        ws: &mut Workspace,
        compute: Compute,
    ) -> Result<()>;

    /// Process `tokens` at positions `cache.pos..`, append them to the cache, and write the
    /// logits of batch rows `want` (indices into `tokens`) to `logits` as `[want.len(), vocab]`.
    fn forward(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        want: Range<usize>,
        logits: &mut Vec<f32>,
        ws: &mut Workspace,
        compute: Compute,
    ) -> Result<()> {
        let mut one = [SeqBatch {
            cache,
            tokens,
            want,
        }];
        self.forward_batch(&mut one, logits, ws, compute)
    }
}

/// One sequence's share of a batched forward pass.
pub struct SeqBatch<'a> {
    pub cache: &'a mut KvCache,
    pub tokens: &'a [u32],
    /// Rows of `tokens` whose logits are wanted.
    pub want: Range<usize>,
}

/// The architectures [`load`] knows (`general.architecture` values).
pub const SUPPORTED_ARCHS: &[&str] = &[
    "gemma3", "llama", "minicpm", "phi3", "qwen2", "qwen3", "qwen3moe",
];

/// Bytes of weights read per token: every matrix once.
pub(crate) fn weight_bytes<'a>(mats: impl Iterator<Item = &'a QMatrix>) -> usize {
    mats.map(|m| m.n_bytes()).sum()
}

/// Σ bytes · [`QMatrix::verify_row_cost`] over `mats` (divided by [`weight_bytes`], the
/// [`ModelInfo::verify_row_cost`]).
pub(crate) fn verify_cost_bytes<'a>(mats: impl Iterator<Item = &'a QMatrix>) -> f64 {
    mats.map(|m| m.n_bytes() as f64 * m.verify_row_cost()).sum()
}

/// Build the model named by the file's `general.architecture`.
pub fn load(file: Arc<GgufFile>) -> Result<Box<dyn Model>> {
    let arch = file.get_str("general.architecture")?.to_string();
    match arch.as_str() {
        "gemma3" => Ok(Box::new(gemma3::Gemma3::load(file)?)),
        "llama" => Ok(Box::new(llama::load(file)?)),
        "minicpm" => Ok(Box::new(minicpm::load(file)?)),
        "phi3" => Ok(Box::new(phi3::load(file)?)),
        "qwen2" => Ok(Box::new(qwen2::load(file)?)),
        "qwen3" => Ok(Box::new(qwen3::load(file)?)),
        "qwen3moe" => Ok(Box::new(qwen3moe::load(file)?)),
        _ => Err(Error::UnsupportedArch(arch)),
    }
}
