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
use crate::layers::decoder::{swiglu_layers, Decoder};
use crate::layers::{Embedding, HParams, OutputHead, Rope, RopeKind};
use crate::tensor::{load_vector, QMatrix};

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
    let e = hp.n_embd;
    // Llama 3.x long-context RoPE: per-frequency divisors, one per rotated pair.
    let factors = match file.tensor("rope_freqs.weight") {
        Some(_) => Some(load_vector(&file, "rope_freqs.weight", hp.n_rot / 2)?),
        None => None,
    };
    let tok_embd = QMatrix::load(&file, "token_embd.weight", Some(e), None)?;
    let head = OutputHead::load(&file, e, hp.eps, &tok_embd)?;
    let layers = swiglu_layers(&file, &hp, false)?;
    let rope = Rope::new(
        RopeKind::Norm,
        hp.rope_base.unwrap_or(10_000.0),
        hp.n_rot,
        hp.rope_linear_scale,
        factors.as_deref(),
    );
    let embed = Embedding {
        table: tok_embd,
        scale: None,
    };
    Decoder::new(&file, hp, embed, head, layers, rope, None)
}
