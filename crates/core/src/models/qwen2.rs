//! Qwen2 / Qwen2.5 (`general.architecture = qwen2`).
//!
//! Per layer (HF `modeling_qwen2.py`, llama.cpp `src/models/qwen2.cpp`): Llama's pre-norm
//! decoder with biases on the Q, K and V projections and RoPE over halves of each head
//! (NeoX pairing `(i, i + d/2)`: the converter keeps HF's rotate-half layout):
//! ```text
//! h = embed(tok)
//! for each layer:
//!     a = attn_norm(h);  q,k,v = a·Wqᵀ + bq, a·Wkᵀ + bk, a·Wvᵀ + bv
//!     h = h + attention(rope_neox(q), rope_neox(k), v)·Woᵀ      (grouped KV heads)
//!     h = h + (silu(f·Wgateᵀ) ⊙ f·Wupᵀ)·Wdownᵀ,  f = ffn_norm(h)
//! logits = output_norm(h) · Woutᵀ          (Wout = token_embd when the file ties them)
//! ```

use std::sync::Arc;

use wren_gguf::GgufFile;

use crate::error::Result;
use crate::layers::decoder::{swiglu_layers, Decoder, Wiring};
use crate::layers::{HParams, RopeKind};

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let hp = HParams::from_gguf(&file, "qwen2", 1e-6)?;
    let layers = swiglu_layers(&file, &hp, false)?;
    Decoder::build(&file, hp, layers, Wiring::rope(RopeKind::Neox, 1_000_000.0))
}
