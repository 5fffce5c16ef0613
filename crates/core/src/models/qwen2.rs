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
use crate::layers::decoder::{swiglu_layers, Decoder};
use crate::layers::{Embedding, HParams, OutputHead, Rope, RopeKind};
use crate::tensor::QMatrix;

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let hp = HParams::from_gguf(&file, "qwen2", 1e-6)?;
    let e = hp.n_embd;
    let tok_embd = QMatrix::load(&file, "token_embd.weight", Some(e), None)?;
    let head = OutputHead::load(&file, e, hp.eps, &tok_embd)?;
    let layers = swiglu_layers(&file, &hp, false)?;
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
