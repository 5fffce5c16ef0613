//! The real engine: one thread that owns the model's sessions.
//!
//! [`LocalEngine::start`] creates `parallel` [`Session`]s (each with its own KV cache of
//! `ctx` tokens, all sharing one rayon pool) and moves them into the engine thread
//! (`worker`). Handlers talk to it through a bounded queue of [`GenRequest`]s; a full
//! queue is reported at once ([`EngineError::QueueFull`]) rather than waited on.
//!
//! Prefix reuse: a slot keeps its history after a request ends; a later prompt that
//! strictly extends that whole history only evaluates the new suffix (multi-turn chats
//! mostly do). Because sliding-window layers store their keys in a ring that cannot be
//! rewound, a prompt sharing only *part* of a history is recomputed from scratch (see
//! `slots`).
//!
//! Chunked prefill: a prompt is evaluated `prefill_chunk` tokens at a time, one chunk per
//! loop iteration between decode steps, so a long prompt does not stall the sequences
//! already generating (see `worker`).
//!
//! Tokenization and chat-template rendering run on the caller's thread (the tokenizer is
//! shared read-only), so the engine thread only ever does model work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use serde_json::Value;
use wren_core::attention::sparse::SparseSettings;
use wren_core::chat::{ChatMessage, ChatTemplate, Segment, ToolSyntax};
use wren_core::constrain::{Constraint, Grammar};
use wren_core::generate::FrDraft;
use wren_core::kv::KvType;
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::session::{Session, SessionOptions};
use wren_core::tokenizer::Tokenizer;

use super::worker::{Counters, Slot, Worker};
use super::{Engine, EngineError, EngineInfo, EngineStats, GenRequest};

/// How to run the local engine.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// Reported by `/v1/models`.
    pub model_id: String,
    /// Context size of each sequence.
    pub ctx: usize,
    /// Sequences decoded concurrently (>= 1).
    pub parallel: usize,
    /// Requests that may wait for a free slot before new ones get 503.
    pub queue: usize,
    pub compute: Compute,
    /// Prompt tokens evaluated between two decode steps of the other sequences
    /// (0: whole prompts at once).
    pub prefill_chunk: usize,
    /// KV cache element type of every sequence.
    pub kv_type: KvType,
    /// Block-sparse attention (default: as the model declares).
    pub sparse: SparseSettings,
    /// Speculative decoding of requests that do not set their own.
    pub spec: wren_core::generate::SpecConfig,
    /// Speculating sequences draft only while at most this many sequences decode: a
    /// verified row (computed as one-token decoding computes it, so that the text does
    /// not change) costs ~0.65 of a decode step on a 2-core machine, while a batched
    /// decode step of several sequences costs little more than one, so drafting beside
    /// other sequences lowers the aggregate throughput (BENCHMARKS.md). `wren serve`: 1.
    /// A sequence decoding alone runs the CLI's pass (`Step::advance`), FR drafting
    /// included.
    pub spec_max_seqs: usize,
    /// FR-Spec draft head shared by every slot (for `fr` and `auto`), if set up.
    pub fr: Option<Arc<FrDraft>>,
}

pub struct LocalEngine {
    info: EngineInfo,
    tok: Arc<Tokenizer>,
    template: ChatTemplate,
    queue: SyncSender<GenRequest>,
    queue_cap: usize,
    counters: Arc<Counters>,
    /// Cleared when the engine thread ends.
    alive: Arc<AtomicBool>,
}

/// Clears the flag when dropped (at the end of the engine thread, or as it unwinds).
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl LocalEngine {
    /// Creates the sessions and starts the engine thread. The thread ends once this
    /// handle is dropped and the running sequences have finished or been cancelled.
    pub fn start(
        model: Arc<dyn Model>,
        tok: Tokenizer,
        template: ChatTemplate,
        pool: Arc<rayon::ThreadPool>,
        cfg: LocalConfig,
    ) -> wren_core::Result<LocalEngine> {
        let parallel = cfg.parallel.max(1);
        let slots = (0..parallel)
            .map(|_| {
                let opts = SessionOptions {
                    ctx: cfg.ctx,
                    compute: cfg.compute,
                    kv_type: cfg.kv_type,
                    sparse: cfg.sparse.clone(),
                };
                Session::with_options(model.clone(), pool.clone(), &opts).map(|mut s| {
                    s.set_fr_draft(cfg.fr.clone());
                    Slot::new(s)
                })
            })
            .collect::<wren_core::Result<Vec<_>>>()?;
        let tok = Arc::new(tok);
        let counters = Arc::new(Counters::default());
        let (queue, rx) = sync_channel(cfg.queue);
        let worker = Worker {
            tok: tok.clone(),
            slots,
            rx,
            counters: counters.clone(),
            vocab_size: model.info().vocab_size,
            clock: 0,
            chunk: match cfg.prefill_chunk {
                0 => usize::MAX,
                n => n,
            },
            spec: cfg.spec,
            spec_max_seqs: cfg.spec_max_seqs,
        };
        let alive = Arc::new(AtomicBool::new(true));
        let guard = AliveGuard(alive.clone());
        std::thread::Builder::new()
            .name("wren-engine".into())
            .spawn(move || {
                let _guard = guard; // cleared however the thread ends, panics included
                worker.run()
            })
            .map_err(|e| {
                wren_core::Error::Invalid(format!("cannot start the engine thread: {e}"))
            })?;
        Ok(LocalEngine {
            info: EngineInfo {
                model_id: cfg.model_id,
                ctx: cfg.ctx,
                vocab_size: model.info().vocab_size,
                parallel,
                max_token_bytes: tok.max_token_bytes(),
            },
            alive,
            tok,
            template,
            queue,
            queue_cap: cfg.queue,
            counters,
        })
    }
}

impl LocalEngine {
    /// Tool definitions and earlier calls' names and arguments are rendered as template
    /// text (tokenized with special-token parsing): none may spell a control token.
    fn check_tool_text(
        &self,
        messages: &[ChatMessage],
        tools: Option<&Value>,
    ) -> Result<(), EngineError> {
        if let Some(t) = tools {
            self.check_value("tools", t)?;
        }
        for (i, m) in messages.iter().enumerate() {
            for (j, c) in m.tool_calls.iter().flatten().enumerate() {
                let field = format!("messages[{i}].tool_calls[{j}]");
                self.check_value(&field, &Value::String(c.function.name.clone()))?;
                self.check_value(&field, &c.function.arguments)?;
            }
            if let Some(id) = &m.tool_call_id {
                self.check_value(
                    &format!("messages[{i}].tool_call_id"),
                    &Value::String(id.clone()),
                )?;
            }
        }
        Ok(())
    }

    /// Every string (keys included) in `v`.
    fn check_value(&self, field: &str, v: &Value) -> Result<(), EngineError> {
        let check = |s: &str| -> Result<(), EngineError> {
            let ids = self.tok.encode(s, false, true);
            match ids.into_iter().find(|&id| self.tok.is_control(id)) {
                Some(id) => Err(EngineError::ControlText {
                    field: field.to_string(),
                    token: self.tok.token_text(id).unwrap_or("?").to_string(),
                }),
                None => Ok(()),
            }
        };
        match v {
            Value::String(s) => check(s),
            Value::Array(a) => a.iter().try_for_each(|x| self.check_value(field, x)),
            Value::Object(o) => o.iter().try_for_each(|(k, x)| {
                check(k)?;
                self.check_value(field, x)
            }),
            _ => Ok(()),
        }
    }
}

impl Engine for LocalEngine {
    fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Vec<u32> {
        let bos = add_bos && self.tok.add_bos_default();
        self.tok.encode(text, bos, parse_special)
    }

    fn encode_chat(
        &self,
        messages: &[ChatMessage],
        tools: Option<&Value>,
    ) -> Result<Vec<u32>, EngineError> {
        self.check_tool_text(messages, tools)?;
        let segs = self
            .template
            .render_segments(messages, tools, true)
            .map_err(|e| EngineError::Template(e.to_string()))?;
        let mut out = Vec::new();
        Segment::encode(&self.tok, &segs, &mut out);
        Ok(out)
    }

    fn render_chat(
        &self,
        messages: &[ChatMessage],
        tools: Option<&Value>,
    ) -> Result<String, EngineError> {
        self.check_tool_text(messages, tools)?;
        self.template
            .render(messages, tools, true)
            .map_err(|e| EngineError::Template(e.to_string()))
    }

    fn tool_syntax(&self) -> Option<ToolSyntax> {
        self.template.tool_syntax()
    }

    fn added_bos_text(&self) -> Option<String> {
        let bos = self.tok.bos_id().filter(|_| self.tok.add_bos_default())?;
        self.tok.token_text(bos).map(str::to_string)
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        let vocab = self.tok.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(EngineError::BadToken { id, vocab });
        }
        Ok(self.tok.decode(ids))
    }

    fn constraint(&self, grammar: &Grammar) -> Result<Constraint, EngineError> {
        let env = self.tok.grammar_env().map_err(EngineError::Grammar)?;
        env.constraint(grammar).map_err(EngineError::Grammar)
    }

    fn submit(&self, req: GenRequest) -> Result<(), EngineError> {
        // Count first so the worker's decrement can never run before the increment.
        self.counters.queue_depth.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(req) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.counters.queue_depth.fetch_sub(1, Ordering::Relaxed);
                Err(match e {
                    TrySendError::Full(_) => EngineError::QueueFull {
                        queued: self.queue_cap,
                    },
                    TrySendError::Disconnected(_) => EngineError::Stopped,
                })
            }
        }
    }

    fn stats(&self) -> EngineStats {
        let c = &self.counters;
        EngineStats {
            queue_depth: c.queue_depth.load(Ordering::Relaxed),
            active: c.active.load(Ordering::Relaxed),
            decode_tokens: c.decode_tokens.load(Ordering::Relaxed),
            decode_seconds: c.decode_nanos.load(Ordering::Relaxed) as f64 * 1e-9,
            prompt_tokens_evaluated: c.prompt_evaluated.load(Ordering::Relaxed),
            prompt_tokens_reused: c.prompt_reused.load(Ordering::Relaxed),
            drafted: c.drafted.load(Ordering::Relaxed),
            accepted: c.accepted.load(Ordering::Relaxed),
        }
    }
}
