//! Llama (`general.architecture = llama`): Llama 2/3.x, SmolLM/SmolLM2, Mistral-style
//! dense models and the many fine-tunes that share the layout.
//!
//! Per layer (HF `modeling_llama.py`, llama.cpp `src/models/llama.cpp`):
//! ```text
//! h = embed(tok)
//! for each layer:
//!     a = attn_norm(h);  q,k,v = a·Wqᵀ (+bq), a·Wkᵀ (+bk), a·Wvᵀ (+bv)
//!     q,k = RoPE, adjacent pairs (the converter permuted HF's rotate-half rows),
//!           frequencies divided by rope_freqs (Llama 3.x) and a linear scale if given
//!     h = h + (softmax(q·kᵀ / √head_dim + causal mask) v)·Woᵀ      (grouped KV heads)
//!     f = ffn_norm(h);  h = h + (silu(f·Wgateᵀ) ⊙ f·Wupᵀ)·Wdownᵀ
//! logits = output_norm(h) · Woutᵀ          (Wout = token_embd when the file ties them)
//! ```

use std::sync::Arc;

use wren_gguf::GgufFile;

use super::{sized, weight_bytes, Model, ModelInfo, SeqBatch, Workspace};
use crate::attention::AttnShape;
use crate::error::{Error, Result};
use crate::kv::{CacheOptions, KvCache};
use crate::layers::norm::rms_norm_rows;
use crate::layers::{
    cache, residual, Activation, Attention, AttentionWeights, BatchPlan, Embedding, GatedFfn,
    HParams, OutputHead, Rope, RopeKind,
};
use crate::linear::Compute;
use crate::tensor::{load_vector, QMatrix};

struct Layer {
    attn_norm: Vec<f32>,
    attn: Attention,
    ffn_norm: Vec<f32>,
    ffn: GatedFfn,
}

pub struct Llama {
    hp: HParams,
    info: ModelInfo,
    embed: Embedding,
    head: OutputHead,
    layers: Vec<Layer>,
    rope: Rope,
}

impl Llama {
    pub fn load(file: Arc<GgufFile>) -> Result<Llama> {
        let arch = "llama";
        if file
            .get(&format!("{arch}.expert_count"))
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
            > 0
        {
            return Err(Error::Model(
                "mixture-of-experts llama models (llama.expert_count > 0) are not supported yet"
                    .into(),
            ));
        }
        let hp = HParams::from_gguf(&file, arch, 1e-5)?;
        let (e, hd) = (hp.n_embd, hp.head_dim);
        // Llama 3.x long-context RoPE: per-frequency divisors, one per rotated pair.
        let factors = match file.tensor("rope_freqs.weight") {
            Some(_) => Some(load_vector(&file, "rope_freqs.weight", hp.n_rot / 2)?),
            None => None,
        };
        let tok_embd = QMatrix::load(&file, "token_embd.weight", Some(e), None)?;
        let head = OutputHead::load(&file, e, hp.eps, &tok_embd)?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for il in 0..hp.n_layer {
            let v = |s: &str| load_vector(&file, &format!("blk.{il}.{s}.weight"), e);
            layers.push(Layer {
                attn_norm: v("attn_norm")?,
                attn: Attention {
                    w: AttentionWeights::load(&file, il, &hp, false)?,
                    shape: AttnShape {
                        n_head: hp.n_head,
                        n_head_kv: hp.n_head_kv,
                        head_dim: hd,
                        window: None,
                    },
                    scale: 1.0 / (hd as f32).sqrt(),
                    eps: hp.eps,
                },
                ffn_norm: v("ffn_norm")?,
                ffn: GatedFfn::load(&file, il, e, hp.n_ff, Activation::Silu)?,
            });
        }
        let info = ModelInfo {
            arch: arch.into(),
            name: file.get_str("general.name").unwrap_or(arch).to_string(),
            vocab_size: tok_embd.rows,
            n_ctx_train: hp.n_ctx_train,
            n_embd: e,
            n_layer: hp.n_layer,
            weight_bytes: weight_bytes(
                std::iter::once(&head.output).chain(
                    layers
                        .iter()
                        .flat_map(|l| l.attn.w.matrices().into_iter().chain(l.ffn.matrices())),
                ),
            ),
        };
        Ok(Llama {
            rope: Rope::new(
                RopeKind::Norm,
                hp.rope_base.unwrap_or(10_000.0),
                hp.n_rot,
                hp.rope_linear_scale,
                factors.as_deref(),
            ),
            embed: Embedding {
                table: tok_embd,
                scale: None,
            },
            hp,
            info,
            head,
            layers,
        })
    }
}

impl Model for Llama {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn new_cache(&self, opts: &CacheOptions) -> Result<KvCache> {
        let windows = self.layers.iter().map(|_| None);
        cache::new_cache(opts, windows, self.hp.n_head_kv, self.hp.head_dim)
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
            residual::add(&mut ws.x[..n * e], &ws.proj[..n * e]);

            rms_norm_rows(&ws.x[..n * e], &l.ffn_norm, eps, sized(&mut ws.xn, n * e));
            l.ffn.forward(n, ws, compute);
            residual::add(&mut ws.x[..n * e], &ws.proj[..n * e]);
        }
        plan.advance(seqs);
        self.head.forward(&plan, seqs, ws, logits, compute);
        ws.offs = plan.into_offsets();
        Ok(())
    }
}
