//! The output head: final norm and the vocabulary projection, for the wanted rows only.

use std::sync::Arc;

use wren_gguf::GgufFile;

use super::batch::BatchPlan;
use super::norm::rms_norm_rows;
use crate::error::Result;
use crate::linear::{matmul, Compute, LinearScratch};
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
        let x = &ws.x;
        let rows = plan.wanted_rows(seqs).map(|t| &x[t * e..(t + 1) * e]);
        self.logits_of(rows, m, &mut ws.head_in, &mut ws.lin, logits, compute);
    }

    /// Logits of `m` final hidden states (before the output norm), into `logits`
    /// (`[m, vocab]`); `head_in` is scratch for the normed rows. Speculative verification
    /// of FR drafts runs the head this way over hidden states kept from draft steps.
    pub fn logits_of<'a>(
        &self,
        rows: impl Iterator<Item = &'a [f32]>,
        m: usize,
        head_in: &mut Vec<f32>,
        lin: &mut LinearScratch,
        logits: &mut Vec<f32>,
        compute: Compute,
    ) {
        let e = self.norm.len();
        if m == 0 {
            logits.clear();
            return;
        }
        let hin = sized(head_in, m * e);
        for (src, dst) in rows.zip(hin.chunks_exact_mut(e)) {
            rms_norm_rows(src, &self.norm, self.eps, dst);
        }
        let vocab = self.output.rows;
        logits.resize(m * vocab, 0.0);
        matmul(&self.output, hin, m, logits, compute, lin);
        if let Some(s) = self.scale {
            logits.iter_mut().for_each(|l| *l *= s);
        }
        if let Some(c) = self.softcap {
            logits.iter_mut().for_each(|l| *l = c * (*l / c).tanh());
        }
    }
}
