//! The pre-norm decoder most families share, wired once:
//!
//! ```text
//! h = embed(tok) (· embedding scale)
//! for each layer:
//!     h = h + r · attention(attn_norm(h))      (RoPE, GQA, optional biases / Q-K norms)
//!     h = h + r · ffn(ffn_norm(h))             (gated: silu(gate) ⊙ up, then down)
//! logits = output_norm(h) · Woutᵀ (· logit scale)
//! ```
//!
//! `r` is 1 except for MiniCPM's depth-scaled residuals. A family file (`models/<arch>.rs`)
//! reads its hyperparameters, loads each layer's blocks the way its tensors are laid out
//! (separate or fused, with or without biases and norms), picks the RoPE pairing and the
//! scales, and hands the parts to [`Decoder::new`]; the result is the [`Model`].

use std::sync::Arc;

use wren_gguf::GgufFile;

use super::norm::rms_norm_rows;
use super::{
    cache, residual, Attention, AttentionWeights, BatchPlan, Embedding, Ffn, GatedFfn, HParams,
    OutputHead, Rope, RopeKind,
};
use crate::attention::sparse::SparseParams;
use crate::attention::AttnShape;
use crate::error::Result;
use crate::kv::{CacheOptions, KvCache};
use crate::linear::Compute;
use crate::models::{
    sized, verify_cost_bytes, weight_bytes, Model, ModelInfo, SeqBatch, Workspace,
};
use crate::tensor::{load_vector, QMatrix};

/// One pre-norm layer.
pub struct DecoderLayer {
    pub attn_norm: Vec<f32>,
    pub attn: Attention,
    pub ffn_norm: Vec<f32>,
    pub ffn: Ffn,
}

impl DecoderLayer {
    /// Layer `il`'s norms (`attn_norm`, `ffn_norm`) around the given blocks; attention
    /// over all heads with the usual `1/√head_dim` query scale and no window.
    pub fn load(
        file: &Arc<GgufFile>,
        il: usize,
        hp: &HParams,
        w: AttentionWeights,
        ffn: impl Into<Ffn>,
    ) -> Result<DecoderLayer> {
        let v = |s: &str| load_vector(file, &format!("blk.{il}.{s}.weight"), hp.n_embd);
        Ok(DecoderLayer {
            attn_norm: v("attn_norm")?,
            attn: Attention {
                w,
                shape: AttnShape {
                    n_head: hp.n_head,
                    n_head_kv: hp.n_head_kv,
                    head_dim: hp.head_dim,
                    window: None,
                },
                scale: 1.0 / (hp.head_dim as f32).sqrt(),
                eps: hp.eps,
            },
            ffn_norm: v("ffn_norm")?,
            ffn: ffn.into(),
        })
    }
}

/// Every layer of a file with separate `attn_{q,k,v}` and `ffn_{gate,up,down}` tensors and
/// a SiLU gate (Llama, Qwen2, Qwen3, MiniCPM): Q/K/V biases where the file has them,
/// per-head Q/K norms when `qk_norm`.
pub fn swiglu_layers(
    file: &Arc<GgufFile>,
    hp: &HParams,
    qk_norm: bool,
) -> Result<Vec<DecoderLayer>> {
    (0..hp.n_layer)
        .map(|il| {
            let w = AttentionWeights::load(file, il, hp, qk_norm)?;
            let ffn = GatedFfn::load(file, il, hp.n_embd, hp.n_ff, super::Activation::Silu)?;
            DecoderLayer::load(file, il, hp, w, ffn)
        })
        .collect()
}

/// What a family sets beyond its layers: the RoPE pairing and base (used when the file
/// gives none), per-frequency RoPE factors, and MiniCPM's μP scales.
pub struct Wiring<'a> {
    pub rope: RopeKind,
    pub rope_base: f32,
    pub rope_factors: Option<&'a [f32]>,
    /// Multiplies the token embeddings.
    pub embed_scale: Option<f32>,
    /// Multiplies the logits.
    pub logit_scale: Option<f32>,
    /// Multiplies each residual branch before it is added.
    pub residual_scale: Option<f32>,
}

impl Wiring<'_> {
    /// The plain wiring: this RoPE pairing and default base, nothing scaled.
    pub fn rope(rope: RopeKind, rope_base: f32) -> Wiring<'static> {
        Wiring {
            rope,
            rope_base,
            rope_factors: None,
            embed_scale: None,
            logit_scale: None,
            residual_scale: None,
        }
    }
}

/// A pre-norm decoder model.
pub struct Decoder {
    hp: HParams,
    info: ModelInfo,
    embed: Embedding,
    head: OutputHead,
    layers: Vec<DecoderLayer>,
    rope: Rope,
    /// Residual branches are multiplied by this before they are added (MiniCPM).
    residual_scale: Option<f32>,
    /// Block-sparse attention the file declares (`<arch>.attention.sparse.*`).
    sparse: Option<SparseParams>,
}

impl Decoder {
    /// Assembles the model; the block-sparse attention parameters the file declares, if
    /// any, become its default.
    pub fn new(
        file: &GgufFile,
        hp: HParams,
        embed: Embedding,
        head: OutputHead,
        layers: Vec<DecoderLayer>,
        rope: Rope,
        residual_scale: Option<f32>,
    ) -> Result<Decoder> {
        let mats =
            || std::iter::once(&head.output).chain(layers.iter().flat_map(|l| l.attn.w.matrices()));
        let weight_bytes = weight_bytes(mats())
            + layers
                .iter()
                .map(|l| l.ffn.bytes_per_token())
                .sum::<usize>();
        let info = ModelInfo {
            arch: hp.arch.clone(),
            name: file.get_str("general.name").unwrap_or(&hp.arch).to_string(),
            vocab_size: embed.vocab(),
            n_ctx_train: hp.n_ctx_train,
            n_embd: hp.n_embd,
            n_layer: hp.n_layer,
            weight_bytes,
            verify_row_cost: (verify_cost_bytes(mats())
                + layers
                    .iter()
                    .map(|l| l.ffn.verify_cost_bytes())
                    .sum::<f64>())
                / weight_bytes.max(1) as f64,
        };
        Ok(Decoder {
            sparse: SparseParams::from_gguf(file, &hp.arch)?,
            hp,
            info,
            embed,
            head,
            layers,
            rope,
            residual_scale,
        })
    }

    /// The model around `layers`: the token embedding (`token_embd`), the output head
    /// (tied to it when the file has no `output`) and RoPE, wired as `w` says.
    pub fn build(
        file: &Arc<GgufFile>,
        hp: HParams,
        layers: Vec<DecoderLayer>,
        w: Wiring<'_>,
    ) -> Result<Decoder> {
        let e = hp.n_embd;
        let table = QMatrix::load(file, "token_embd.weight", Some(e), None)?;
        let mut head = OutputHead::load(file, e, hp.eps, &table)?;
        head.scale = w.logit_scale;
        let rope = Rope::new(
            w.rope,
            hp.rope_base.unwrap_or(w.rope_base),
            hp.n_rot,
            hp.rope_linear_scale,
            w.rope_factors,
        );
        let embed = Embedding {
            table,
            scale: w.embed_scale,
        };
        Decoder::new(file, hp, embed, head, layers, rope, w.residual_scale)
    }

    fn join(&self, x: &mut [f32], y: &[f32]) {
        match self.residual_scale {
            Some(s) => residual::add_scaled(x, y, s),
            None => residual::add(x, y),
        }
    }
}

impl Model for Decoder {
    fn output_head(&self) -> Option<&OutputHead> {
        Some(&self.head)
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn new_cache(&self, opts: &CacheOptions) -> Result<KvCache> {
        let windows = self.layers.iter().map(|_| None);
        cache::new_cache(opts, windows, self.hp.n_head_kv, self.hp.head_dim)
    }

    fn declared_sparse(&self) -> Option<&SparseParams> {
        self.sparse.as_ref()
    }

    fn forward_batch(
        &self,
        seqs: &mut [SeqBatch<'_>],
        logits: &mut Vec<f32>,
        ws: &mut Workspace,
        compute: Compute,
    ) -> Result<()> {
        let plan = BatchPlan::new(seqs, &self.info, std::mem::take(&mut ws.offs))?;
        let (n, e, eps) = (plan.rows(), self.hp.n_embd, self.hp.eps);
        self.embed.forward(seqs, sized(&mut ws.x, n * e));
        for (il, l) in self.layers.iter().enumerate() {
            rms_norm_rows(&ws.x[..n * e], &l.attn_norm, eps, sized(&mut ws.xn, n * e));
            l.attn.forward(il, &self.rope, &plan, seqs, ws, compute);
            self.join(&mut ws.x[..n * e], &ws.proj[..n * e]);

            rms_norm_rows(&ws.x[..n * e], &l.ffn_norm, eps, sized(&mut ws.xn, n * e));
            l.ffn.forward(n, ws, compute);
            self.join(&mut ws.x[..n * e], &ws.proj[..n * e]);
        }
        plan.advance(seqs);
        self.head.forward(&plan, seqs, ws, logits, compute);
        ws.offs = plan.into_offsets();
        Ok(())
    }
}
