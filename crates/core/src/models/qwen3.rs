//! Qwen3 dense (`general.architecture = qwen3`).
//!
//! Per layer (HF `modeling_qwen3.py`, llama.cpp `src/models/qwen3.cpp`): Qwen2 without the
//! Q/K/V biases, with an RMS norm over every query and key head before RoPE, and a head
//! size of its own (`attention.key_length`, e.g. 128 × 16 heads on a 1024-wide model):
//! ```text
//! h = embed(tok)
//! for each layer:
//!     a = attn_norm(h);  q,k,v = a·Wqᵀ, a·Wkᵀ, a·Wvᵀ
//!     q,k = rope_neox(q_norm(q_head)), rope_neox(k_norm(k_head))   (per head)
//!     h = h + attention(q, k, v)·Woᵀ                               (grouped KV heads)
//!     h = h + (silu(f·Wgateᵀ) ⊙ f·Wupᵀ)·Wdownᵀ,  f = ffn_norm(h)
//! logits = output_norm(h) · Woutᵀ          (Wout = token_embd when the file ties them)
//! ```

use std::sync::Arc;

use wren_gguf::GgufFile;

use crate::error::Result;
use crate::layers::decoder::{swiglu_layers, Decoder, Wiring};
use crate::layers::{HParams, RopeKind};

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let hp = HParams::from_gguf(&file, "qwen3", 1e-6)?;
    let layers = swiglu_layers(&file, &hp, true)?;
    Decoder::build(&file, hp, layers, Wiring::rope(RopeKind::Neox, 1_000_000.0))
}
