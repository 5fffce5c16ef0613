//! `wren run "prompt"`: stream a continuation to stdout, statistics to stderr.

use std::io::Write;

use anyhow::Result;
use wren_core::generate::{generate, Finish, Flow};
use wren_core::sample::Sampler;

use crate::common::{describe_kv, ModelOpts, SamplingOpts};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The prompt (use `-f FILE` to read it from a file, or `-` for stdin).
    pub prompt: Option<String>,
    /// Read the prompt from a file.
    #[arg(short = 'f', long = "file", conflicts_with = "prompt")]
    pub file: Option<std::path::PathBuf>,
    /// Tokens to generate at most.
    #[arg(short = 'n', long = "max-tokens", default_value_t = 256)]
    pub max_tokens: usize,
    /// Greedy decoding (same as --temp 0).
    #[arg(long)]
    pub greedy: bool,
    /// Do not prepend the BOS token.
    #[arg(long = "no-bos")]
    pub no_bos: bool,
    /// Parse special-token text (e.g. `<start_of_turn>`) in the prompt into control tokens.
    #[arg(long)]
    pub special: bool,
    /// Do not echo the prompt before the continuation.
    #[arg(long = "no-echo")]
    pub no_echo: bool,
    #[command(flatten)]
    pub model: ModelOpts,
    #[command(flatten)]
    pub sampling: SamplingOpts,
}

pub fn main(a: Args) -> Result<()> {
    let prompt = match (&a.prompt, &a.file) {
        (Some(p), _) if p == "-" => std::io::read_to_string(std::io::stdin())?,
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
        (None, None) => anyhow::bail!("no prompt given: wren run \"your prompt\" (or -f FILE)"),
    };
    let mut params = a.sampling.params()?;
    if a.greedy {
        params.temperature = 0.0;
    }
    let l = a.model.load()?;
    let mut session = a.model.session(&l)?;
    eprintln!("[wren] {}", describe_kv(&session));
    session.set_progress(Some(crate::progress::prefill_progress()));
    let add_bos = !a.no_bos && l.tok.add_bos_default();
    let tokens = l.tok.encode(&prompt, add_bos, a.special);
    if tokens.len() > session.ctx() {
        anyhow::bail!(
            "the prompt is {} tokens but the context holds {} (raise --ctx, up to {})",
            tokens.len(),
            session.ctx(),
            l.model.info().n_ctx_train
        );
    }
    let mut sampler = Sampler::new(params, l.model.info().vocab_size);
    let mut out = std::io::stdout().lock();
    if !a.no_echo {
        write!(out, "{prompt}")?;
        out.flush()?;
    }
    let mut io_err = None;
    let (finish, st) = generate(
        &mut session,
        &l.tok,
        &mut sampler,
        &tokens,
        a.max_tokens,
        |text, _| match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            Ok(()) => Flow::Continue,
            Err(e) => {
                io_err = Some(e);
                Flow::Stop
            }
        },
    )?;
    if let Some(e) = io_err {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    writeln!(out)?;
    let why = match finish {
        Finish::Eog => "end of generation",
        Finish::Length => "max tokens",
        Finish::Context => "context full",
        Finish::Stop => "stop string",
        Finish::Cancelled => "cancelled",
    };
    eprintln!(
        "\n[wren] prompt {} tokens, prefill {:.1} tok/s | generated {} tokens, decode {:.1} tok/s | stopped: {why} | {} threads, compute {:?}, KV {}",
        st.prompt_tokens,
        st.prefill_tps(),
        st.generated,
        st.decode_tps(),
        l.pool.current_num_threads(),
        a.model.compute,
        session.kv_type(),
    );
    Ok(())
}
