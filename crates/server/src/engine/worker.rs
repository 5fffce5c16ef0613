//! The engine thread's loop: admit requests into free slots, evaluate one chunk of one
//! prompt, then one decode step of every generating sequence, and again.
//!
//! ```text
//! loop {
//!     admit:   while a slot is free, take a queued request (block only when idle) and
//!              pick a slot for it (prefix reuse, see `slots`): it starts prefilling
//!     prefill: evaluate the next chunk (`chunk` tokens) of the prompt with the fewest
//!              tokens left; after its last chunk, sample its first token: it decodes
//!     decode:  for each decoding slot: cancelled? emit its sampled tokens, stop on
//!              EOG / max_tokens / full context; then run one pass of every survivor's
//!              generation step (`wren_core::generate::Step`: its last token and, with
//!              speculation, a draft) in one batched forward pass, and sample each one's
//!              next tokens (one, or the accepted draft and one more)
//! }
//! ```
//!
//! When any sequence of the pass drafted, the pass is a `Session::verify_batch`: every
//! row computed as one-token decoding computes it, so the drafts are accepted exactly as
//! decoding alone would; a pass without drafts is a `Session::decode_batch` (one token per
//! sequence, the batched kernels), as without speculation: rowwise rows cost most of a
//! decode step each, which would undo batching's gain (see BENCHMARKS.md).
//!
//! Neither a long generation nor a long prompt starves the others: every decoding
//! sequence advances by one token per iteration, and a prompt costs at most one chunk of
//! time per iteration. Shortest-remaining prompt first keeps a short request from
//! waiting behind a long prefill; a long one is delayed by at most one chunk per short
//! prompt admitted meanwhile, and the slots bound how many those are.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use std::collections::VecDeque;

use wren_core::generate::{SpecConfig, SpecMode, Step};
use wren_core::sample::{log_softmax_of, top_logprobs, Sampler};
use wren_core::session::Session;
use wren_core::tokenizer::{StreamDecoder, Tokenizer};

use super::slots::{self, FreeSlot};
use super::{Event, FinishReason, GenRequest, Sender, TopLogprob, Usage};

/// Counters shared between the engine thread and its handle.
#[derive(Default, Debug)]
pub(super) struct Counters {
    pub queue_depth: AtomicUsize,
    pub active: AtomicUsize,
    pub decode_tokens: AtomicU64,
    pub decode_nanos: AtomicU64,
    pub prompt_evaluated: AtomicU64,
    pub prompt_reused: AtomicU64,
    /// Speculation: draft tokens proposed and accepted.
    pub drafted: AtomicU64,
    pub accepted: AtomicU64,
}

/// A slot: a session whose cache outlives requests (for prefix reuse) and what it is
/// doing now.
pub(super) struct Slot {
    pub session: Session,
    job: Job,
    last_used: u64,
}

impl Slot {
    pub fn new(session: Session) -> Slot {
        Slot {
            session,
            job: Job::Idle,
            last_used: 0,
        }
    }

    fn is_idle(&self) -> bool {
        matches!(self.job, Job::Idle)
    }
}

enum Job {
    Idle,
    /// The prompt is being evaluated, one chunk per loop iteration.
    Prefill(Prefill),
    /// Boxed: a sequence (its sampler and generation step) is much larger than a prefill.
    Decode(Box<Seq>),
}

/// A request whose prompt is being evaluated.
struct Prefill {
    req: GenRequest,
    /// Prompt tokens already in the slot's cache (reused or evaluated).
    done: usize,
    /// Admission order: ties between equally long remainders go to the oldest.
    order: u64,
}

impl Prefill {
    fn left(&self) -> usize {
        self.req.prompt.len() - self.done
    }
}

/// A sequence being generated.
struct Seq {
    events: Sender,
    /// Its sampler and the tokens sampled but not yet emitted.
    step: Step,
    decoder: StreamDecoder,
    /// Log-probability information of each sampled token not yet emitted, when asked for.
    lps: VecDeque<(f32, Vec<TopLogprob>)>,
    logprobs: Option<usize>,
    max_tokens: usize,
    generated: usize,
    prompt_tokens: usize,
}

pub(super) struct Worker {
    pub tok: Arc<Tokenizer>,
    pub slots: Vec<Slot>,
    pub rx: Receiver<GenRequest>,
    pub counters: Arc<Counters>,
    pub vocab_size: usize,
    pub clock: u64,
    /// Prompt tokens evaluated per loop iteration (`usize::MAX`: whole prompts).
    pub chunk: usize,
    /// Speculation of requests that do not set their own.
    pub spec: SpecConfig,
    /// Sequences decoding at once up to which they draft (see `LocalConfig`).
    pub spec_max_seqs: usize,
}

impl Worker {
    /// Runs until every handle is gone and no sequence is active.
    pub fn run(mut self) {
        while self.admit() {
            self.prefill_chunk();
            self.step_all();
        }
    }

    /// Fills free slots from the queue. Blocks while idle; returns false when the queue is
    /// closed and nothing is running.
    fn admit(&mut self) -> bool {
        while self.slots.iter().any(Slot::is_idle) {
            let idle = self.slots.iter().all(Slot::is_idle);
            let req = if idle {
                match self.rx.recv() {
                    Ok(r) => r,
                    Err(_) => return false,
                }
            } else {
                match self.rx.try_recv() {
                    Ok(r) => r,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => return true,
                }
            };
            self.counters.queue_depth.fetch_sub(1, Ordering::Relaxed);
            self.assign(req);
        }
        true
    }

    /// Puts `req` in a free slot, keeping the cached prefix it extends, if any.
    fn assign(&mut self, req: GenRequest) {
        if req.events.is_closed() {
            return; // the client left while queued
        }
        let free: Vec<FreeSlot<'_>> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_idle())
            .map(|(index, s)| FreeSlot {
                index,
                history: s.session.history(),
                max_rewind: s.session.max_rewind(),
                last_used: s.last_used,
            })
            .collect();
        let Some(pick) = slots::pick(&free, &req.prompt) else {
            return; // unreachable: admit() only calls us with a free slot
        };
        self.clock += 1;
        let slot = &mut self.slots[pick.index];
        slot.last_used = self.clock;
        let mut reuse = pick.reuse;
        if reuse == 0 || slot.session.truncate_to(reuse).is_err() {
            // (`pick` only offers rewinds the slot can make; a refusal starts over.)
            slot.session.reset();
            reuse = 0;
        }
        self.counters
            .prompt_reused
            .fetch_add(reuse as u64, Ordering::Relaxed);
        slot.job = Job::Prefill(Prefill {
            req,
            done: reuse,
            order: self.clock,
        });
        self.counters.active.fetch_add(1, Ordering::Relaxed);
    }

    /// Evaluates the next chunk of the prompt with the fewest tokens left. After the last
    /// chunk, samples the first token: the sequence then decodes.
    fn prefill_chunk(&mut self) {
        let next = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.job {
                Job::Prefill(p) => Some((p.left(), p.order, i)),
                _ => None,
            })
            .min();
        let Some((_, _, i)) = next else {
            return;
        };
        let Slot { session, job, .. } = &mut self.slots[i];
        let Job::Prefill(p) = job else {
            return;
        };
        if p.req.events.is_closed() {
            // The client left. What was evaluated stays: it is a valid cached history.
            self.finish(i, None);
            return;
        }
        let n = chunk_len(p.left(), self.chunk);
        let end = p.done + n;
        let last = end == p.req.prompt.len();
        let tokens = &p.req.prompt[p.done..end];
        let result = if last {
            session.eval_last(tokens).map(|_| ())
        } else {
            session.eval_with(tokens, 0..0, |_, _| {})
        };
        self.counters
            .prompt_evaluated
            .fetch_add(n as u64, Ordering::Relaxed);
        if let Err(e) = result {
            session.reset();
            self.finish(i, Some(Event::Error(e.to_string())));
            return;
        }
        p.done = end;
        if last {
            let Job::Prefill(p) = std::mem::replace(job, Job::Idle) else {
                return;
            };
            let mut sampler = Sampler::new(p.req.sampling, self.vocab_size);
            sampler.set_constraint(p.req.constraint.map(|c| *c));
            let logits = session.last_logits();
            let next = sampler.sample(logits, session.history());
            let lps = p
                .req
                .logprobs
                .map(|k| logprob_info(&self.tok, logits, next, k))
                .into_iter()
                .collect();
            let spec = p.req.spec.unwrap_or(self.spec);
            *job = Job::Decode(Box::new(Seq {
                events: p.req.events,
                step: Step::new(sampler, spec, next),
                decoder: StreamDecoder::new(),
                lps,
                logprobs: p.req.logprobs,
                max_tokens: p.req.max_tokens.max(1),
                generated: 0,
                prompt_tokens: p.req.prompt.len(),
            }));
        }
    }

    /// One step of every decoding sequence: emit each one's sampled tokens, run one pass
    /// of all the survivors' generation steps in a single batched forward pass (so the
    /// weights are read once per step however many sequences run), then sample each.
    fn step_all(&mut self) {
        let t0 = Instant::now();
        let mut batch: Vec<usize> = Vec::with_capacity(self.slots.len());
        for i in 0..self.slots.len() {
            if matches!(self.slots[i].job, Job::Decode(_)) && self.emit(i) {
                batch.push(i);
            }
        }
        if batch.is_empty() {
            return;
        }
        if batch.len() == 1 && self.spec_max_seqs >= 1 && self.step_alone(batch[0], t0) {
            return;
        }
        // Each survivor's pass: its last token and, speculating, a draft.
        let mut plans: Vec<Vec<u32>> = Vec::with_capacity(batch.len());
        let mut speculate = false;
        // Drafts only while few sequences decode: a verified row costs most of a decode
        // step, while a batched step gives every sequence a token for little more than
        // one (see `spec_max_seqs`).
        let drafting = batch.len() <= self.spec_max_seqs;
        for &i in &batch {
            let Slot { session, job, .. } = &mut self.slots[i];
            if let Job::Decode(s) = job {
                // A budget of one token leaves no room for a draft.
                let budget = if drafting {
                    s.max_tokens - s.generated
                } else {
                    1
                };
                plans.push(s.step.plan(session, budget).to_vec());
                speculate |= plans.last().is_some_and(|p| p.len() > 1);
            }
        }
        let tok = &self.tok;
        let result = {
            let mut sessions: Vec<&mut Session> = Vec::with_capacity(batch.len());
            let mut seqs: Vec<&mut Seq> = Vec::with_capacity(batch.len());
            for (i, slot) in self.slots.iter_mut().enumerate() {
                if let (true, Job::Decode(s)) = (batch.contains(&i), &mut slot.job) {
                    sessions.push(&mut slot.session);
                    seqs.push(s);
                }
            }
            let mut accept = |si: usize, i: usize, logits: &[f32], history: &[u32]| {
                let s = &mut *seqs[si];
                let more = s.step.accept(i, logits, history);
                if let (Some(k), Some(&t)) = (s.logprobs, s.step.queued().back()) {
                    s.lps.push_back(logprob_info(tok, logits, t, k));
                }
                more
            };
            let refs: Vec<&[u32]> = plans.iter().map(Vec::as_slice).collect();
            let r = if speculate {
                Session::verify_batch(&mut sessions, &refs, &mut accept)
            } else {
                let ids: Vec<u32> = plans.iter().map(|p| p[0]).collect();
                Session::decode_batch(&mut sessions, &ids).map(|()| {
                    for (si, s) in sessions.iter().enumerate() {
                        accept(si, 0, s.last_logits(), s.history());
                    }
                })
            };
            r.and_then(|()| {
                let mut made = 0;
                for (session, s) in sessions.iter_mut().zip(seqs.iter_mut()) {
                    s.step.settle_pass(session)?;
                    made += s.step.queued().len();
                }
                Ok(made)
            })
        };
        let made = match result {
            Ok(n) => n,
            Err(e) => {
                for &i in &batch {
                    self.slots[i].session.reset();
                    self.finish(i, Some(Event::Error(e.to_string())));
                }
                return;
            }
        };
        let c = &self.counters;
        c.decode_tokens.fetch_add(made as u64, Ordering::Relaxed);
        c.decode_nanos
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let drafted: usize = plans.iter().map(|p| p.len() - 1).sum();
        c.drafted.fetch_add(drafted as u64, Ordering::Relaxed);
        c.accepted
            .fetch_add((made - batch.len()) as u64, Ordering::Relaxed);
    }

    /// A sequence decoding alone runs the CLI's own pass ([`Step::advance`]): prompt
    /// lookup, FR self-drafting with the session's draft head, and `auto`'s choice and
    /// timing gates, exactly as `wren run` does. Not when the request wants log
    /// probabilities (the batched path reports each row's) or does not speculate; returns
    /// false then, with nothing done.
    fn step_alone(&mut self, i: usize, t0: Instant) -> bool {
        let Slot { session, job, .. } = &mut self.slots[i];
        let Job::Decode(s) = job else {
            return false;
        };
        if s.logprobs.is_some() || s.step.spec().mode == SpecMode::Off {
            return false;
        }
        let before = s.step.stats;
        if let Err(e) = s.step.advance(session, s.max_tokens - s.generated) {
            session.reset();
            self.finish(i, Some(Event::Error(e.to_string())));
            return true;
        }
        let after = s.step.stats;
        let c = &self.counters;
        c.decode_tokens
            .fetch_add(s.step.queued().len() as u64, Ordering::Relaxed);
        c.decode_nanos
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        c.drafted
            .fetch_add((after.drafted - before.drafted) as u64, Ordering::Relaxed);
        c.accepted
            .fetch_add((after.accepted - before.accepted) as u64, Ordering::Relaxed);
        true
    }

    /// Emits slot `i`'s sampled tokens. Returns true when the sequence goes on and needs
    /// a pass, false when it ended (finished, cancelled or failed).
    fn emit(&mut self, i: usize) -> bool {
        loop {
            match self.emit_one(i) {
                Some(true) => {}
                Some(false) => return true,
                None => return false,
            }
        }
    }

    /// Emits slot `i`'s next sampled token: `Some(more)` when the sequence goes on (`more`:
    /// another sampled token is ready), `None` when it ended.
    fn emit_one(&mut self, i: usize) -> Option<bool> {
        let tok = &self.tok;
        let Slot { session, job, .. } = &mut self.slots[i];
        let Job::Decode(s) = job else {
            return None;
        };
        if s.events.is_closed() {
            let _ = s.step.finish(session);
            self.finish(i, None); // client gone: cancel at once
            return None;
        }
        let id = s.step.next_token()?;
        let lp = s.lps.pop_front();
        let usage = |s: &Seq| Usage {
            prompt_tokens: s.prompt_tokens,
            completion_tokens: s.generated,
        };
        if tok.eog_ids().contains(&id) {
            let _ = s.step.finish(session);
            let rest = s.decoder.flush();
            if !rest.is_empty() {
                let _ = s.events.send(token_event(tok, rest, id, None));
            }
            let done = Event::Done {
                finish_reason: FinishReason::Stop,
                usage: usage(s),
            };
            self.finish(i, Some(done));
            return None;
        }
        s.generated += 1;
        let mut text = String::new();
        s.decoder.push_into(tok, id, &mut text);
        let last = s.generated >= s.max_tokens
            || (s.step.needs_pass() && session.history().len() + 1 > session.ctx());
        if last {
            text.push_str(&s.decoder.flush());
        }
        if s.events.send(token_event(tok, text, id, lp)).is_err() {
            let _ = s.step.finish(session);
            self.finish(i, None);
            return None;
        }
        if last {
            let _ = s.step.finish(session);
            let done = Event::Done {
                finish_reason: FinishReason::Length,
                usage: usage(s),
            };
            self.finish(i, Some(done));
            return None;
        }
        Some(!s.step.needs_pass())
    }

    /// Frees slot `i` (prefilling or decoding), sending `last` (Done or Error) if given.
    fn finish(&mut self, i: usize, last: Option<Event>) {
        let events = match std::mem::replace(&mut self.slots[i].job, Job::Idle) {
            Job::Idle => return,
            Job::Prefill(p) => p.req.events,
            Job::Decode(s) => s.events,
        };
        if let Some(ev) = last {
            let _ = events.send(ev);
        }
        self.counters.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Tokens of the next prefill chunk when `left` remain: `chunk`, except that a rest of up
/// to half a chunk more goes along with it (no tiny last chunk, which would leave the
/// batched exact path of `--compute auto`).
fn chunk_len(left: usize, chunk: usize) -> usize {
    let chunk = chunk.max(1);
    if left <= chunk.saturating_add(chunk / 2) {
        left
    } else {
        chunk
    }
}

fn token_event(
    tok: &Tokenizer,
    text: String,
    id: u32,
    lp: Option<(f32, Vec<TopLogprob>)>,
) -> Event {
    let (logprob, top_logprobs, bytes) = match lp {
        Some((l, top)) => (Some(l), top, tok.token_bytes(id).to_vec()),
        None => (None, Vec::new(), Vec::new()),
    };
    Event::Token {
        text,
        id,
        logprob,
        bytes,
        top_logprobs,
    }
}

/// Log-probability of `id` and the `k` best alternatives, from the raw logits (before
/// penalties and temperature, as OpenAI reports them).
fn logprob_info(tok: &Tokenizer, logits: &[f32], id: u32, k: usize) -> (f32, Vec<TopLogprob>) {
    let lp = log_softmax_of(logits, id);
    let top = top_logprobs(logits, k)
        .into_iter()
        .map(|(id, logprob)| TopLogprob {
            id,
            text: tok.decode(&[id]),
            bytes: tok.token_bytes(id).to_vec(),
            logprob,
        })
        .collect();
    (lp, top)
}

#[cfg(test)]
mod tests {
    use super::chunk_len;

    #[test]
    fn chunks_never_leave_a_tiny_rest() {
        assert_eq!(chunk_len(1000, 256), 256);
        assert_eq!(chunk_len(385, 256), 256);
        assert_eq!(chunk_len(384, 256), 384);
        assert_eq!(chunk_len(5, 256), 5);
        assert_eq!(chunk_len(7, 1), 1);
        assert_eq!(chunk_len(7, 0), 1);
        assert_eq!(chunk_len(100_000, usize::MAX), 100_000);
    }
}
