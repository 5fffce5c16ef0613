//! A batched pass's plan: every sequence's rows stacked, validated before any work.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::models::{ModelInfo, SeqBatch};

/// Row offsets of the sequences of one pass: sequence `i` owns rows
/// `offs[i]..offs[i + 1]` of every activation buffer.
pub struct BatchPlan {
    offs: Vec<usize>,
}

impl BatchPlan {
    /// Checks every sequence (its tokens fit its cache, its wanted rows lie in its batch,
    /// its ids are in the vocabulary) and stacks their rows. `offs` is a buffer to reuse
    /// (hand it back with [`into_offsets`](Self::into_offsets)).
    pub fn new(seqs: &[SeqBatch<'_>], info: &ModelInfo, mut offs: Vec<usize>) -> Result<Self> {
        offs.clear();
        offs.push(0);
        for s in seqs {
            let n = s.tokens.len();
            if s.cache.pos + n > s.cache.ctx {
                return Err(Error::ContextFull {
                    needed: s.cache.pos + n,
                    ctx: s.cache.ctx,
                    max: info.n_ctx_train,
                });
            }
            if s.want.end > n || s.want.start > s.want.end {
                return Err(Error::Invalid(format!(
                    "logits requested for rows {:?} of a {n}-token batch",
                    s.want
                )));
            }
            if let Some(&id) = s.tokens.iter().find(|&&t| t as usize >= info.vocab_size) {
                return Err(Error::BadToken {
                    id,
                    vocab: info.vocab_size,
                });
            }
            offs.push(offs[offs.len() - 1] + n);
        }
        Ok(BatchPlan { offs })
    }

    /// Rows of the whole pass.
    pub fn rows(&self) -> usize {
        self.offs[self.offs.len() - 1]
    }

    /// Rows of sequence `i`.
    pub fn seq_rows(&self, i: usize) -> Range<usize> {
        self.offs[i]..self.offs[i + 1]
    }

    pub fn offsets(&self) -> &[usize] {
        &self.offs
    }

    /// Every row's position in its own sequence: `(row, position)` in row order.
    pub fn positions<'a>(
        &'a self,
        seqs: &'a [SeqBatch<'_>],
    ) -> impl Iterator<Item = (usize, usize)> + 'a {
        seqs.iter().enumerate().flat_map(move |(i, s)| {
            let base = self.offs[i];
            let pos = s.cache.pos;
            self.seq_rows(i).map(move |r| (r, pos + r - base))
        })
    }

    /// The stacked rows whose logits are wanted, in sequence order.
    pub fn wanted_rows<'a>(&'a self, seqs: &'a [SeqBatch<'_>]) -> impl Iterator<Item = usize> + 'a {
        seqs.iter()
            .enumerate()
            .flat_map(move |(i, s)| s.want.clone().map(move |t| self.offs[i] + t))
    }

    /// Moves every cache past the tokens of this pass (after the last layer stored them).
    pub fn advance(&self, seqs: &mut [SeqBatch<'_>]) {
        for s in seqs.iter_mut() {
            s.cache.pos += s.tokens.len();
        }
    }

    /// The offsets buffer, for reuse by the next pass.
    pub fn into_offsets(self) -> Vec<usize> {
        self.offs
    }
}

/// `buf` (rows of `width`) cut at the plan's offsets: part `i` is sequence `i`'s rows.
pub fn split_rows<'a>(mut buf: &'a mut [f32], offs: &[usize], width: usize) -> Vec<&'a mut [f32]> {
    let mut parts = Vec::with_capacity(offs.len().saturating_sub(1));
    for w in offs.windows(2) {
        let (head, rest) = std::mem::take(&mut buf).split_at_mut((w[1] - w[0]) * width);
        parts.push(head);
        buf = rest;
    }
    parts
}
