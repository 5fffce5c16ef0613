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
//! MiniCPM4's LongRoPE (`rope.scaling.type = longrope`): frequencies divided by the
//! `rope_factors_short` factors, which HF and llama.cpp use up to the original context;
//! where the long factors differ, the context is capped there. HF's LongRoPE attention
//! factor is 1 for MiniCPM4 (`max_position_embeddings` = the original length), and the
//! converter writes none, so none is applied.

use std::sync::Arc;

use wren_gguf::GgufFile;

use crate::error::{Error, Result};
use crate::layers::decoder::{swiglu_layers, Decoder, Wiring};
use crate::layers::{HParams, RopeKind};
use crate::tensor::load_vector;

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let mut hp = HParams::from_gguf_longrope(&file, "minicpm", 1e-5)?;
    let factors = if hp.longrope {
        let half = hp.n_rot / 2;
        let short = load_vector(&file, "rope_factors_short.weight", half)?;
        let long = load_vector(&file, "rope_factors_long.weight", half)?;
        let orig = file.get("minicpm.rope.scaling.original_context_length");
        if let (true, Some(o)) = (long != short, orig.and_then(|v| v.as_u64())) {
            hp.n_ctx_train = hp.n_ctx_train.min(o as usize);
        }
        Some(short)
    } else {
        None
    };
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
    let layers = swiglu_layers(&file, &hp, false)?;
    let wiring = Wiring {
        rope_factors: factors.as_deref(),
        embed_scale: Some(emb_scale),
        logit_scale: Some(1.0 / logit_scale),
        residual_scale: Some(res_scale),
        ..Wiring::rope(RopeKind::Norm, 10_000.0)
    };
    Decoder::build(&file, hp, layers, wiring)
}
