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
use crate::layers::decoder::{swiglu_layers, Decoder};
use crate::layers::{Embedding, HParams, OutputHead, Rope, RopeKind};
use crate::tensor::QMatrix;

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let hp = HParams::from_gguf(&file, "qwen3", 1e-6)?;
    let e = hp.n_embd;
    let tok_embd = QMatrix::load(&file, "token_embd.weight", Some(e), None)?;
    let head = OutputHead::load(&file, e, hp.eps, &tok_embd)?;
    let layers = swiglu_layers(&file, &hp, true)?;
    let rope = Rope::new(
        RopeKind::Neox,
        hp.rope_base.unwrap_or(1_000_000.0),
        hp.n_rot,
        hp.rope_linear_scale,
        None,
    );
    let embed = Embedding {
        table: tok_embd,
        scale: None,
    };
    Decoder::new(&file, hp, embed, head, layers, rope, None)
}
