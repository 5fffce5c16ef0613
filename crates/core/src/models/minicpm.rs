//! MiniCPM 1/2 and MiniCPM4 (`general.architecture = minicpm`).
//!
//! Llama's layers with μP scales (openbmb `modeling_minicpm.py`, llama.cpp
//! `src/models/granite.cpp`, which `minicpm` shares; the converter writes
//! `embedding_scale = scale_emb`, `residual_scale = scale_depth / √n_layer` and
//! `logit_scale = hidden_size / dim_model_base`):
//! ```text
//! h = embed(tok) · embedding_scale
//! for each layer:
//!     h = h + residual_scale · attention(attn_norm(h))   (adjacent-pair RoPE: the
//!                                                         converter permuted Q/K rows)
//!     h = h + residual_scale · (silu(f·Wgateᵀ) ⊙ f·Wupᵀ)·Wdownᵀ,  f = ffn_norm(h)
//! logits = output_norm(h) · Woutᵀ / logit_scale
//! ```
//! MiniCPM4 was trained with InfLLM-v2 block-sparse attention. llama.cpp's converter
//! writes none of its `sparse_config`; `wren sparsify --from-config config.json` adds it as
//! `minicpm.attention.sparse.*`, and a file that carries it runs sparse by default.
//! LongRoPE factors (`rope_factors_{long,short}`) are refused rather than ignored.

use std::sync::Arc;

use wren_gguf::GgufFile;

use crate::error::{Error, Result};
use crate::layers::decoder::{Decoder, DecoderLayer};
use crate::layers::{
    Activation, AttentionWeights, Embedding, GatedFfn, HParams, OutputHead, Rope, RopeKind,
};
use crate::tensor::QMatrix;

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let hp = HParams::from_gguf(&file, "minicpm", 1e-5)?;
    if file.tensor("rope_factors_long.weight").is_some() {
        return Err(Error::Model(
            "minicpm: LongRoPE factors (rope_factors_long/short) are not supported yet".into(),
        ));
    }
    // llama.cpp's defaults when a key is missing (MiniCPM-2B's values).
    let emb_scale = hp.opt_f32(&file, "embedding_scale")?.unwrap_or(12.0);
    let res_scale = hp
        .opt_f32(&file, "residual_scale")?
        .unwrap_or(1.4 / (hp.n_layer as f32).sqrt());
    let logit_scale = hp
        .opt_f32(&file, "logit_scale")?
        .unwrap_or(256.0 / hp.n_embd as f32);
    if [emb_scale, res_scale, logit_scale]
        .iter()
        .any(|s| !(s.is_finite() && *s > 0.0))
    {
        return Err(Error::Model(format!(
            "minicpm: bad μP scales (embedding {emb_scale}, residual {res_scale}, logit {logit_scale})"
        )));
    }
    let e = hp.n_embd;
    let tok_embd = QMatrix::load(&file, "token_embd.weight", Some(e), None)?;
    let mut head = OutputHead::load(&file, e, hp.eps, &tok_embd)?;
    head.scale = Some(1.0 / logit_scale);
    let layers = (0..hp.n_layer)
        .map(|il| {
            let w = AttentionWeights::load(&file, il, &hp, false)?;
            let ffn = GatedFfn::load(&file, il, e, hp.n_ff, Activation::Silu)?;
            DecoderLayer::load(&file, il, &hp, w, ffn)
        })
        .collect::<Result<Vec<_>>>()?;
    let rope = Rope::new(
        RopeKind::Norm,
        hp.rope_base.unwrap_or(10_000.0),
        hp.n_rot,
        hp.rope_linear_scale,
        None,
    );
    let embed = Embedding {
        table: tok_embd,
        scale: Some(emb_scale),
    };
    Decoder::new(&file, hp, embed, head, layers, rope, Some(res_scale))
}
