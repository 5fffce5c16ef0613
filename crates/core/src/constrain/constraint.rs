//! One sequence's grammar state: the mask before a pick, the commit after it.

use std::time::{Duration, Instant};

use llguidance::{Matcher, TokenParser};

/// Per-sequence constrained-decoding state (llguidance's `Matcher`). `Clone` copies
/// the parser state (cheap: shared grammar, copied stacks); `Send`, so a sampler that
/// owns one can move to an engine thread.
#[derive(Clone)]
pub struct Constraint {
    matcher: Matcher,
    eog: u32,
    vocab_size: usize,
    /// The first failure (a token the grammar rejects, an internal error); once set,
    /// the constraint only allows `eog`.
    error: Option<String>,
    stats: MaskStats,
}

/// Time spent computing masks, for the `--verbose`/bench reports.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MaskStats {
    /// Masks computed.
    pub masks: u64,
    /// Total time in llguidance's mask computation and applying it to the logits.
    pub mask_time: Duration,
}

impl MaskStats {
    /// Mean time per mask (zero when none was computed).
    pub fn per_mask(&self) -> Duration {
        if self.masks == 0 {
            Duration::ZERO
        } else {
            self.mask_time / self.masks as u32
        }
    }
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constraint")
            .field("eog", &self.eog)
            .field("stopped", &self.matcher.is_stopped())
            .field("error", &self.error)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Constraint {
    pub(crate) fn new(parser: TokenParser, eog: u32, vocab_size: usize) -> Constraint {
        Constraint {
            matcher: Matcher::new(Ok(parser)),
            eog,
            vocab_size,
            error: None,
            stats: MaskStats::default(),
        }
    }

    /// Sets every logit the grammar forbids at this step to `-inf` (ids past the
    /// vocabulary too). When the grammar is complete and cannot continue only the
    /// end-of-generation tokens stay; after an error only [`eog`](Self::eog) does.
    pub fn mask_logits(&mut self, logits: &mut [f32]) {
        let t0 = Instant::now();
        let mask = if self.error.is_some() {
            None
        } else {
            match self.matcher.compute_mask_or_eos() {
                Ok(m) if !m.is_zero() => Some(m),
                Ok(_) => {
                    self.error = Some("the grammar allows no token here".into());
                    None
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    None
                }
            }
        };
        match mask {
            Some(m) => {
                let words = m.as_slice();
                for (w, chunk) in logits.chunks_mut(32).enumerate() {
                    let bits = words.get(w).copied().unwrap_or(0);
                    if bits == u32::MAX {
                        continue;
                    }
                    for (b, v) in chunk.iter_mut().enumerate() {
                        if bits & (1 << b) == 0 {
                            *v = f32::NEG_INFINITY;
                        }
                    }
                }
                // The trie may be smaller than the logits (padded output heads).
                for v in logits.iter_mut().skip(self.vocab_size) {
                    *v = f32::NEG_INFINITY;
                }
            }
            None => {
                logits.fill(f32::NEG_INFINITY);
                if let Some(v) = logits.get_mut(self.eog as usize) {
                    *v = 0.0;
                }
            }
        }
        self.stats.masks += 1;
        self.stats.mask_time += t0.elapsed();
    }

    /// Advances the grammar past `token` (the one just picked from masked logits).
    /// A token the grammar rejects records an error (see [`error`](Self::error)).
    pub fn commit(&mut self, token: u32) {
        if self.error.is_some() || self.matcher.is_stopped() {
            return;
        }
        if let Err(e) = self.matcher.consume_token(token) {
            self.error = Some(e.to_string());
        }
    }

    /// Undoes the last `n` committed tokens (speculative decoding's rejected drafts).
    pub fn rollback(&mut self, n: usize) -> Result<(), String> {
        self.matcher.rollback(n).map_err(|e| e.to_string())
    }

    /// Whether the tokens so far form a complete match (end of generation allowed).
    pub fn is_accepting(&mut self) -> bool {
        self.error.is_none() && self.matcher.is_accepting().unwrap_or(false)
    }

    /// Whether the grammar is complete and allows nothing but end of generation.
    pub fn is_stopped(&self) -> bool {
        self.matcher.is_stopped()
    }

    /// The first error, if any (the output after it is not guaranteed to match).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The token forced after an error.
    pub fn eog(&self) -> u32 {
        self.eog
    }

    pub fn stats(&self) -> MaskStats {
        self.stats
    }
}
