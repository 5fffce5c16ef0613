//! What every command shares: model options, loading, and the sampling flags.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use wren_core::attention::sparse::SparseSettings;
use wren_core::catalog::CatalogModel;
use wren_core::constrain::{Constraint, Grammar};
use wren_core::generate::{FrDraft, SpecConfig, SpecMode, SpecStats};
use wren_core::kv::KvType;
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::sample::SamplingParams;
use wren_core::session::{thread_pool, Session, SessionOptions};
use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

use crate::resolve::ModelRef;

/// `-m`, `-t`, `--ctx`, `--compute`, and the KV cache flags.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelOpts {
    /// GGUF model file, or a model name (gemma3-270m, smollm2-135m-instruct; see `wren
    /// list`) fetched on first use (default: gemma3-270m; chat and serve:
    /// smollm2-135m-instruct).
    #[arg(short = 'm', long = "model")]
    pub model: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(short = 't', long = "threads", default_value_t = 0)]
    pub threads: usize,
    /// Context size in tokens (default: 4096, capped by the model's trained context).
    #[arg(short = 'c', long = "ctx")]
    pub ctx: Option<usize>,
    /// Matrix arithmetic: exact (f32 activations, the reference), quant (8-bit activations,
    /// as llama.cpp), auto (exact for batches of 32+ tokens, quant below).
    #[arg(long = "compute", default_value = "auto", value_parser = parse_compute)]
    pub compute: Compute,
    #[command(flatten)]
    pub kv: KvOpts,
}

/// `--chat-template-file`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TemplateOpts {
    /// Chat template (Jinja, as Hugging Face's `chat_template`) to use instead of the
    /// model file's own. A template that renders `tools` in a syntax wren parses
    /// (Hermes `<tool_call>`, Llama 3 JSON) is also used for tool calls.
    #[arg(long = "chat-template-file", value_name = "FILE")]
    pub template_file: Option<PathBuf>,
}

/// `--kv-type` and the block-sparse attention flags.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct KvOpts {
    /// KV cache element type: f16 (default), f32 (exact), q8_0 or q4_0.
    #[arg(long = "kv-type", default_value = "f16", value_parser = parse_kv_type)]
    pub kv_type: KvType,
    /// Block-sparse (InfLLM v2) attention on the global layers: on or off (default: on
    /// only for models whose metadata declares it).
    #[arg(long = "sparse", value_parser = parse_on_off)]
    pub sparse: Option<bool>,
    /// Sparse attention: blocks chosen by score per query (default 64).
    #[arg(long = "sparse-topk")]
    pub sparse_topk: Option<usize>,
    /// Sparse attention: positions per block (default 64).
    #[arg(long = "sparse-block")]
    pub sparse_block: Option<usize>,
    /// Sparse attention: local window in positions, always attended (default 2048).
    #[arg(long = "sparse-window")]
    pub sparse_window: Option<usize>,
    /// Sparse attention: queries before this position attend densely (default 8192).
    #[arg(long = "sparse-dense-len")]
    pub sparse_dense_len: Option<usize>,
    /// Sparse attention: leading blocks always attended (default 1).
    #[arg(long = "sparse-sink")]
    pub sparse_sink: Option<usize>,
}

impl KvOpts {
    pub fn sparse_settings(&self) -> SparseSettings {
        SparseSettings {
            enabled: self.sparse,
            block: self.sparse_block,
            topk: self.sparse_topk,
            sink: self.sparse_sink,
            window: self.sparse_window,
            dense_len: self.sparse_dense_len,
        }
    }

    /// Session options for a context of `ctx` tokens.
    pub fn session_options(&self, ctx: usize, compute: Compute) -> SessionOptions {
        SessionOptions {
            ctx,
            compute,
            kv_type: self.kv_type,
            sparse: self.sparse_settings(),
        }
    }
}

fn parse_kv_type(s: &str) -> Result<KvType, String> {
    KvType::from_name(s).map_err(|e| e.to_string())
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
}

/// `KV cache: 54.0 MiB (f16, ctx 4096)`, plus the sparse settings when on.
pub fn describe_kv(s: &Session) -> String {
    let mut d = format!(
        "KV cache: {:.1} MiB ({}, ctx {})",
        s.kv_bytes() as f64 / (1024.0 * 1024.0),
        s.kv_type(),
        s.ctx()
    );
    if let Some(p) = s.sparse() {
        d += &format!(
            "; sparse attention on global layers: block {}, top-{}, sink {}, window {}, dense below {}",
            p.block, p.topk, p.sink, p.window, p.dense_len
        );
    }
    d
}

fn parse_compute(s: &str) -> Result<Compute, String> {
    Compute::from_name(s)
        .ok_or_else(|| format!("unknown compute mode {s:?} (expected exact, quant or auto)"))
}

/// Default context when `--ctx` is not given.
pub const DEFAULT_CTX: usize = 4096;

pub struct Loaded {
    /// Where the model came from (its catalogue name, if any, and its path).
    pub source: ModelRef,
    pub file: Arc<GgufFile>,
    pub model: Arc<dyn Model>,
    pub tok: Tokenizer,
    pub pool: Arc<rayon::ThreadPool>,
}

impl Loaded {
    /// The chat template of `--chat-template-file`, else the model's own, else its
    /// architecture's known turn format.
    pub fn chat_template(&self, opts: &TemplateOpts) -> Result<wren_core::chat::ChatTemplate> {
        let from_file = match &opts.template_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the chat template {}", p.display()))?,
            ),
            None => None,
        };
        let src = from_file.as_deref().or_else(|| {
            self.file
                .get("tokenizer.chat_template")
                .and_then(|v| v.as_str())
        });
        let text_of = |id: Option<u32>| {
            id.and_then(|i| self.tok.token_text(i))
                .unwrap_or("")
                .to_string()
        };
        let t = wren_core::chat::ChatTemplate::new(
            src,
            &self.model.info().arch,
            &text_of(self.tok.bos_id()),
            &text_of(self.tok.eos_id()),
        )?;
        Ok(match &opts.template_file {
            Some(p) => t.described_as(format!("chat template from {}", p.display())),
            None => t,
        })
    }
}

impl ModelOpts {
    /// The model `-m` names, else `default`; downloaded on first use.
    pub fn resolve(&self, default: &'static CatalogModel) -> Result<ModelRef> {
        crate::resolve::resolve(self.model.as_deref(), default)
    }

    /// Resolves (see [`ModelOpts::resolve`]) and loads the model and its tokenizer.
    pub fn load(&self, default: &'static CatalogModel) -> Result<Loaded> {
        self.load_for(default, 1)
    }

    /// [`load`](Self::load) for `sequences` KV caches of `--ctx` tokens each: refused
    /// before loading when the model and those caches cannot fit the available memory.
    pub fn load_for(&self, default: &'static CatalogModel, sequences: usize) -> Result<Loaded> {
        let source = self.resolve(default)?;
        let path = source.path.clone();
        let file = Arc::new(
            GgufFile::open(&path).with_context(|| format!("cannot load {}", path.display()))?,
        );
        self.check_memory(&file, sequences)?;
        let model: Arc<dyn Model> = Arc::from(wren_core::models::load(file.clone())?);
        let tok = Tokenizer::from_gguf(&file)
            .context("cannot build the tokenizer from the model file")?;
        if tok.vocab_size() != model.info().vocab_size {
            anyhow::bail!(
                "the tokenizer has {} tokens but the model's embedding has {} rows",
                tok.vocab_size(),
                model.info().vocab_size
            );
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.threads > cores {
            // The workers spin through a pass: more of them than cores take turns on them.
            eprintln!(
                "[wren] warning: {} threads on {cores} cores; expect it to be much slower \
                 than -t {cores}",
                self.threads
            );
        }
        let pool = thread_pool(self.threads)?;
        Ok(Loaded {
            source,
            file,
            model,
            tok,
            pool,
        })
    }

    /// The memory budget check: the file's bytes plus `sequences` KV caches of the
    /// context that will be used (every layer at the full context: an upper bound).
    fn check_memory(&self, file: &GgufFile, sequences: usize) -> Result<()> {
        let arch = file.get_str("general.architecture")?;
        let Ok(hp) = wren_core::layers::HParams::from_gguf(file, arch, 1e-6) else {
            return Ok(()); // the load reports what is wrong with the file
        };
        let ctx = self.ctx.unwrap_or(DEFAULT_CTX).min(hp.n_ctx_train).max(1);
        let row = self.kv.kv_type.row_bytes(hp.n_head_kv * hp.head_dim)? as u64;
        let kv = (hp.n_layer as u64)
            .saturating_mul(2 * row)
            .saturating_mul(ctx as u64)
            .saturating_mul(sequences as u64);
        let what = format!("{sequences} × {ctx} tokens ({})", self.kv.kv_type);
        wren_core::memory::check_budget(
            file.file_size(),
            kv,
            wren_core::memory::available(),
            &what,
        )?;
        Ok(())
    }

    /// The context size to use: `--ctx`, else the default, validated against the model.
    pub fn ctx_for(&self, model: &dyn Model) -> Result<usize> {
        let max = model.info().n_ctx_train;
        match self.ctx {
            Some(0) => anyhow::bail!("--ctx must be at least 1"),
            Some(c) if c > max => {
                anyhow::bail!("--ctx {c} is larger than the model's trained context ({max} tokens)")
            }
            Some(c) => Ok(c),
            None => Ok(DEFAULT_CTX.min(max)),
        }
    }

    pub fn session(&self, l: &Loaded) -> Result<Session> {
        let ctx = self.ctx_for(l.model.as_ref())?;
        Ok(Session::with_options(
            l.model.clone(),
            l.pool.clone(),
            &self.kv.session_options(ctx, self.compute),
        )?)
    }
}

/// `-n` of `run` and `chat`: a token count, or -1 for no limit but the context (llama.cpp's
/// `-n -1`).
pub fn token_limit(s: &str) -> std::result::Result<usize, String> {
    if s.trim() == "-1" {
        return Ok(usize::MAX);
    }
    s.trim().parse().map_err(|_| {
        format!(
            "{s} is not a token count (a non-negative integer, or -1 for no limit but the context)"
        )
    })
}

/// Sampling flags shared by `run` and `chat`.
#[derive(clap::Args, Clone, Debug)]
pub struct SamplingOpts {
    /// Temperature; 0 means greedy.
    #[arg(long = "temp", allow_negative_numbers = true, default_value_t = 0.8)]
    pub temperature: f32,
    /// Keep the k most likely tokens (0 = off).
    #[arg(long = "top-k", allow_negative_numbers = true, default_value_t = 40)]
    pub top_k: usize,
    /// Nucleus sampling threshold (1 = off).
    #[arg(long = "top-p", allow_negative_numbers = true, default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens below this fraction of the best token's probability (0 = off).
    #[arg(long = "min-p", allow_negative_numbers = true, default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalize repeated tokens (1 = off).
    #[arg(
        long = "repeat-penalty",
        allow_negative_numbers = true,
        default_value_t = 1.0
    )]
    pub repeat_penalty: f32,
    /// How many recent tokens the penalties look at.
    #[arg(
        long = "repeat-last-n",
        allow_negative_numbers = true,
        default_value_t = 64
    )]
    pub repeat_last_n: usize,
    /// Penalize tokens already present in the recent window, once each (0 = off).
    #[arg(
        long = "presence-penalty",
        allow_negative_numbers = true,
        default_value_t = 0.0
    )]
    pub presence_penalty: f32,
    /// Penalize recent tokens in proportion to how often they occur (0 = off).
    #[arg(
        long = "frequency-penalty",
        allow_negative_numbers = true,
        default_value_t = 0.0
    )]
    pub frequency_penalty: f32,
    /// Random seed (runs with the same seed and settings give the same text); -1 or
    /// unset: a new one each run.
    #[arg(long = "seed", allow_negative_numbers = true)]
    pub seed: Option<i64>,
}

impl SamplingOpts {
    pub fn params(&self) -> Result<SamplingParams> {
        let seed = match self.seed {
            Some(s) if s >= 0 => s as u64,
            None | Some(-1) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            Some(s) => {
                anyhow::bail!("--seed {s}: use a non-negative integer, or -1 for a random one")
            }
        };
        let p = SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            seed,
            logit_bias: Vec::new(),
        };
        p.validate().map_err(anyhow::Error::msg)?;
        Ok(p)
    }
}

/// `--json-schema`, `--grammar`, `--regex`: what the output must match (one of them).
#[derive(clap::Args, Clone, Debug)]
pub struct ConstraintOpts {
    /// Constrain the output to JSON valid against this JSON Schema file.
    #[arg(long = "json-schema", value_name = "FILE", conflicts_with_all = ["grammar", "regex"])]
    pub json_schema: Option<PathBuf>,
    /// Constrain the output to this grammar file: llguidance's Lark syntax (`start: ...`)
    /// or llama.cpp's GBNF (`root ::= ...`).
    #[arg(long, value_name = "FILE", conflicts_with = "regex")]
    pub grammar: Option<PathBuf>,
    /// Constrain the output to match this regular expression (Rust regex syntax), whole.
    #[arg(long, value_name = "RE")]
    pub regex: Option<String>,
}

impl ConstraintOpts {
    /// The grammar asked for, read and parsed (not yet compiled).
    pub fn grammar(&self) -> Result<Option<Grammar>> {
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
        };
        if let Some(p) = &self.json_schema {
            let v: serde_json::Value = serde_json::from_str(&read(p)?)
                .with_context(|| format!("{}: not JSON", p.display()))?;
            return Ok(Some(Grammar::JsonSchema(v)));
        }
        if let Some(p) = &self.grammar {
            let g = Grammar::from_grammar_text(&read(p)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            return Ok(Some(g));
        }
        Ok(self.regex.clone().map(Grammar::Regex))
    }
}

/// A fresh constraint for `g` over `tok`'s vocabulary (errors name the bad grammar).
pub fn constraint(tok: &Tokenizer, g: &Grammar) -> Result<Constraint> {
    let env = tok.grammar_env().map_err(anyhow::Error::msg)?;
    env.constraint(g).map_err(anyhow::Error::msg)
}

/// One stderr line about a finished constrained generation: masks, their mean cost,
/// and the constraint's error if it failed.
pub fn report_constraint(s: &mut wren_core::sample::Sampler) {
    if let Some(c) = s.constraint_mut() {
        let st = c.stats();
        eprintln!(
            "[wren] grammar: {} masks, {:.3} ms/token{}",
            st.masks,
            st.per_mask().as_secs_f64() * 1e3,
            if c.is_accepting() || c.is_stopped() {
                ""
            } else {
                ", output incomplete (max tokens)"
            }
        );
        if let Some(e) = c.error() {
            eprintln!("[wren] grammar error: {e}");
        }
    }
}

/// Template text is tokenized with special tokens parsed; message content never is
/// ([`wren_core::chat::Segment::encode`]).
pub fn tokenize_segments(tok: &Tokenizer, segs: &[wren_core::chat::Segment]) -> Vec<u32> {
    let mut out = Vec::new();
    wren_core::chat::Segment::encode(tok, segs, &mut out);
    out
}

/// `--spec` and `--draft-max`: speculative decoding (the text is the same with or without).
#[derive(clap::Args, Clone, Debug)]
pub struct SpecOpts {
    /// Speculative decoding (the text is the same either way): auto (default: ngram when
    /// it matches, else fr where that pays, each stopped where it is measured slower than
    /// plain decoding); ngram (prompt lookup: drafts the tokens that followed the latest
    /// earlier occurrence of the last few tokens, verified in one pass); fr (FR-Spec: the
    /// model drafts with its own trunk and an output head restricted to its most frequent
    /// tokens: from `wren fr-table`'s table beside the model, else wren's own for Gemma 3,
    /// else the tokenizer's ranking); off.
    #[arg(long = "spec", default_value = "auto", value_parser = parse_spec)]
    pub spec: SpecMode,
    /// Most tokens drafted per step (1..=32).
    #[arg(long = "draft-max", default_value_t = 8)]
    pub draft_max: usize,
    /// FR drafting: tokens of the reduced head (0: a sixteenth of the vocabulary, clamped
    /// to 2,048..=32,768; other counts as given, at most the vocabulary and the frequency
    /// table's length).
    #[arg(long = "draft-vocab", default_value_t = 0)]
    pub draft_vocab: usize,
}

impl SpecOpts {
    pub fn config(&self) -> Result<SpecConfig> {
        let c = SpecConfig::new(self.spec, self.draft_max);
        c.validate()?;
        Ok(c)
    }

    /// The FR draft head when the mode uses it: from the frequency table beside the model
    /// (`<model>.fr`, from `wren fr-table`) if there is one, else wren's built-in table for
    /// the tokenizer (Gemma 3's), else the tokenizer's ranking; with a line saying which.
    pub fn fr_draft(&self, l: &Loaded) -> Result<Option<(Arc<FrDraft>, String)>> {
        if !self.spec.fr() {
            return Ok(None);
        }
        let table = wren_core::generate::FrTable::path_for(&l.source.path);
        let d = FrDraft::load(l.model.as_ref(), &l.tok, Some(&table), self.draft_vocab)?;
        let line = format!(
            "fr draft head: {} of {} tokens, ranked by {}",
            d.len(),
            l.model.info().vocab_size,
            d.source
        );
        Ok(Some((Arc::new(d), line)))
    }

    /// Sets up FR drafting on `session` when the mode uses it ([`SpecOpts::fr_draft`]).
    /// Returns the line saying where its ranking came from.
    pub fn prepare(
        &self,
        l: &Loaded,
        session: &mut wren_core::session::Session,
    ) -> Result<Option<String>> {
        Ok(self.fr_draft(l)?.map(|(d, line)| {
            session.set_fr_draft(Some(d));
            line
        }))
    }
}

fn parse_spec(s: &str) -> std::result::Result<SpecMode, String> {
    SpecMode::from_name(s).map_err(|e| e.to_string())
}

/// The stats-line part about speculation (empty when it is off).
pub fn describe_spec(c: &SpecConfig, st: &SpecStats) -> String {
    if c.mode == SpecMode::Off {
        return String::new();
    }
    format!(
        " | spec {}: accepted {}/{} drafted ({:.1}%), {} passes",
        c.mode.name(),
        st.accepted,
        st.drafted,
        st.acceptance(),
        st.passes
    )
}
