//! Phi-3 / Phi-3.5 / Phi-4-mini (`general.architecture = phi3`).
//!
//! Per layer (HF `modeling_phi3.py`, llama.cpp `src/models/phi3.cpp`): a pre-norm decoder
//! whose Q, K and V live in one fused tensor (`attn_qkv`, rows `[Q; K; V]`) and whose
//! gate and up projections live in one fused `ffn_up` (rows `[gate; up]`); RoPE over
//! halves of the first `rope.dimension_count` dimensions of each head (NeoX pairing;
//! Phi-4-mini rotates 3/4 of each head and leaves the rest as it is):
//! ```text
//! h = embed(tok)
//! for each layer:
//!     a = attn_norm(h);  [q; k; v] = a·Wqkvᵀ
//!     h = h + attention(rope_neox_partial(q), rope_neox_partial(k), v)·Woᵀ
//!     f = ffn_norm(h);  [g; u] = f·Wupᵀ;  h = h + (silu(g) ⊙ u)·Wdownᵀ
//! logits = output_norm(h) · Woutᵀ          (Wout = token_embd when the file ties them)
//! ```
//! The long-context variants' LongRoPE factors (`rope_factors_{long,short}`) are refused
//! rather than ignored. Phi-3's sliding window is ignored, as llama.cpp does.

use std::sync::Arc;

use wren_gguf::GgufFile;

use crate::error::{Error, Result};
use crate::layers::decoder::{Decoder, DecoderLayer, Wiring};
use crate::layers::{Activation, AttentionWeights, GatedFfn, HParams, RopeKind};

pub fn load(file: Arc<GgufFile>) -> Result<Decoder> {
    let hp = HParams::from_gguf(&file, "phi3", 1e-5)?;
    if file.tensor("rope_factors_long.weight").is_some() {
        return Err(Error::Model(
            "phi3: LongRoPE factors (rope_factors_long/short) are not supported yet".into(),
        ));
    }
    let e = hp.n_embd;
    let layers = (0..hp.n_layer)
        .map(|il| {
            let w = AttentionWeights::load_fused(&file, il, &hp)?;
            let ffn = GatedFfn::load_fused(&file, il, e, hp.n_ff, Activation::Silu)?;
            DecoderLayer::load(&file, il, &hp, w, ffn)
        })
        .collect::<Result<Vec<_>>>()?;
    Decoder::build(&file, hp, layers, Wiring::rope(RopeKind::Neox, 10_000.0))
}
