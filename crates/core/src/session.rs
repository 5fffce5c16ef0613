//! One sequence being evaluated: a model, its KV cache, scratch buffers and a thread pool.

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use crate::attention::sparse::{SparseParams, SparseSettings};
use crate::error::{Error, Result};
use crate::generate::FrDraft;
use crate::kv::{CacheOptions, KvCache, KvType};
use crate::linear::Compute;
use crate::models::{Model, SeqBatch, Workspace};

/// Tokens per forward pass when no logits are needed (prompt processing).
pub const PREFILL_BATCH: usize = 512;
/// Tokens per forward pass when every position's logits are needed (bounds logit memory).
pub const LOGITS_BATCH: usize = 64;

/// Called after each prefill batch with (tokens evaluated so far, tokens in the call).
pub type Progress = Box<dyn FnMut(usize, usize) + Send>;

pub struct Session {
    model: Arc<dyn Model>,
    cache: KvCache,
    ws: Workspace,
    logits: Vec<f32>,
    history: Vec<u32>,
    pool: Arc<rayon::ThreadPool>,
    pub compute: Compute,
    progress: Option<Progress>,
    /// FR-Spec draft head ([`Session::set_fr_draft`]).
    fr: Option<Arc<FrDraft>>,
    /// Final hidden states (before the output norm) of the tokens [`Session::eval_trunk`]
    /// evaluated since the last [`Session::verify_hidden`], `n_embd` each.
    hidden: Vec<f32>,
    /// Draft scratch: the normed row and the reduced head's logits.
    draft_hin: Vec<f32>,
    draft_logits: Vec<f32>,
}

/// How a session is set up.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Context size in tokens (at most the model's trained context).
    pub ctx: usize,
    pub compute: Compute,
    /// Element type of the KV cache (default f16).
    pub kv_type: KvType,
    /// Block-sparse attention on the global layers (default: as the model declares).
    pub sparse: SparseSettings,
}

impl SessionOptions {
    pub fn new(ctx: usize, compute: Compute) -> SessionOptions {
        SessionOptions {
            ctx,
            compute,
            kv_type: KvType::default(),
            sparse: SparseSettings::default(),
        }
    }
}

/// A rayon pool with `threads` workers (0 = one per physical core, approximated by the
/// number of available CPUs).
pub fn thread_pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    let n = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("wren-worker-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| Error::Invalid(format!("cannot start {n} worker threads: {e}")))
}

impl Session {
    /// A session with the default KV cache (f16; sparse attention as the model declares).
    pub fn new(
        model: Arc<dyn Model>,
        ctx: usize,
        pool: Arc<rayon::ThreadPool>,
        compute: Compute,
    ) -> Result<Session> {
        Session::with_options(model, pool, &SessionOptions::new(ctx, compute))
    }

    /// A session whose KV cache (all of it, allocated now) follows `opts`.
    pub fn with_options(
        model: Arc<dyn Model>,
        pool: Arc<rayon::ThreadPool>,
        opts: &SessionOptions,
    ) -> Result<Session> {
        let max = model.info().n_ctx_train;
        let ctx = opts.ctx;
        if ctx == 0 || ctx > max {
            return Err(Error::Invalid(format!(
                "context size {ctx} is outside 1..={max} (the model's trained context)"
            )));
        }
        let sparse = opts.sparse.resolve(model.declared_sparse())?;
        let cache = model.new_cache(&CacheOptions {
            ctx,
            ty: opts.kv_type,
            sparse,
        })?;
        Ok(Session {
            model,
            cache,
            ws: Workspace::default(),
            logits: Vec::new(),
            history: Vec::new(),
            pool,
            compute: opts.compute,
            progress: None,
            fr: None,
            hidden: Vec::new(),
            draft_hin: Vec::new(),
            draft_logits: Vec::new(),
        })
    }

    /// Report prefill progress to `f` (see [`Progress`]); `None` stops reporting.
    pub fn set_progress(&mut self, f: Option<Progress>) {
        self.progress = f;
    }

    /// Element type of the KV cache.
    pub fn kv_type(&self) -> KvType {
        self.cache.ty
    }

    /// Block-sparse attention parameters in effect (`None`: dense).
    pub fn sparse(&self) -> Option<&SparseParams> {
        self.cache.sparse.as_ref()
    }

    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    /// Tokens evaluated so far.
    pub fn history(&self) -> &[u32] {
        &self.history
    }

    pub fn ctx(&self) -> usize {
        self.cache.ctx
    }

    /// Bytes held by the KV cache.
    pub fn kv_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Forget the sequence (the cache memory is kept).
    pub fn reset(&mut self) {
        self.cache.clear();
        self.history.clear();
    }

    /// How many tokens [`Session::truncate_to`] can drop from the end of the history.
    pub fn max_rewind(&self) -> usize {
        self.cache.max_rewind()
    }

    /// Forget the history from `len` on (the next token is evaluated at position `len`):
    /// speculative decoding drops rejected draft tokens with it, and prefix reuse an edited
    /// tail. Global layers just lower their length; a sliding-window layer can rewind at
    /// most [`Session::max_rewind`] tokens, and past that this fails with
    /// [`Error::Rewind`], changing nothing. [`Session::last_logits`] is stale after it.
    pub fn truncate_to(&mut self, len: usize) -> Result<()> {
        self.cache.truncate(len)?;
        self.history.truncate(len);
        self.hidden.clear();
        Ok(())
    }

    /// Sets (or clears) the FR-Spec draft head this session drafts with.
    pub fn set_fr_draft(&mut self, d: Option<Arc<FrDraft>>) {
        self.fr = d;
    }

    pub fn fr_draft(&self) -> Option<&Arc<FrDraft>> {
        self.fr.as_ref()
    }

    /// Evaluates `token` through the trunk only: exactly a one-token decode step (same
    /// arithmetic, same cache writes) without the output head. Its final hidden state is
    /// kept for [`Session::verify_hidden`] and [`Session::fr_propose`].
    pub fn eval_trunk(&mut self, token: u32) -> Result<()> {
        let compute = self.compute;
        if self.cache.pos + 1 > self.cache.ctx {
            return Err(Error::ContextFull {
                needed: self.cache.pos + 1,
                ctx: self.cache.ctx,
                max: self.model.info().n_ctx_train,
            });
        }
        let model = &self.model;
        let (cache, ws, logits) = (&mut self.cache, &mut self.ws, &mut self.logits);
        in_pool(&self.pool, 1, || {
            model.forward(cache, &[token], 0..0, logits, ws, compute)
        })?;
        self.history.push(token);
        let e = self.model.info().n_embd;
        self.hidden.extend_from_slice(&self.ws.x[..e]);
        Ok(())
    }

    /// Hidden states kept by [`Session::eval_trunk`] and not verified yet.
    pub fn pending_hidden(&self) -> usize {
        self.hidden.len() / self.model.info().n_embd
    }

    /// The FR draft after the last kept hidden state: the reduced head's argmax and its
    /// probability there (`None` without a draft head or a kept state).
    pub fn fr_propose(&mut self) -> Option<(u32, f32)> {
        let fr = self.fr.clone()?;
        let e = self.model.info().n_embd;
        if self.hidden.len() < e {
            return None;
        }
        let x = &self.hidden[self.hidden.len() - e..];
        let (hin, logits, lin) = (
            &mut self.draft_hin,
            &mut self.draft_logits,
            &mut self.ws.lin,
        );
        Some(in_pool(&self.pool, 1, || fr.draft(x, hin, logits, lin)))
    }

    /// The full output head over the hidden states kept by [`Session::eval_trunk`], in one
    /// product: `f(i, logits, history)` as [`Session::verify`] gives it, each row
    /// bit-identical to the logits of a one-token decode step of that token (the head's
    /// rows computed rowwise). The kept states are dropped.
    pub fn verify_hidden(
        &mut self,
        mut f: impl FnMut(usize, &[f32], &[u32]) -> bool,
    ) -> Result<()> {
        let head = self
            .model
            .output_head()
            .ok_or_else(|| Error::Invalid("this model does not expose its output head".into()))?;
        let e = self.model.info().n_embd;
        let m = self.hidden.len() / e;
        if m == 0 {
            return Ok(());
        }
        let compute = self.compute.for_decode();
        let vocab = head.output.rows;
        let ws = &mut self.ws;
        ws.lin.rowwise = true;
        let (hidden, logits) = (&self.hidden, &mut self.logits);
        in_pool(&self.pool, 1, || {
            let rows = hidden.chunks_exact(e);
            head.logits_of(rows, m, &mut ws.head_in, &mut ws.lin, logits, compute)
        });
        ws.lin.rowwise = false;
        self.hidden.clear();
        let base = self.history.len() - m;
        for i in 0..m {
            if !f(
                i,
                &self.logits[i * vocab..(i + 1) * vocab],
                &self.history[..base + i + 1],
            ) {
                break;
            }
        }
        Ok(())
    }

    /// Evaluate `tokens` after the history and pass each position's logits to `f(i,
    /// logits, history)`, where `history` ends with `tokens[i]`, in order while `f` returns
    /// true. Every row is bit-identical to what [`Session::eval_last`] of that one token
    /// would give after the tokens before it (the decode arithmetic, each row computed as
    /// a one-token pass computes it), in one pass over the weights: the verification pass
    /// of speculative decoding. At most [`LOGITS_BATCH`] tokens.
    pub fn verify(
        &mut self,
        tokens: &[u32],
        mut f: impl FnMut(usize, &[f32], &[u32]) -> bool,
    ) -> Result<()> {
        Session::verify_sessions(&mut [self], &[tokens], |_, i, l, h| f(i, l, h))
    }

    /// [`Session::verify`] for several sequences of the same model in one forward pass:
    /// `sessions[s]` gets `tokens[s]` (at least one each), and `f(s, i, logits, history)`
    /// sees the rows of each sequence in order while it returns true.
    pub fn verify_batch(
        sessions: &mut [&mut Session],
        tokens: &[&[u32]],
        f: impl FnMut(usize, usize, &[f32], &[u32]) -> bool,
    ) -> Result<()> {
        Session::verify_sessions(sessions, tokens, f)
    }

    fn verify_sessions(
        sessions: &mut [&mut Session],
        tokens: &[&[u32]],
        mut f: impl FnMut(usize, usize, &[f32], &[u32]) -> bool,
    ) -> Result<()> {
        if tokens
            .iter()
            .any(|t| t.is_empty() || t.len() > LOGITS_BATCH)
        {
            return Err(Error::Invalid(format!(
                "verify: every sequence needs 1..={LOGITS_BATCH} tokens"
            )));
        }
        let mut logits = std::mem::take(&mut sessions[0].logits);
        if let Err(e) = Session::forward_sessions(sessions, tokens, true, &mut logits) {
            sessions[0].logits = logits;
            return Err(e);
        }
        let vocab = sessions[0].model.info().vocab_size;
        let mut row = 0;
        for (si, (s, t)) in sessions.iter().zip(tokens).enumerate() {
            let base = s.history.len() - t.len();
            for i in 0..t.len() {
                let l = &logits[(row + i) * vocab..(row + i + 1) * vocab];
                if !f(si, i, l, &s.history[..base + i + 1]) {
                    break;
                }
            }
            row += t.len();
        }
        sessions[0].logits = logits;
        Ok(())
    }

    /// Evaluate `tokens` after the history. For each index `i` in `want` (positions within
    /// `tokens`), `f(i, logits)` receives the logits predicting the token after `tokens[i]`.
    pub fn eval_with(
        &mut self,
        tokens: &[u32],
        want: Range<usize>,
        f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        self.eval_inner(tokens, want, f)
    }

    fn eval_inner(
        &mut self,
        tokens: &[u32],
        want: Range<usize>,
        mut f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        let compute = self.compute;
        self.hidden.clear();
        let needed = self.cache.pos + tokens.len();
        if needed > self.cache.ctx {
            return Err(Error::ContextFull {
                needed,
                ctx: self.cache.ctx,
                max: self.model.info().n_ctx_train,
            });
        }
        let vocab = self.model.info().vocab_size;
        let mut i = 0;
        while i < tokens.len() {
            // Batches end where wanted logits start, and are short while logits are wanted.
            let mut end = (i + PREFILL_BATCH).min(tokens.len());
            if i < want.start && want.start < end && !want.is_empty() {
                end = want.start;
            }
            if want.contains(&i) {
                end = end.min(i + LOGITS_BATCH);
            }
            let lo = want.start.max(i).min(end);
            let hi = want.end.max(i).min(end);
            let batch = &tokens[i..end];
            let model = &self.model;
            let (cache, ws, logits) = (&mut self.cache, &mut self.ws, &mut self.logits);
            in_pool(&self.pool, 1, || {
                model.forward(cache, batch, (lo - i)..(hi - i), logits, ws, compute)
            })?;
            self.history.extend_from_slice(batch);
            for j in lo..hi {
                let r = j - lo;
                f(j, &self.logits[r * vocab..(r + 1) * vocab]);
            }
            i = end;
            if let Some(p) = self.progress.as_mut() {
                p(i, tokens.len());
            }
        }
        Ok(())
    }

    /// Evaluate `tokens` and return the logits after the last one.
    pub fn eval_last(&mut self, tokens: &[u32]) -> Result<&[f32]> {
        if tokens.is_empty() {
            return Err(Error::Invalid(
                "nothing to evaluate: empty token list".into(),
            ));
        }
        let n = tokens.len();
        self.eval_with(tokens, n - 1..n, |_, _| {})?;
        Ok(self.last_logits())
    }

    /// The logits after the last evaluated token (valid after [`Session::eval_last`]).
    pub fn last_logits(&self) -> &[f32] {
        &self.logits[..self.model.info().vocab_size.min(self.logits.len())]
    }

    /// One decode step for several sequences of the same model in a single forward pass:
    /// `sessions[i]` gets `tokens[i]` appended, and its [`Session::last_logits`] updated.
    /// The matrix products see all the rows at once, so the weights are read once for the
    /// whole batch. The first session's workspace and thread pool are used.
    pub fn decode_batch(sessions: &mut [&mut Session], tokens: &[u32]) -> Result<()> {
        if sessions.len() != tokens.len() {
            return Err(Error::Invalid(format!(
                "decode_batch: {} sessions but {} tokens",
                sessions.len(),
                tokens.len()
            )));
        }
        if sessions.is_empty() {
            return Ok(());
        }
        let one: Vec<&[u32]> = tokens.chunks(1).collect();
        let mut logits = std::mem::take(&mut sessions[0].logits);
        let result = Session::forward_sessions(sessions, &one, false, &mut logits);
        if result.is_ok() {
            let vocab = sessions[0].model.info().vocab_size;
            let pool = sessions[0].pool.clone();
            // A megabyte per sequence for a large vocabulary: copied in parallel.
            let all = &logits;
            pool.install(|| {
                sessions
                    .par_iter_mut()
                    .enumerate()
                    .skip(1)
                    .for_each(|(i, s)| {
                        s.logits.resize(vocab, 0.0);
                        s.logits[..vocab].copy_from_slice(&all[i * vocab..(i + 1) * vocab]);
                    })
            });
        }
        sessions[0].logits = logits;
        result
    }

    /// One forward pass of several sequences (`tokens[s]` after `sessions[s]`'s history,
    /// every row's logits wanted, into `logits` as `[Σ rows, vocab]`), their histories
    /// extended on success. `rowwise`: each row computed exactly as a one-token decode
    /// step computes it (see [`Session::verify`]). The first session's workspace and
    /// thread pool are used.
    fn forward_sessions(
        sessions: &mut [&mut Session],
        tokens: &[&[u32]],
        rowwise: bool,
        logits: &mut Vec<f32>,
    ) -> Result<()> {
        if sessions.len() != tokens.len() {
            return Err(Error::Invalid(format!(
                "batched pass: {} sessions but {} token lists",
                sessions.len(),
                tokens.len()
            )));
        }
        let Some(first) = sessions.first() else {
            return Ok(());
        };
        let model = first.model.clone();
        let pool = first.pool.clone();
        let compute = if rowwise {
            first.compute.for_decode()
        } else {
            first.compute
        };
        for (s, t) in sessions.iter().zip(tokens) {
            if !Arc::ptr_eq(&s.model, &model) {
                return Err(Error::Invalid(
                    "batched pass: sessions of different models".into(),
                ));
            }
            if s.cache.pos + t.len() > s.cache.ctx {
                return Err(Error::ContextFull {
                    needed: s.cache.pos + t.len(),
                    ctx: s.cache.ctx,
                    max: model.info().n_ctx_train,
                });
            }
        }
        // Borrow the first session's workspace for the pass, then hand it back.
        let mut ws = std::mem::take(&mut sessions[0].ws);
        ws.lin.rowwise = rowwise;
        let result = {
            let mut seqs: Vec<SeqBatch<'_>> = sessions
                .iter_mut()
                .zip(tokens)
                .map(|(s, t)| SeqBatch {
                    cache: &mut s.cache,
                    tokens: t,
                    want: 0..t.len(),
                })
                .collect();
            in_pool(&pool, seqs.len(), || {
                model.forward_batch(&mut seqs, logits, &mut ws, compute)
            })
        };
        ws.lin.rowwise = false;
        sessions[0].ws = ws;
        if result.is_ok() {
            for (s, t) in sessions.iter_mut().zip(tokens) {
                s.history.extend_from_slice(t);
                s.hidden.clear();
            }
        }
        result
    }
}

/// Runs the forward pass `f` of `seqs` sequences in `pool` with the other workers spinning
/// through it ([`crate::spin`]): a pass is a chain of short parallel regions, and waking
/// sleeping workers for each costs more than a small batch's work in it. A worker polls
/// for work and yields its core to the OS between polls, or for a batch of several
/// sequences (the server's dedicated threads) every 64 polls. Alternating A/B on the
/// 2-core machine (`scripts/bench_passes.sh`, medians; BENCHMARKS.md, session 13): against
/// sleeping workers, Gemma 3 decode steps 11.8 → 10.9 ms and 8-row verify passes 23.7 →
/// 21.2 ms, SmolLM2's 12.7 → 11.7 ms; with a CPU hog on one core, no slower. A yield per
/// poll cost SmolLM2's 8-stream bench ~5%, so batches yield less often.
fn in_pool<R: Send>(pool: &rayon::ThreadPool, seqs: usize, f: impl FnOnce() -> R + Send) -> R {
    let yield_every = if seqs > 1 { 64 } else { 1 };
    pool.install(|| crate::spin::with_spinning_workers(yield_every, f))
}
