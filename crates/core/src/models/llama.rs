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

use crate::error::{Error, Result};
use crate::layers::decoder::{swiglu_layers, Decoder, Wiring};
use crate::layers::{HParams, RopeKind};
use crate::tensor::load_vector;

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let arch = "llama";
    if file
        .get(&format!("{arch}.expert_count"))
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
        > 0
    {
        return Err(Error::Model(
            "mixture-of-experts llama models (llama.expert_count > 0) are not supported yet".into(),
        ));
    }
    let hp = HParams::from_gguf(&file, arch, 1e-5)?;
    // Llama 3.x long-context RoPE: per-frequency divisors, one per rotated pair.
    let factors = match file.tensor("rope_freqs.weight") {
        Some(_) => Some(load_vector(&file, "rope_freqs.weight", hp.n_rot / 2)?),
        None => None,
    };
    let layers = swiglu_layers(&file, &hp, false)?;
    let wiring = Wiring {
        rope_factors: factors.as_deref(),
        ..Wiring::rope(RopeKind::Norm, 10_000.0)
    };
    Decoder::build(&file, hp, layers, wiring)
}
