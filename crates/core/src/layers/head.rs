//! The output head: final norm and the vocabulary projection, for the wanted rows only.

use std::sync::Arc;

use wren_gguf::GgufFile;

use super::batch::BatchPlan;
use super::norm::rms_norm_rows;
use crate::error::Result;
use crate::linear::{matmul, Compute};
use crate::models::{sized, SeqBatch, Workspace};
use crate::tensor::{load_vector, QMatrix};

pub struct OutputHead {
    pub norm: Vec<f32>,
    pub eps: f32,
    /// `output.weight`, or the token embedding when the file ties them.
    pub output: QMatrix,
    /// Logits multiplied by this (MiniCPM: `dim_model_base / n_embd`).
    pub scale: Option<f32>,
    /// Final soft-capping `cap · tanh(logit / cap)` (Gemma 2).
    pub softcap: Option<f32>,
}

impl OutputHead {
    /// `output_norm.weight` and `output.weight`, or `tied` (the token embedding) when the
    /// file has no separate head.
    pub fn load(file: &Arc<GgufFile>, n_embd: usize, eps: f32, tied: &QMatrix) -> Result<Self> {
        let output = if file.tensor("output.weight").is_some() {
            QMatrix::load(file, "output.weight", Some(n_embd), Some(tied.rows))?
        } else {
            tied.clone()
        };
        Ok(OutputHead {
            norm: load_vector(file, "output_norm.weight", n_embd)?,
            eps,
            output,
            scale: None,
            softcap: None,
        })
    }

    /// Logits of every sequence's wanted rows of `ws.x`, in sequence order, into `logits`
    /// (`[Σ want.len(), vocab]`).
    pub fn forward(
        &self,
        plan: &BatchPlan,
        seqs: &[SeqBatch<'_>],
        ws: &mut Workspace,
        logits: &mut Vec<f32>,
        compute: Compute,
    ) {
        let e = self.norm.len();
        let m: usize = seqs.iter().map(|s| s.want.len()).sum();
        if m == 0 {
            logits.clear();
            return;
        }
        let hin = sized(&mut ws.head_in, m * e);
        for (i, t) in plan.wanted_rows(seqs).enumerate() {
            rms_norm_rows(
                &ws.x[t * e..(t + 1) * e],
                &self.norm,
                self.eps,
                &mut hin[i * e..(i + 1) * e],
            );
        }
        let vocab = self.output.rows;
        logits.resize(m * vocab, 0.0);
        matmul(&self.output, hin, m, logits, compute, &mut ws.lin);
        if let Some(s) = self.scale {
            logits.iter_mut().for_each(|l| *l *= s);
        }
        if let Some(c) = self.softcap {
            logits.iter_mut().for_each(|l| *l = c * (*l / c).tanh());
        }
    }
}
