//! The gated feed-forward block: `down(act(gate(x)) ⊙ up(x))`.

use std::sync::Arc;

use rayon::prelude::*;
use wren_gguf::GgufFile;
use wren_kernels::ops;

use super::moe::MoeFfn;
use crate::error::Result;
use crate::linear::{matmul, matmul_many, Compute, LinearScratch};
use crate::models::{sized, Workspace};
use crate::tensor::QMatrix;

/// The gate's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// GELU, tanh approximation (Gemma's GeGLU).
    GeluTanh,
    /// SiLU, `x·σ(x)` (SwiGLU: Llama, Qwen, Phi-3, MiniCPM).
    Silu,
}

/// `x·σ(x)`.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// `g = act(g) · u`, row by row in parallel.
fn gate(ga: &mut [f32], up: &[f32], n_ff: usize, act: impl Fn(f32) -> f32 + Sync) {
    ga.par_chunks_mut(n_ff)
        .zip(up.par_chunks(n_ff))
        .for_each(|(gr, ur)| {
            for (g, u) in gr.iter_mut().zip(ur) {
                *g = act(*g) * u;
            }
        });
}

/// One layer's gated FFN (`blk.{i}.ffn_{gate,up,down}`).
pub struct GatedFfn {
    pub gate: QMatrix,
    pub up: QMatrix,
    pub down: QMatrix,
    pub act: Activation,
}

impl GatedFfn {
    pub fn load(
        file: &Arc<GgufFile>,
        il: usize,
        n_embd: usize,
        n_ff: usize,
        act: Activation,
    ) -> Result<GatedFfn> {
        let m = |s: &str, cols, rows| {
            QMatrix::load(
                file,
                &format!("blk.{il}.{s}.weight"),
                Some(cols),
                Some(rows),
            )
        };
        Ok(GatedFfn {
            gate: m("ffn_gate", n_embd, n_ff)?,
            up: m("ffn_up", n_embd, n_ff)?,
            down: m("ffn_down", n_ff, n_embd)?,
            act,
        })
    }

    /// Layer `il`'s FFN with gate and up fused in one `ffn_up` tensor of `2·n_ff` rows,
    /// gate first (Phi-3: `gate, up = gate_up_proj(x).chunk(2)`), viewed as two matrices.
    pub fn load_fused(
        file: &Arc<GgufFile>,
        il: usize,
        n_embd: usize,
        n_ff: usize,
        act: Activation,
    ) -> Result<GatedFfn> {
        let name = |s: &str| format!("blk.{il}.{s}.weight");
        let fused = QMatrix::load(file, &name("ffn_up"), Some(n_embd), Some(2 * n_ff))?;
        Ok(GatedFfn {
            gate: fused.row_range(0..n_ff, &format!("{}[gate]", name("ffn_up")))?,
            up: fused.row_range(n_ff..2 * n_ff, &format!("{}[up]", name("ffn_up")))?,
            down: QMatrix::load(file, &name("ffn_down"), Some(n_ff), Some(n_embd))?,
            act,
        })
    }

    pub fn matrices(&self) -> [&QMatrix; 3] {
        [&self.gate, &self.up, &self.down]
    }

    /// Reads `ws.xn` (`[rows, n_embd]`) and writes `ws.proj` (`[rows, n_embd]`).
    pub fn forward(&self, rows: usize, ws: &mut Workspace, compute: Compute) {
        let Workspace {
            xn,
            proj,
            ff_a,
            ff_b,
            lin,
            ..
        } = ws;
        self.forward_on(
            &xn[..rows * self.gate.cols],
            rows,
            proj,
            ff_a,
            ff_b,
            lin,
            compute,
        );
    }

    /// The block on `x` (`[rows, cols]`) into `out` (resized to `[rows, down.rows]`), with
    /// `ga`/`up` as scratch for the hidden activations.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_on(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut Vec<f32>,
        ga: &mut Vec<f32>,
        up: &mut Vec<f32>,
        lin: &mut LinearScratch,
        compute: Compute,
    ) {
        let n_ff = self.gate.rows;
        let ga = sized(ga, rows * n_ff);
        let up = sized(up, rows * n_ff);
        let mut gate_up = [(&self.gate, &mut *ga), (&self.up, &mut *up)];
        matmul_many(&mut gate_up, x, rows, compute, lin);
        // The activation is a visible share of a prompt batch: spread it over the pool,
        // with the activation chosen once, outside the loop.
        match self.act {
            Activation::GeluTanh => gate(ga, up, n_ff, ops::gelu_tanh),
            Activation::Silu => gate(ga, up, n_ff, silu),
        }
        let out = sized(out, rows * self.down.rows);
        matmul(&self.down, ga, rows, out, compute, lin);
    }

    /// Bytes of weights read per token.
    pub fn bytes(&self) -> usize {
        self.matrices().iter().map(|m| m.n_bytes()).sum()
    }
}

/// A layer's feed-forward block: one gated FFN for every token, or a mixture of experts.
pub enum Ffn {
    Gated(GatedFfn),
    Moe(MoeFfn),
}

impl From<GatedFfn> for Ffn {
    fn from(f: GatedFfn) -> Ffn {
        Ffn::Gated(f)
    }
}

impl From<MoeFfn> for Ffn {
    fn from(f: MoeFfn) -> Ffn {
        Ffn::Moe(f)
    }
}

impl Ffn {
    /// Reads `ws.xn` (`[rows, n_embd]`) and writes `ws.proj` (`[rows, n_embd]`).
    pub fn forward(&self, rows: usize, ws: &mut Workspace, compute: Compute) {
        match self {
            Ffn::Gated(f) => f.forward(rows, ws, compute),
            Ffn::Moe(f) => f.forward(rows, ws, compute),
        }
    }

    /// Bytes of weights one decoded token reads (a mixture: the router and, on average,
    /// its share of the experts).
    pub fn bytes_per_token(&self) -> usize {
        match self {
            Ffn::Gated(f) => f.bytes(),
            Ffn::Moe(f) => f.bytes_per_token(),
        }
    }

    /// The bytes one token reads, each weighted by what a verify row costs for it
    /// ([`QMatrix::verify_row_cost`]; a mixture's experts differ from token to token, so
    /// theirs count whole).
    pub fn verify_cost_bytes(&self) -> f64 {
        match self {
            Ffn::Gated(f) => crate::models::verify_cost_bytes(f.matrices().into_iter()),
            Ffn::Moe(f) => f.bytes_per_token() as f64,
        }
    }
}
