//! Gemma 3 (`general.architecture = gemma3`).
//!
//! Per layer (HF `modeling_gemma3.py`, llama.cpp `src/models/gemma3.cpp`):
//! ```text
//! h = embed(tok) · √n_embd
//! for each layer:
//!     a = attn_norm(h);  q,k,v = a·Wqᵀ, a·Wkᵀ, a·Wvᵀ
//!     q,k = rms_norm per head (q_norm, k_norm), then NeoX RoPE
//!           (base 10 000 on sliding-window layers, rope.freq_base on global ones)
//!     o = softmax(q·kᵀ · scale + mask) v   (window mask on local layers)
//!     h = h + post_attention_norm(o·Woᵀ)
//!     f = ffn_norm(h);  h = h + post_ffw_norm( (gelu_tanh(f·Wgateᵀ) ⊙ f·Wupᵀ) · Wdownᵀ )
//! logits = output_norm(h) · Embᵀ          (tied unless output.weight exists)
//! ```
//! Norms are `x / rms(x) · w`: the GGUF converter already folded Gemma's `1 + w` into `w`.
//! Every layer `i` with `(i + 1) % 6 != 0` is a sliding-window layer (pattern 6), unless the
//! file says otherwise in `gemma3.attention.sliding_window_pattern`.

use std::sync::Arc;

use wren_gguf::{GgufFile, Value};

use super::{sized, verify_cost_bytes, weight_bytes, Model, ModelInfo, SeqBatch, Workspace};
use crate::attention::sparse::SparseParams;
use crate::attention::AttnShape;
use crate::error::Result;
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
    post_attn_norm: Vec<f32>,
    ffn_norm: Vec<f32>,
    ffn: GatedFfn,
    post_ffw_norm: Vec<f32>,
}

pub struct Gemma3 {
    hp: HParams,
    info: ModelInfo,
    window: usize,
    embed: Embedding,
    head: OutputHead,
    layers: Vec<Layer>,
    rope_local: Rope,
    rope_global: Rope,
    sparse: Option<SparseParams>,
}

impl Gemma3 {
    pub fn load(file: Arc<GgufFile>) -> Result<Gemma3> {
        let hp = HParams::from_gguf(&file, "gemma3", 1e-6)?;
        let (e, hd, n_layer) = (hp.n_embd, hp.head_dim, hp.n_layer);
        let window = file.get_usize("gemma3.attention.sliding_window")?;
        let sliding: Vec<bool> = match file.get("gemma3.attention.sliding_window_pattern") {
            Some(Value::Array(v)) if v.len() == n_layer => {
                v.iter().map(|x| matches!(x, Value::Bool(true))).collect()
            }
            Some(v) if v.as_u64().is_some() => {
                let p = v.as_u64().unwrap_or(6).max(1) as usize;
                (0..n_layer).map(|i| (i + 1) % p != 0).collect()
            }
            _ => (0..n_layer).map(|i| (i + 1) % 6 != 0).collect(),
        };
        // Queries are scaled by query_pre_attn_scalar^-0.5, which is head_dim for every
        // size but 27B, where it is n_embd / n_head (llama.cpp does the same).
        let scale = if n_layer == 62 {
            1.0 / ((e / hp.n_head) as f32).sqrt()
        } else {
            1.0 / (hd as f32).sqrt()
        };
        let tok_embd = QMatrix::load(&file, "token_embd.weight", Some(e), None)?;
        let head = OutputHead::load(&file, e, hp.eps, &tok_embd)?;
        let mut layers = Vec::with_capacity(n_layer);
        for (il, &sl) in sliding.iter().enumerate() {
            let v = |s: &str| load_vector(&file, &format!("blk.{il}.{s}.weight"), e);
            layers.push(Layer {
                attn_norm: v("attn_norm")?,
                attn: Attention {
                    w: AttentionWeights::load(&file, il, &hp, true)?,
                    shape: AttnShape {
                        n_head: hp.n_head,
                        n_head_kv: hp.n_head_kv,
                        head_dim: hd,
                        window: sl.then_some(window),
                    },
                    scale,
                    eps: hp.eps,
                },
                post_attn_norm: v("post_attention_norm")?,
                ffn_norm: v("ffn_norm")?,
                ffn: GatedFfn::load(&file, il, e, hp.n_ff, Activation::GeluTanh)?,
                post_ffw_norm: v("post_ffw_norm")?,
            });
        }
        let mats = || {
            std::iter::once(&head.output).chain(
                layers
                    .iter()
                    .flat_map(|l| l.attn.w.matrices().into_iter().chain(l.ffn.matrices())),
            )
        };
        let bytes = weight_bytes(mats());
        let info = ModelInfo {
            arch: "gemma3".into(),
            name: file.get_str("general.name").unwrap_or("gemma3").to_string(),
            vocab_size: tok_embd.rows,
            n_ctx_train: hp.n_ctx_train,
            n_embd: e,
            n_layer,
            weight_bytes: bytes,
            verify_row_cost: verify_cost_bytes(mats()) / bytes.max(1) as f64,
        };
        Ok(Gemma3 {
            rope_local: Rope::new(
                RopeKind::Neox,
                hp.opt_f32(&file, "rope.freq_base_swa")?.unwrap_or(10_000.0),
                hp.n_rot,
                1.0,
                None,
            ),
            rope_global: Rope::new(
                RopeKind::Neox,
                hp.rope_base.unwrap_or(1_000_000.0),
                hp.n_rot,
                hp.rope_linear_scale,
                None,
            ),
            sparse: SparseParams::from_gguf(&file, "gemma3")?,
            embed: Embedding {
                table: tok_embd,
                scale: Some((e as f32).sqrt()),
            },
            hp,
            info,
            window,
            head,
            layers,
        })
    }

    /// Whether layer `il` is a sliding-window layer.
    pub fn is_sliding(&self, il: usize) -> bool {
        self.layers[il].attn.shape.window.is_some()
    }

    /// The sliding window, in positions.
    pub fn window(&self) -> usize {
        self.window
    }
}

impl Model for Gemma3 {
    fn output_head(&self) -> Option<&OutputHead> {
        Some(&self.head)
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn new_cache(&self, opts: &CacheOptions) -> Result<KvCache> {
        let windows = self.layers.iter().map(|l| l.attn.shape.window);
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
            let rope = match l.attn.shape.window {
                Some(_) => &self.rope_local,
                None => &self.rope_global,
            };
            rms_norm_rows(&ws.x[..n * e], &l.attn_norm, eps, sized(&mut ws.xn, n * e));
            l.attn.forward(il, rope, &plan, seqs, ws, compute);
            residual::norm_add(
                &mut ws.x[..n * e],
                &mut ws.proj[..n * e],
                &l.post_attn_norm,
                eps,
            );

            rms_norm_rows(&ws.x[..n * e], &l.ffn_norm, eps, sized(&mut ws.xn, n * e));
            l.ffn.forward(n, ws, compute);
            residual::norm_add(
                &mut ws.x[..n * e],
                &mut ws.proj[..n * e],
                &l.post_ffw_norm,
                eps,
            );
        }
        plan.advance(seqs);
        self.head.forward(&plan, seqs, ws, logits, compute);
        ws.offs = plan.into_offsets();
        Ok(())
    }
}
