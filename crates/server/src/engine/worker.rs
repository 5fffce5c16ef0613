//! The engine thread's loop: admit requests into free slots, then one decode step per
//! active sequence, round-robin, and again.
//!
//! ```text
//! loop {
//!     admit: while a slot is free, take a queued request (block only when idle),
//!            pick a slot (prefix reuse, see `slots`), evaluate the prompt suffix,
//!            sample the first token
//!     step:  for each active slot: cancelled? emit the sampled token, stop on
//!            EOG / max_tokens / full context; then evaluate every survivor's token in
//!            one batched forward pass and sample each one's next token
//! }
//! ```
//!
//! A long generation therefore never starves a short one: every active sequence advances
//! by one token per iteration. Prompt processing is not interleaved (a long prompt delays
//! the others for its prefill); see the TODOs.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

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
}

/// A slot: a session whose cache outlives requests (for prefix reuse) and the sequence
/// it is generating, if any.
pub(super) struct Slot {
    pub session: Session,
    seq: Option<Seq>,
    last_used: u64,
}

impl Slot {
    pub fn new(session: Session) -> Slot {
        Slot {
            session,
            seq: None,
            last_used: 0,
        }
    }
}

/// A sequence being generated.
struct Seq {
    events: Sender,
    sampler: Sampler,
    decoder: StreamDecoder,
    /// Sampled from the latest logits, not yet emitted nor evaluated.
    next: u32,
    /// Log-probability information of `next`, when asked for.
    next_lp: Option<(f32, Vec<TopLogprob>)>,
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
}

impl Worker {
    /// Runs until every handle is gone and no sequence is active.
    pub fn run(mut self) {
        while self.admit() {
            self.step_all();
        }
    }

    /// Fills free slots from the queue. Blocks while idle; returns false when the queue is
    /// closed and nothing is running.
    fn admit(&mut self) -> bool {
        while self.slots.iter().any(|s| s.seq.is_none()) {
            let idle = self.slots.iter().all(|s| s.seq.is_none());
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
            self.start(req);
        }
        true
    }

    /// Prefills `req` into a slot and samples its first token.
    ///
    /// TODO(chunked-prefill): the whole prompt suffix is evaluated here in one go, so a
    /// long prompt pauses the other sequences; split it into chunks interleaved with
    /// decode steps.
    fn start(&mut self, req: GenRequest) {
        if req.events.is_closed() {
            return; // the client left while queued
        }
        let free: Vec<FreeSlot<'_>> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.seq.is_none())
            .map(|(index, s)| FreeSlot {
                index,
                history: s.session.history(),
                last_used: s.last_used,
            })
            .collect();
        let Some(pick) = slots::pick(&free, &req.prompt) else {
            return; // unreachable: admit() only calls us with a free slot
        };
        self.clock += 1;
        let slot = &mut self.slots[pick.index];
        slot.last_used = self.clock;
        if pick.reuse == 0 {
            slot.session.reset();
        }
        let suffix = &req.prompt[pick.reuse..];
        let c = &self.counters;
        c.prompt_reused
            .fetch_add(pick.reuse as u64, Ordering::Relaxed);
        c.prompt_evaluated
            .fetch_add(suffix.len() as u64, Ordering::Relaxed);
        if let Err(e) = slot.session.eval_last(suffix) {
            slot.session.reset();
            let _ = req.events.send(Event::Error(e.to_string()));
            return;
        }
        let mut sampler = Sampler::new(req.sampling, self.vocab_size);
        let logits = slot.session.last_logits();
        let next = sampler.sample(logits, slot.session.history());
        let next_lp = req
            .logprobs
            .map(|k| logprob_info(&self.tok, logits, next, k));
        slot.seq = Some(Seq {
            events: req.events,
            sampler,
            decoder: StreamDecoder::new(),
            next,
            next_lp,
            logprobs: req.logprobs,
            max_tokens: req.max_tokens.max(1),
            generated: 0,
            prompt_tokens: req.prompt.len(),
        });
        self.counters.active.fetch_add(1, Ordering::Relaxed);
    }

    /// One step of every active sequence: emit each one's pending token, evaluate all the
    /// survivors' tokens in a single batched forward pass (`Session::decode_batch`, so the
    /// weights are read once per step however many sequences run), then sample each.
    fn step_all(&mut self) {
        let t0 = Instant::now();
        let mut batch: Vec<(usize, u32)> = Vec::with_capacity(self.slots.len());
        for i in 0..self.slots.len() {
            if self.slots[i].seq.is_some() {
                if let Some(id) = self.emit(i) {
                    batch.push((i, id));
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        let ids: Vec<u32> = batch.iter().map(|&(_, id)| id).collect();
        let result = {
            let mut sessions: Vec<&mut Session> = self
                .slots
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| batch.iter().any(|&(j, _)| j == *i))
                .map(|(_, s)| &mut s.session)
                .collect();
            Session::decode_batch(&mut sessions, &ids)
        };
        if let Err(e) = result {
            for &(i, _) in &batch {
                self.slots[i].session.reset();
                self.end(i, Some(Event::Error(e.to_string())));
            }
            return;
        }
        for &(i, _) in &batch {
            self.sample_next(i);
        }
        let c = &self.counters;
        c.decode_tokens
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        c.decode_nanos
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Emits slot `i`'s pending token. Returns it when the sequence goes on (it must then
    /// be evaluated), `None` when the sequence ended (finished, cancelled or failed).
    fn emit(&mut self, i: usize) -> Option<u32> {
        let tok = &self.tok;
        let Slot { session, seq, .. } = &mut self.slots[i];
        let s = seq.as_mut()?;
        if s.events.is_closed() {
            self.end(i, None); // client gone: cancel at once
            return None;
        }
        let id = s.next;
        let usage = |s: &Seq| Usage {
            prompt_tokens: s.prompt_tokens,
            completion_tokens: s.generated,
        };
        if tok.eog_ids().contains(&id) {
            let rest = s.decoder.flush();
            if !rest.is_empty() {
                let _ = s.events.send(token_event(rest, id, None));
            }
            let done = Event::Done {
                finish_reason: FinishReason::Stop,
                usage: usage(s),
            };
            self.end(i, Some(done));
            return None;
        }
        s.generated += 1;
        let mut text = String::new();
        s.decoder.push_into(tok, id, &mut text);
        let last = s.generated >= s.max_tokens || session.history().len() + 1 > session.ctx();
        if last {
            text.push_str(&s.decoder.flush());
        }
        if s.events
            .send(token_event(text, id, s.next_lp.take()))
            .is_err()
        {
            self.end(i, None);
            return None;
        }
        if last {
            let done = Event::Done {
                finish_reason: FinishReason::Length,
                usage: usage(s),
            };
            self.end(i, Some(done));
            return None;
        }
        Some(id)
    }

    /// Samples slot `i`'s next token from the logits of its last evaluated one.
    fn sample_next(&mut self, i: usize) {
        let tok = &self.tok;
        let Slot { session, seq, .. } = &mut self.slots[i];
        if let Some(s) = seq.as_mut() {
            let logits = session.last_logits();
            s.next = s.sampler.sample(logits, session.history());
            s.next_lp = s.logprobs.map(|k| logprob_info(tok, logits, s.next, k));
        }
    }

    /// Frees slot `i`, sending `last` (Done or Error) if given.
    fn end(&mut self, i: usize, last: Option<Event>) {
        if let Some(s) = self.slots[i].seq.take() {
            if let Some(ev) = last {
                let _ = s.events.send(ev);
            }
            self.counters.active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn token_event(text: String, id: u32, lp: Option<(f32, Vec<TopLogprob>)>) -> Event {
    let (logprob, top_logprobs) = match lp {
        Some((l, top)) => (Some(l), top),
        None => (None, Vec::new()),
    };
    Event::Token {
        text,
        id,
        logprob,
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
            logprob,
        })
        .collect();
    (lp, top)
}
