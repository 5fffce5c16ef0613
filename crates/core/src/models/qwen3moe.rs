//! Qwen3-MoE (`general.architecture = qwen3moe`).
//!
//! Qwen3's attention (Q/K RMS norms per head, NeoX RoPE, its own head size) with every
//! layer's FFN a mixture of experts (HF `modeling_qwen3_moe.py`, llama.cpp
//! `src/models/qwen3moe.cpp`):
//! ```text
//! h = embed(tok)
//! for each layer:
//!     h = h + attention(attn_norm(h))                         (as Qwen3)
//!     f = ffn_norm(h);  p = softmax(f·Wrouterᵀ);  E = top-k(p)
//!     h = h + Σ_{e∈E} (p_e / Σ_E p) · down_e(silu(gate_e(f)) ⊙ up_e(f))
//! logits = output_norm(h) · Woutᵀ
//! ```
//! llama.cpp always renormalizes the chosen experts' weights for this architecture (the
//! released checkpoints set `norm_topk_prob`), so a file without
//! `qwen3moe.expert_weights_norm` is read the same way.

use std::sync::Arc;

use wren_gguf::GgufFile;

use crate::error::Result;
use crate::layers::decoder::{Decoder, DecoderLayer, Wiring};
use crate::layers::{Activation, AttentionWeights, HParams, MoeFfn, MoeParams, RopeKind};

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let hp = HParams::from_gguf(&file, "qwen3moe", 1e-6)?;
    let moe = MoeParams::from_gguf(&file, "qwen3moe", hp.n_ff, true)?;
    let e = hp.n_embd;
    let layers = (0..hp.n_layer)
        .map(|il| {
            let w = AttentionWeights::load(&file, il, &hp, true)?;
            let ffn = MoeFfn::load(&file, il, e, moe, Activation::Silu)?;
            DecoderLayer::load(&file, il, &hp, w, ffn)
        })
        .collect::<Result<Vec<_>>>()?;
    Decoder::build(&file, hp, layers, Wiring::rope(RopeKind::Neox, 1_000_000.0))
}
