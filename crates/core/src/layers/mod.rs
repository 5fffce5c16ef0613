//! The layer toolkit: the blocks every architecture is wired from.
//!
//! An architecture file (`models/<arch>.rs`) reads its hyperparameters ([`hparams`]),
//! loads its tensors into these blocks, and writes `forward_batch` as the model card's
//! equations: plan the batch, embed, then per layer norm → attention → residual →
//! norm → feed-forward → residual, and the output head. Everything that is the same for
//! every decoder (batch validation and row offsets, per-row norms, RoPE at each row's own
//! position, parallel attention of each sequence against its own cache, the wanted-rows
//! output head) lives here once.
//!
//! Conventions shared by the blocks: activations are row-major `[rows, width]` in the
//! [`Workspace`](crate::models::Workspace); a block's input is `ws.xn` (the normed
//! residual stream) and its output `ws.proj`, so an architecture only decides how the
//! output joins the residual stream `ws.x` ([`residual::add`], or
//! [`residual::norm_add`] for Gemma's post-norms).

pub mod attention;
pub mod batch;
pub mod cache;
pub mod decoder;
pub mod embed;
pub mod ffn;
pub mod head;
pub mod hparams;
pub mod moe;
pub mod norm;
pub mod residual;
pub mod rope;

pub use attention::{Attention, AttentionWeights};
pub use batch::BatchPlan;
pub use embed::Embedding;
pub use ffn::{Activation, Ffn, GatedFfn};
pub use head::OutputHead;
pub use hparams::HParams;
pub use moe::{MoeFfn, MoeParams};
pub use rope::{Rope, RopeKind};
