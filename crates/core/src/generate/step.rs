//! One generation step, shared by the CLI loop ([`super::generate`]) and the server's
//! continuous batching: draft → verify → accept → roll back → sample.
//!
//! A [`Step`] holds a sequence's sampler and the tokens it has sampled but not yet handed
//! out. [`Step::advance`] evaluates the last handed-out token together with a draft of the
//! tokens expected after it, in one [`Session::verify`] pass whose rows are bit-identical
//! to one-token decode steps; then, row by row, the sampler picks the token exactly as
//! plain decoding would (same logits, same history, same random stream), and the draft
//! is accepted while the picks agree with it. The first disagreement is the step's last
//! token; the rejected rest of the draft is dropped from the cache. So the tokens are the
//! ones plain decoding produces, greedy or sampled, token for token: for a draft that
//! proposes token `d`, accepting it when the sampler draws `d` happens with probability
//! `p(d)` (speculative sampling's `min(1, p/q)` for a draft with `q(d) = 1`), and the
//! draw that rejects it comes from `p` restricted to the other tokens (the residual
//! `norm(max(0, p − q))`), so the output distribution is unchanged.
//!
//! The server batches [`Step::plan`] / [`Step::accept`] / [`Step::settle_pass`] of many
//! sequences around one [`Session::verify_batch`].

use std::collections::VecDeque;

use super::gate::{Gate, FR_GATE_MARGIN, GATE_MARGIN, GATE_PAUSE};
use super::ngram;
use super::record::{Kind, Record};
use super::spec::{SpecConfig, SpecMode};
use crate::error::Result;
use crate::sample::Sampler;
use crate::session::Session;

/// Longest pause of FR drafting after repeated misses (passes).
const MAX_PAUSE: usize = 16;

/// What a drafted row of a verify pass costs at least, in decode steps (measured on the
/// 2-core test machine with `core/examples/verify_cost.rs`: 0.10–0.18 for Gemma 3 and
/// 0.15–0.32 for SmolLM2 at the VNNI tier, whose 32-element matrices verify with the
/// batched kernels; attention and the rest of a row add to the products' share). Where
/// the model's matrices verify at a higher cost ([`row_cost`]), that cost counts.
pub(super) const ROW_COST: f64 = 0.3;

/// What a drafted row costs `session`'s model, in decode steps: [`ROW_COST`], or more
/// where its matrices' rowwise products cost more per token
/// ([`crate::models::ModelInfo::verify_row_cost`]: AVX2 SmolLM2 ~0.47, whose Q4_1 trunk
/// verifies at 0.5 and its packed Q8_0 head at 0.4; AVX2 Gemma 3 0.4). A draft pays when
/// more than this share of it is accepted.
pub(super) fn row_cost(session: &Session) -> f64 {
    ROW_COST.max(session.model().info().verify_row_cost)
}

/// The longest draft at most `n` tokens that keeps a verify pass (the draft and the token
/// before it) in whole token groups of the batched and rowwise kernels: a pass of 9 rows
/// runs a group of 8 and a group of 1, and that one extra row costs 0.5–1 of a decode step
/// by itself (`core/examples/verify_cost.rs`, quiet 2-core machine: Gemma 3 8 rows 1.78
/// steps, 9 rows 2.46; SmolLM2 2.41 and 3.49).
pub(super) fn fit_groups(n: usize) -> usize {
    let g = wren_kernels::isa::ROWWISE_TOKENS;
    if n < g {
        n
    } else {
        (n + 1) / g * g - 1
    }
}

/// How much more than the model's figure a measured row cost may count ([`Step::row_cost`]).
const ROW_COST_SLACK: f64 = 0.15;

/// Shortest prompt-lookup match `auto` drafts from (plain `ngram`: [`ngram::NGRAM_MIN`]).
const AUTO_NGRAM_MIN: usize = 3;

/// Context tokens past the copy's last position searched for the pending token when no
/// suffix matches ([`ngram::lookup_near`]), and the passes such an anchor is kept without
/// a draft from it.
const RESYNC_WINDOW: usize = 12;
const ANCHOR_LIFE: usize = 4;

/// Where the latest prompt-lookup draft left its source: the context index of the source
/// token the next emitted token was expected to equal, and the passes it stays usable.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    at: usize,
    life: usize,
}

/// Draft statistics of a sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecStats {
    /// Verify passes (forward passes after the prompt).
    pub passes: usize,
    /// Tokens proposed by the drafter.
    pub drafted: usize,
    /// Of those, accepted.
    pub accepted: usize,
}

impl SpecStats {
    /// Accepted / drafted, in percent (0 when nothing was drafted).
    pub fn acceptance(&self) -> f64 {
        if self.drafted == 0 {
            0.0
        } else {
            100.0 * self.accepted as f64 / self.drafted as f64
        }
    }
}

/// A sequence's decoding state: its sampler, speculation settings, and the sampled
/// tokens not yet handed out.
pub struct Step {
    pub sampler: Sampler,
    spec: SpecConfig,
    /// Current adaptive draft length (`spec.n_min..=spec.n_max`).
    k: usize,
    /// Prompt lookup's recent records, one per [`Kind`] of draft.
    records: [Record; 2],
    /// The kind of this pass's prompt-lookup draft.
    kind: Kind,
    /// A prompt-lookup draft that was not verified: the tokens decoding emits next are
    /// compared with it (`shadow_hits` agreed so far), so a drafter that stopped paying
    /// (free text) learns at no cost when it would pay again (a copy starts).
    shadow: Vec<u32>,
    shadow_hits: usize,
    shadow_kind: Kind,
    /// Passes to run without prompt lookup after `auto`'s timing gate found it losing.
    pause: usize,
    /// FR drafting's record: its drafts, and on the passes it does not draft, what its head
    /// would have proposed ([`super::FrDraft::proposal`]). `auto` drafts with FR while this
    /// says drafts of two tokens pay ([`Step::fr_break_even`]).
    fr_record: Record,
    /// Scratch of [`super::FrDraft::proposal`].
    fr_picked: Vec<f32>,
    /// FR drafting's pause and backoff (as `pause`, for drafts with no accepted token).
    fr_pause: usize,
    fr_backoff: usize,
    /// `auto`: seconds per token of plain passes, and of each drafter's passes.
    plain_time: Option<f64>,
    /// `auto`: seconds per trunk step of FR passes ([`Session::eval_trunk`]).
    trunk_time: Option<f64>,
    /// `auto`: what a drafted row of prompt lookup's verify passes was measured to cost,
    /// in plain passes.
    row_time: Option<f64>,
    ngram_gate: Gate,
    fr_gate: Gate,
    /// The copy source of prompt lookup, and where this pass's draft was copied from.
    anchor: Option<Anchor>,
    from: Option<usize>,
    /// Sampled, not yet handed out. All but the last are already in the cache.
    queue: VecDeque<u32>,
    /// The token handed out last: in the cache iff `queue` is not empty.
    last: u32,
    /// This pass's tokens: `last`, then the draft.
    tokens: Vec<u32>,
    /// History length before this pass.
    base: usize,
    pub stats: SpecStats,
}

impl Step {
    /// A sequence whose first token `first` was sampled from the prompt's logits.
    pub fn new(sampler: Sampler, spec: SpecConfig, first: u32) -> Step {
        // `auto` starts prompt lookup short (a match on free text is often wrong) and
        // lengthens it after full acceptances.
        let k = if spec.mode == SpecMode::Auto {
            spec.n_max.min(2).max(spec.n_min)
        } else {
            spec.n_max
        };
        Step {
            sampler,
            spec,
            k,
            records: [Record::PRIOR; 2],
            kind: Kind::Fresh,
            shadow: Vec::new(),
            shadow_hits: 0,
            shadow_kind: Kind::Fresh,
            pause: 0,
            fr_record: Record::PRIOR,
            fr_picked: Vec::new(),
            fr_pause: 0,
            fr_backoff: 1,
            plain_time: None,
            trunk_time: None,
            row_time: None,
            ngram_gate: Gate::default(),
            fr_gate: Gate::default(),
            anchor: None,
            from: None,
            queue: VecDeque::from([first]),
            last: first,
            tokens: Vec::new(),
            base: 0,
            stats: SpecStats::default(),
        }
    }

    /// The next token, if one is sampled and not handed out yet (else call
    /// [`Step::advance`], or plan/verify/accept/settle a pass).
    pub fn next_token(&mut self) -> Option<u32> {
        let t = self.queue.pop_front()?;
        self.last = t;
        Some(t)
    }

    /// How this sequence speculates.
    pub fn spec(&self) -> SpecConfig {
        self.spec
    }

    /// The sampled tokens not handed out yet.
    pub fn queued(&self) -> &VecDeque<u32> {
        &self.queue
    }

    /// Whether the next token needs a forward pass (the last one is not evaluated yet);
    /// the session then needs room for one more token.
    pub fn needs_pass(&self) -> bool {
        self.queue.is_empty()
    }

    /// Plans a pass: the last handed-out token and a draft of at most `budget − 1` tokens
    /// (`budget`: tokens the caller may still hand out), within the context. Returns the
    /// tokens to evaluate. Call only when [`Step::needs_pass`].
    pub fn plan(&mut self, session: &Session, budget: usize) -> &[u32] {
        debug_assert!(self.queue.is_empty());
        let history = session.history();
        self.base = history.len();
        let room = session.ctx().saturating_sub(history.len() + 1);
        let max = budget.saturating_sub(1).min(room).min(self.spec.n_max);
        self.tokens.clear();
        self.from = None;
        let cost = self.row_cost(session);
        if !self.shadow.is_empty() && self.records[self.shadow_kind as usize].reach(cost) > 1 {
            // The shadow agreed long enough that drafts of two tokens of its kind pay
            // again. (Resuming when one would pay followed a few lucky tokens: on code whose
            // lines repeat their keywords and not their numbers, Gemma 3 modeled at 0.97.)
            self.end_shadow(true);
        }
        if self.pause > 0 {
            self.pause -= 1;
        } else if self.spec.mode.ngram() && max > 0 && self.shadow.is_empty() {
            let min_n = if self.spec.mode == SpecMode::Auto {
                AUTO_NGRAM_MIN
            } else {
                ngram::NGRAM_MIN
            };
            let (last, t) = (self.last, &mut self.tokens);
            self.from = ngram::lookup_min(history, last, max, min_n, t).or_else(|| {
                let a = self.anchor?;
                ngram::lookup_near(history, last, a.at, RESYNC_WINDOW, max, t)
            });
            if self.tokens.len() < self.spec.n_min {
                self.tokens.clear();
                self.from = None;
            }
            if let Some(from) = self.from {
                self.kind = Kind::of(history, last, from);
                let reach = self.records[self.kind as usize].reach(cost);
                // Where rows cost no more than the floor, the adaptive length alone sets a
                // draft's length: `reach` prices every row at the floor, above what they
                // cost there, and cut drafts that paid (the VNNI tier, modeled from this
                // machine's drafts: Gemma 3 1.61x over 13 prompts with the adaptive
                // length, 1.57x with `reach` too).
                let len = if cost > ROW_COST {
                    self.k.min(reach)
                } else {
                    self.k
                };
                let len = fit_groups(len.min(self.tokens.len()));
                if reach > 0 && len >= self.spec.n_min {
                    self.tokens.truncate(len);
                } else {
                    // Shadowed, as long as a draft may be (it costs nothing): kept aside
                    // and compared with what decoding emits.
                    std::mem::swap(&mut self.shadow, &mut self.tokens);
                    self.tokens.clear();
                    self.shadow_hits = 0;
                    self.shadow_kind = self.kind;
                    self.records[self.kind as usize].start();
                    self.from = None;
                }
            }
        }
        self.tokens.insert(0, self.last);
        &self.tokens
    }

    /// Row `i` of the pass (logits after `tokens[i]`, `history` ending with it): samples
    /// the token after it. Returns whether the next row is wanted (the pick confirmed the
    /// draft).
    pub fn accept(&mut self, i: usize, logits: &[f32], history: &[u32]) -> bool {
        pick(
            &mut self.sampler,
            &mut self.queue,
            &self.tokens,
            i,
            logits,
            history,
        )
    }

    /// Ends the pass: drops the rejected draft tokens from the cache and adapts the draft
    /// length (longer after a fully accepted draft, shorter after a rejection).
    pub fn settle_pass(&mut self, session: &mut Session) -> Result<()> {
        let (drafted, accepted) = self.tally();
        self.move_anchor(accepted);
        self.stats.passes += 1;
        self.stats.drafted += drafted;
        self.stats.accepted += accepted;
        if drafted > 0 {
            self.learn(self.kind, drafted, accepted);
        }
        self.follow_shadow();
        // The pass's first token and every queued token but the last stay.
        session.truncate_to(self.base + self.queue.len())
    }

    /// After a prompt-lookup draft of `drafted` tokens of `kind`, verified or shadowed, of
    /// which `accepted` were (or would have been) accepted: the draft length grows after a
    /// full acceptance and shrinks to what was accepted after a rejection, and the kind's
    /// record follows.
    fn learn(&mut self, kind: Kind, drafted: usize, accepted: usize) {
        self.adapt(accepted == drafted, accepted);
        self.records[kind as usize].learn(drafted, accepted);
    }

    /// The next draft length: two more after a draft accepted `whole`, else the `accepted`
    /// tokens and one more.
    fn adapt(&mut self, whole: bool, accepted: usize) {
        self.k = if whole {
            (self.k + 2).min(self.spec.n_max)
        } else {
            (accepted + 1).max(self.spec.n_min)
        };
    }

    /// Compares the tokens this pass emitted with the shadow draft, token by token into its
    /// kind's record (so a long shadow that keeps agreeing lets drafting resume before it
    /// ends), and ends it at the first disagreement or its last token.
    fn follow_shadow(&mut self) {
        if self.shadow.is_empty() {
            return;
        }
        let r = &mut self.records[self.shadow_kind as usize];
        for &t in &self.queue {
            r.tries += 1.0;
            if self.shadow[self.shadow_hits] != t {
                self.end_shadow(false);
                return;
            }
            r.hits += 1.0;
            self.shadow_hits += 1;
            if self.shadow_hits == self.shadow.len() {
                self.end_shadow(true);
                return;
            }
        }
    }

    /// Ends the shadow draft (its record has learned from it already): the draft length
    /// adapts as after a verified draft, `whole` when no token of it was rejected.
    fn end_shadow(&mut self, whole: bool) {
        self.adapt(whole, self.shadow_hits);
        self.shadow.clear();
    }

    /// After a pass: a prompt-lookup draft sets the anchor at its first unconfirmed source
    /// token; a pass without one wears the anchor down.
    fn move_anchor(&mut self, accepted: usize) {
        self.anchor = match self.from.take() {
            Some(from) => Some(Anchor {
                at: from + accepted,
                life: ANCHOR_LIFE,
            }),
            None => self.anchor.and_then(|a| {
                (a.life > 1).then_some(Anchor {
                    at: a.at,
                    life: a.life - 1,
                })
            }),
        };
    }

    /// Drafted tokens of this pass, and how many of them the picks confirmed.
    fn tally(&self) -> (usize, usize) {
        let drafted = self.tokens.len() - 1;
        let accepted = self
            .queue
            .iter()
            .zip(&self.tokens[1..])
            .take_while(|(q, t)| q == t)
            .count();
        (drafted, accepted)
    }

    /// One pass for this sequence alone.
    pub fn advance(&mut self, session: &mut Session, budget: usize) -> Result<()> {
        let auto = self.spec.mode == SpecMode::Auto;
        let t0 = std::time::Instant::now();
        self.plan(session, budget);
        if auto && self.tokens.len() > 1 && self.ngram_gate.losing(self.plain_time, GATE_MARGIN) {
            self.tokens.truncate(1);
            self.from = None;
            self.pause = GATE_PAUSE;
            self.ngram_gate.samples = 0;
        }
        let fr = session.fr_draft().filter(|_| self.spec.mode.fr()).cloned();
        // `auto` watches FR drafting where it can pay, and drafts while its record pays.
        let watch = fr.as_ref().filter(|d| auto && d.pays());
        // An FR pass of one draft gains nothing (the draft's trunk step is the next pass's
        // first), so `auto` drafts with FR when two drafted tokens would pay.
        let drafter = match self.spec.mode {
            SpecMode::Fr => fr.as_ref(),
            _ => watch.filter(|d| self.fr_record.reach(self.fr_break_even(d)) >= 2),
        };
        if let Some(d) = drafter.filter(|_| self.tokens.len() == 1) {
            if auto && self.fr_gate.losing(self.plain_time, FR_GATE_MARGIN) {
                self.fr_pause = GATE_PAUSE;
                self.fr_gate.samples = 0;
            }
            if self.fr_pause > 0 {
                self.fr_pause -= 1;
            } else {
                // `auto`: as long as every drafted token pays by the record.
                let cap = match watch {
                    Some(d) => self.fr_record.reach(self.fr_break_even(d)),
                    None => usize::MAX,
                };
                self.advance_fr(session, budget, d.threshold, cap)?;
                self.time_pass(t0, true);
                return Ok(());
            }
        }
        let tokens = std::mem::take(&mut self.tokens);
        let (sampler, queue) = (&mut self.sampler, &mut self.queue);
        let (record, picked) = (&mut self.fr_record, &mut self.fr_picked);
        // On the first row of every other pass: a proposal costs ~50 µs (Gemma 3, 16,384
        // ids), ~0.6% of a decode step.
        let watch = watch.filter(|_| self.stats.passes.is_multiple_of(2));
        let r = session.verify(&tokens, |i, l, h| {
            let more = pick(sampler, queue, &tokens, i, l, h);
            if let Some(p) = watch.filter(|_| i == 0).and_then(|d| d.proposal(l, picked)) {
                record.observe(queue.back() == Some(&p));
            }
            more
        });
        self.tokens = tokens;
        r?;
        self.time_pass(t0, false);
        self.settle_pass(session)
    }

    /// What a drafted row costs: the model's figure ([`row_cost`]), or more where `auto`
    /// measured more (each row's sampling, attention and the rest), by at most
    /// [`ROW_COST_SLACK`]: a measurement is taken only when a draft is verified, so one
    /// noisy pass must not stop drafting for good.
    fn row_cost(&self, session: &Session) -> f64 {
        let model = row_cost(session);
        model.max(self.row_time.unwrap_or(0.0).min(model + ROW_COST_SLACK))
    }

    /// FR's break-even on this machine: with the trunk's measured share of a plain step's
    /// time once both are timed ([`super::FrDraft::break_even_at`]).
    fn fr_break_even(&self, d: &super::FrDraft) -> f64 {
        match (self.trunk_time, self.plain_time) {
            (Some(t), Some(p)) if p > 0.0 => d.break_even_at(t / p),
            _ => d.break_even,
        }
    }

    /// Records the pass's time per emitted token for `auto`'s gates: a pass without drafts
    /// (an FR pass whose first draft was not confident counts: a plain step and the
    /// reduced head) is the plain reference.
    fn time_pass(&mut self, t0: std::time::Instant, fr: bool) {
        if self.spec.mode != SpecMode::Auto || self.queue.is_empty() {
            return;
        }
        let (seconds, emitted) = (t0.elapsed().as_secs_f64(), self.queue.len());
        if self.tokens.len() <= 1 {
            Gate::mean(&mut self.plain_time, seconds / emitted as f64);
        } else if fr {
            self.fr_gate.record(seconds, emitted);
        } else {
            self.ngram_gate.record(seconds, emitted);
            if let Some(p) = self.plain_time {
                let rows = (self.tokens.len() - 1) as f64;
                Gate::mean(
                    &mut self.row_time,
                    ((seconds / p - 1.0) / rows).clamp(0.0, 1.0),
                );
            }
        }
    }

    /// One FR pass: the trunk steps of the last token and of each draft but the last
    /// ([`Session::eval_trunk`], the decode steps themselves), drafting while the reduced
    /// head is confident, then the full head over all of them at once
    /// ([`Session::verify_hidden`]), picked row by row as plain decoding picks.
    fn advance_fr(
        &mut self,
        session: &mut Session,
        budget: usize,
        threshold: f32,
        cap: usize,
    ) -> Result<()> {
        self.base = session.history().len();
        let room = session.ctx().saturating_sub(self.base + 1);
        let max = self.spec.n_max.min(budget.saturating_sub(1)).min(room);
        let max = fit_groups(max.min(cap));
        self.tokens.clear();
        self.tokens.push(self.last);
        let r = (|| {
            let t0 = std::time::Instant::now();
            session.eval_trunk(self.last)?;
            Gate::mean(&mut self.trunk_time, t0.elapsed().as_secs_f64());
            while self.tokens.len() <= max {
                match session.fr_propose() {
                    Some((d, p)) if p >= threshold => self.tokens.push(d),
                    _ => break,
                }
                if self.tokens.len() > max {
                    // The last draft's trunk step is the next pass's first, if accepted.
                    break;
                }
                session.eval_trunk(*self.tokens.last().unwrap())?;
            }
            let tokens = std::mem::take(&mut self.tokens);
            let (sampler, queue) = (&mut self.sampler, &mut self.queue);
            let r = session.verify_hidden(|i, l, h| pick(sampler, queue, &tokens, i, l, h));
            self.tokens = tokens;
            r
        })();
        if let Err(e) = r {
            let _ = session.truncate_to(self.base);
            self.queue.clear();
            return Err(e);
        }
        let (drafted, accepted) = self.tally();
        self.from = None;
        self.move_anchor(accepted);
        self.stats.passes += 1;
        self.stats.drafted += drafted;
        self.stats.accepted += accepted;
        self.follow_shadow();
        if drafted > 0 {
            self.fr_record.learn(drafted, accepted);
        }
        if drafted > 0 && accepted == 0 {
            self.fr_pause = self.fr_backoff;
            self.fr_backoff = (self.fr_backoff * 2).min(MAX_PAUSE);
        } else if accepted > 0 {
            self.fr_backoff = 1;
        }
        session.truncate_to(self.base + self.queue.len())
    }

    /// At the end of a generation: drops from the cache the tokens evaluated after the
    /// last handed-out one, so the session holds what plain decoding leaves (every token
    /// handed out but the last).
    pub fn finish(&mut self, session: &mut Session) -> Result<()> {
        let extra = self.queue.len();
        self.queue.clear();
        if extra > 0 {
            session.truncate_to(session.history().len() - extra)?;
        }
        Ok(())
    }
}

/// The sampler's pick after row `i` of a pass over `tokens`, queued; whether it confirms
/// the draft (`tokens[i + 1]`).
fn pick(
    sampler: &mut Sampler,
    queue: &mut VecDeque<u32>,
    tokens: &[u32],
    i: usize,
    logits: &[f32],
    history: &[u32],
) -> bool {
    let t = sampler.sample(logits, history);
    queue.push_back(t);
    tokens.get(i + 1) == Some(&t)
}

#[cfg(test)]
mod tests {
    use super::super::record::RECORD_KEEP;
    use super::*;
    use crate::sample::SamplingParams;

    fn greedy_step(mode: SpecMode) -> Step {
        let sampler = Sampler::new(SamplingParams::default(), 16);
        Step::new(sampler, SpecConfig::new(mode, 8), 0)
    }

    #[test]
    fn the_draft_length_adapts_and_each_kind_learns_alone() {
        let mut step = greedy_step(SpecMode::Ngram);
        step.learn(Kind::Fresh, 4, 1);
        assert_eq!(
            step.k, 2,
            "after a rejection: what was accepted, and one more"
        );
        step.learn(Kind::Copying, 2, 2);
        assert_eq!(step.k, 4, "after a full acceptance: two more");
        assert!(step.records[Kind::Fresh as usize].reach(0.5) == 0);
        assert!(step.records[Kind::Copying as usize].reach(0.5) >= 1);
        // A match is a copy in progress when the text has followed its source for
        // `Kind::COPYING` tokens.
        let source: Vec<u32> = (10..30).collect();
        let mut history = source.clone();
        history.extend(10..17);
        assert_eq!(Kind::of(&history, 17, 8), Kind::Copying);
        history.truncate(source.len() + 3);
        assert_eq!(Kind::of(&history, 13, 4), Kind::Fresh);
    }

    #[test]
    fn a_shadow_learns_from_the_tokens_decoding_emits() {
        let mut step = greedy_step(SpecMode::Ngram);
        // A shadow as `plan` leaves it: its kind's record starts a new draft.
        let shadow = |step: &mut Step, tokens: Vec<u32>, kind: Kind| {
            step.shadow = tokens;
            step.shadow_hits = 0;
            step.shadow_kind = kind;
            step.records[kind as usize].start();
        };
        let r = step.records[Kind::Copying as usize];
        shadow(&mut step, vec![5, 6, 7], Kind::Copying);
        // Two passes agree one token each: the record learns each, the shadow stays open.
        for (i, tok) in [5, 6].into_iter().enumerate() {
            step.queue = VecDeque::from([tok]);
            step.follow_shadow();
            let n = (i + 1) as f64;
            assert_eq!(
                step.records[Kind::Copying as usize],
                Record {
                    hits: RECORD_KEEP * r.hits + n,
                    tries: RECORD_KEEP * r.tries + n
                }
            );
        }
        assert_eq!(step.shadow_hits, 2);
        // The third disagrees: two of three accepted, one rejection, in the shadow's
        // record as for a verified draft; the draft length falls to what agreed, and one.
        step.queue = VecDeque::from([9]);
        step.follow_shadow();
        assert!(step.shadow.is_empty());
        let mut want = r;
        want.learn(3, 2);
        assert_eq!(step.records[Kind::Copying as usize], want);
        assert_eq!(step.records[Kind::Fresh as usize], Record::PRIOR);
        assert_eq!(step.k, 3);
        // A pass that emits several tokens (an FR draft) ends a shadow it covers whole,
        // with no rejection.
        shadow(&mut step, vec![1, 2], Kind::Fresh);
        step.queue = VecDeque::from([1, 2, 3]);
        step.follow_shadow();
        assert!(step.shadow.is_empty());
        let mut want = Record::PRIOR;
        want.learn(2, 2);
        assert_eq!(step.records[Kind::Fresh as usize], want);
        assert_eq!(step.k, 5);
    }

    #[test]
    fn drafts_fit_whole_kernel_groups() {
        let g = wren_kernels::isa::ROWWISE_TOKENS;
        assert_eq!(g, 8);
        let want = [0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 15, 15, 15];
        for (n, w) in want.into_iter().enumerate() {
            assert_eq!(fit_groups(n), w, "draft of {n}");
        }
    }

    /// Pearson's chi-square of `counts` against probabilities `p` (cells with p = 0 must
    /// be empty).
    fn chi2(counts: &[u64], p: &[f64]) -> f64 {
        let n: u64 = counts.iter().sum();
        counts
            .iter()
            .zip(p)
            .filter(|(_, &q)| q > 0.0)
            .map(|(&c, &q)| {
                let e = q * n as f64;
                (c as f64 - e).powi(2) / e
            })
            .sum()
    }

    /// Speculative sampling with a deterministic draft (prompt lookup proposes `d` with
    /// certainty): the token a verified row yields must be distributed as the sampler's
    /// own distribution `p`, the draft accepted with probability `p(d)` (`min(1, p/q)`
    /// with `q(d) = 1`), and a rejection's token distributed as the residual
    /// `norm(max(0, p − q))` = `p` without `d`. Checked by chi-square over 40 000
    /// seeded draws on an 8-token vocabulary (thresholds: p = 0.001).
    #[test]
    fn accepting_a_draft_keeps_the_sampling_distribution() {
        let logits = [1.0f32, 0.2, 2.0, -0.5, 1.5, 0.0, -1.0, 0.7];
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            ..SamplingParams::default()
        };
        let w: Vec<f64> = logits.iter().map(|&l| (l as f64).exp()).collect();
        let z: f64 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|x| x / z).collect();
        let d = 4u32; // the draft: p(d) ≈ 0.22
        let n = 40_000u64;
        let (mut all, mut rejected) = ([0u64; 8], [0u64; 8]);
        let mut accepted = 0u64;
        for seed in 0..n {
            let sampler = Sampler::new(
                SamplingParams {
                    seed,
                    ..params.clone()
                },
                8,
            );
            let mut step = Step::new(sampler, SpecConfig::new(SpecMode::Ngram, 1), 0);
            step.queue.clear();
            step.tokens = vec![0, d];
            let more = step.accept(0, &logits, &[0]);
            let t = step.queue[0];
            assert_eq!(more, t == d, "accepted exactly when the pick is the draft");
            all[t as usize] += 1;
            if more {
                accepted += 1;
            } else {
                rejected[t as usize] += 1;
            }
        }
        // Emitted tokens ~ p (7 degrees of freedom: 24.32).
        let c_all = chi2(&all, &p);
        assert!(c_all < 24.32, "emitted tokens: chi2 {c_all}");
        // Acceptance rate ~ p(d): a binomial proportion within 4 standard deviations.
        let rate = accepted as f64 / n as f64;
        let sd = (p[4] * (1.0 - p[4]) / n as f64).sqrt();
        assert!(
            (rate - p[4]).abs() < 4.0 * sd,
            "acceptance {rate} vs p(d) {}",
            p[4]
        );
        // Rejections ~ the residual (6 degrees of freedom: 22.46).
        let mut res = p.clone();
        res[d as usize] = 0.0;
        let s: f64 = res.iter().sum();
        res.iter_mut().for_each(|x| *x /= s);
        let c_res = chi2(&rejected, &res);
        assert!(c_res < 22.46, "rejection resamples: chi2 {c_res}");
        // The test has power: the same draws are far from a slightly wrong distribution
        // (the draft's probability doubled, as a scheme that accepted too often would give).
        let mut wrong = p.clone();
        wrong[d as usize] *= 2.0;
        let s: f64 = wrong.iter().sum();
        wrong.iter_mut().for_each(|x| *x /= s);
        assert!(chi2(&all, &wrong) > 100.0);
        eprintln!("chi2 emitted {c_all:.2} (7 dof), residual {c_res:.2} (6 dof), acceptance {rate:.4} vs {:.4}", p[4]);
    }
}
