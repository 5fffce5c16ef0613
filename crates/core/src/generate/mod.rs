//! The generation loop: prompt → tokens, streamed through a callback. Each forward pass
//! is one [`Step`] (shared with the server): with speculation it may yield several tokens,
//! always the ones plain decoding yields.

mod fr;
mod fr_builtin;
mod gate;
mod ngram;
mod record;
mod spec;
mod step;

use std::time::{Duration, Instant};

pub use fr::{default_draft_vocab, FrDraft, FrSource, FrTable};
pub use fr_builtin::{builtin as builtin_fr_table, fingerprint as tokenizer_fingerprint};
pub use spec::{SpecConfig, SpecMode, MAX_DRAFT};
pub use step::{SpecStats, Step};

use crate::error::{Error, Result};
use crate::sample::Sampler;
use crate::session::Session;
use crate::tokenizer::{StreamDecoder, Tokenizer};

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// The model produced an end-of-generation token.
    Eog,
    /// `max_tokens` were generated.
    Length,
    /// The context is full.
    Context,
    /// A stop string was produced.
    Stop,
    /// The callback asked to stop.
    Cancelled,
}

/// Timings and counts of one generation.
#[derive(Clone, Debug, Default)]
pub struct GenStats {
    pub prompt_tokens: usize,
    pub generated: usize,
    pub prefill: Duration,
    pub decode: Duration,
    /// Speculation: passes, drafted and accepted tokens.
    pub spec: SpecStats,
}

impl GenStats {
    pub fn prefill_tps(&self) -> f64 {
        self.prompt_tokens as f64 / self.prefill.as_secs_f64().max(1e-9)
    }
    pub fn decode_tps(&self) -> f64 {
        // The first generated token comes from the prefill's logits.
        self.generated.saturating_sub(1) as f64 / self.decode.as_secs_f64().max(1e-9)
    }
}

/// What the callback says after each piece of text.
pub enum Flow {
    Continue,
    Stop,
}

/// Generate up to `max_tokens` after `prompt` (already tokenized, evaluated from the
/// session's current position). `on_text` receives each complete UTF-8 piece of text and
/// the token id that completed it. `spec` sets speculative decoding (the output is the
/// same either way). On return the session holds the prompt and every generated token but
/// the last (as if each had been evaluated to produce the next).
pub fn generate(
    session: &mut Session,
    tok: &Tokenizer,
    sampler: &mut Sampler,
    spec: SpecConfig,
    prompt: &[u32],
    max_tokens: usize,
    mut on_text: impl FnMut(&str, u32) -> Flow,
) -> Result<(Finish, GenStats)> {
    if prompt.is_empty() {
        return Err(Error::Invalid("the prompt is empty (no tokens)".into()));
    }
    spec.validate()?;
    if spec.mode.fr() && session.fr_draft().is_none() {
        // No draft head set by the caller: the tokenizer's ranking (no frequency table).
        let d = FrDraft::load(session.model().as_ref(), tok, None, 0)?;
        session.set_fr_draft(Some(std::sync::Arc::new(d)));
    }
    let mut stats = GenStats {
        prompt_tokens: prompt.len(),
        ..Default::default()
    };
    if session.history().len() + prompt.len() > session.ctx() {
        return Err(Error::ContextFull {
            needed: session.history().len() + prompt.len(),
            ctx: session.ctx(),
            max: session.model().info().n_ctx_train,
        });
    }
    let t0 = Instant::now();
    session.eval_last(prompt)?;
    let first = sampler.sample(session.last_logits(), session.history());
    stats.prefill = t0.elapsed();
    // The step owns the sampler while it runs; it is handed back (its random stream
    // advanced) at the end.
    let placeholder = Sampler::new(sampler.params().clone(), 0);
    let mut step = Step::new(std::mem::replace(sampler, placeholder), spec, first);
    let result = run_steps(
        session,
        tok,
        &mut step,
        max_tokens,
        &mut stats,
        &mut on_text,
    );
    *sampler = step.sampler;
    let finish = result?;
    stats.spec = step.stats;
    Ok((finish, stats))
}

/// Hands out the step's tokens (running passes as needed) until one ends the generation.
fn run_steps(
    session: &mut Session,
    tok: &Tokenizer,
    step: &mut Step,
    max_tokens: usize,
    stats: &mut GenStats,
    on_text: &mut impl FnMut(&str, u32) -> Flow,
) -> Result<Finish> {
    let t1 = Instant::now();
    let mut dec = StreamDecoder::new();
    // One buffer for every piece of text: nothing is allocated per token.
    let mut piece = String::with_capacity(64);
    let mut last;
    let finish = loop {
        let next = match step.next_token() {
            Some(t) => t,
            None => {
                step.advance(session, max_tokens - stats.generated)?;
                continue;
            }
        };
        last = next;
        if tok.eog_ids().contains(&next) {
            break Finish::Eog;
        }
        stats.generated += 1;
        piece.clear();
        dec.push_into(tok, next, &mut piece);
        if !piece.is_empty() {
            if let Flow::Stop = on_text(&piece, next) {
                break Finish::Cancelled;
            }
        }
        if stats.generated >= max_tokens {
            break Finish::Length;
        }
        if step.needs_pass() && session.history().len() + 1 > session.ctx() {
            break Finish::Context;
        }
    };
    step.finish(session)?;
    let rest = dec.flush();
    if !rest.is_empty() {
        on_text(&rest, last);
    }
    stats.decode = t1.elapsed();
    Ok(finish)
}
