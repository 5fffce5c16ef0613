//! What every command shares: model options, loading, and the sampling flags.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::sample::SamplingParams;
use wren_core::session::{thread_pool, Session};
use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

/// `-m`, `-t`, `--ctx`, `--compute`.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelOpts {
    /// GGUF model file (default: Gemma 3 270M Q4_K_M, downloaded into the cache on first use).
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
}

fn parse_compute(s: &str) -> Result<Compute, String> {
    Compute::from_name(s)
        .ok_or_else(|| format!("unknown compute mode {s:?} (expected exact, quant or auto)"))
}

/// Default context when `--ctx` is not given.
pub const DEFAULT_CTX: usize = 4096;

pub struct Loaded {
    pub file: Arc<GgufFile>,
    pub model: Arc<dyn Model>,
    pub tok: Tokenizer,
    pub pool: Arc<rayon::ThreadPool>,
}

impl Loaded {
    /// The model's chat template, or its architecture's known turn format.
    pub fn chat_template(&self) -> Result<wren_core::chat::ChatTemplate> {
        let src = self
            .file
            .get("tokenizer.chat_template")
            .and_then(|v| v.as_str());
        let text_of = |id: Option<u32>| {
            id.and_then(|i| self.tok.token_text(i))
                .unwrap_or("")
                .to_string()
        };
        Ok(wren_core::chat::ChatTemplate::new(
            src,
            &self.model.info().arch,
            &text_of(self.tok.bos_id()),
            &text_of(self.tok.eos_id()),
        )?)
    }
}

impl ModelOpts {
    pub fn model_path(&self) -> Result<PathBuf> {
        match &self.model {
            Some(p) => Ok(p.clone()),
            None => crate::fetch::ensure_default_model(),
        }
    }

    pub fn load(&self) -> Result<Loaded> {
        let path = self.model_path()?;
        let file = Arc::new(
            GgufFile::open(&path).with_context(|| format!("cannot load {}", path.display()))?,
        );
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
        let pool = thread_pool(self.threads)?;
        Ok(Loaded {
            file,
            model,
            tok,
            pool,
        })
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
        Ok(Session::new(
            l.model.clone(),
            ctx,
            l.pool.clone(),
            self.compute,
        )?)
    }
}

/// Sampling flags shared by `run` and `chat`.
#[derive(clap::Args, Clone, Debug)]
pub struct SamplingOpts {
    /// Temperature; 0 means greedy.
    #[arg(long = "temp", default_value_t = 0.8)]
    pub temperature: f32,
    /// Keep the k most likely tokens (0 = off).
    #[arg(long = "top-k", default_value_t = 40)]
    pub top_k: usize,
    /// Nucleus sampling threshold (1 = off).
    #[arg(long = "top-p", default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens below this fraction of the best token's probability (0 = off).
    #[arg(long = "min-p", default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalize repeated tokens (1 = off).
    #[arg(long = "repeat-penalty", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// How many recent tokens the penalties look at.
    #[arg(long = "repeat-last-n", default_value_t = 64)]
    pub repeat_last_n: usize,
    #[arg(long = "presence-penalty", default_value_t = 0.0)]
    pub presence_penalty: f32,
    #[arg(long = "frequency-penalty", default_value_t = 0.0)]
    pub frequency_penalty: f32,
    /// Random seed (runs with the same seed and settings give the same text).
    #[arg(long = "seed")]
    pub seed: Option<u64>,
}

impl SamplingOpts {
    pub fn params(&self) -> Result<SamplingParams> {
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
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
        };
        p.validate().map_err(anyhow::Error::msg)?;
        Ok(p)
    }
}
