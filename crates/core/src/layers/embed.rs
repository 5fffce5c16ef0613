//! Token embedding lookup.

use crate::models::SeqBatch;
use crate::tensor::QMatrix;

/// The token embedding table, with an optional scale (Gemma: `√n_embd`; MiniCPM:
/// `scale_emb`).
pub struct Embedding {
    pub table: QMatrix,
    pub scale: Option<f32>,
}

impl Embedding {
    /// Writes every sequence's token rows, stacked, into `x` (`[rows, n_embd]`).
    pub fn forward(&self, seqs: &[SeqBatch<'_>], x: &mut [f32]) {
        let e = self.table.cols;
        for (row, &tok) in x
            .chunks_exact_mut(e)
            .zip(seqs.iter().flat_map(|s| s.tokens.iter()))
        {
            self.table.dequantize_row(tok as usize, row);
            if let Some(s) = self.scale {
                row.iter_mut().for_each(|v| *v *= s);
            }
        }
    }

    pub fn vocab(&self) -> usize {
        self.table.rows
    }
}
