//! `wren run "prompt"`: stream a continuation to stdout, statistics to stderr; or, with
//! `--json`, one JSON object with the text and the statistics.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;
use wren_core::chat::ChatMessage;
use wren_core::generate::{generate, Finish, Flow, GenStats};
use wren_core::sample::Sampler;

use crate::common::{
    constraint, describe_kv, describe_spec, report_constraint, tokenize_segments, ConstraintOpts,
    ModelOpts, SamplingOpts, SpecOpts, TemplateOpts,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The prompt (`-` reads it from stdin; or use -p, or -f FILE).
    #[arg(value_name = "PROMPT")]
    pub positional: Option<String>,
    /// The prompt, as llama.cpp's `-p` (same as the positional prompt).
    #[arg(short = 'p', long = "prompt", conflicts_with = "positional")]
    pub prompt: Option<String>,
    /// Read the prompt from a file.
    #[arg(short = 'f', long = "file", conflicts_with_all = ["positional", "prompt"])]
    pub file: Option<std::path::PathBuf>,
    /// A system message: the prompt is sent as a user message through the model's chat
    /// template (system + user turns; the prompt is then not echoed).
    #[arg(long = "system", value_name = "TEXT")]
    pub system: Option<String>,
    /// Tokens to generate at most (0: evaluate the prompt only, generate nothing; -1: until
    /// the end of generation or a full context).
    #[arg(
        short = 'n',
        long = "max-tokens",
        default_value_t = 256,
        value_parser = crate::common::token_limit,
        allow_negative_numbers = true
    )]
    pub max_tokens: usize,
    /// Greedy decoding (same as --temp 0).
    #[arg(long)]
    pub greedy: bool,
    /// Do not prepend the BOS token.
    #[arg(long = "no-bos")]
    pub no_bos: bool,
    /// Parse special-token text (e.g. `<start_of_turn>`) in the prompt into control tokens
    /// (not with --system, whose prompt is a chat message: message text never becomes a
    /// control token).
    #[arg(long, conflicts_with = "system")]
    pub special: bool,
    /// Do not echo the prompt before the continuation.
    #[arg(long = "no-echo")]
    pub no_echo: bool,
    /// Print one JSON object (model, prompt, text, token counts, speeds, finish reason)
    /// instead of streaming text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelOpts,
    #[command(flatten)]
    pub template: TemplateOpts,
    #[command(flatten)]
    pub sampling: SamplingOpts,
    #[command(flatten)]
    pub constrain: ConstraintOpts,
    #[command(flatten)]
    pub spec: SpecOpts,
}

fn finish_text(f: Finish) -> &'static str {
    match f {
        Finish::Eog => "end of generation",
        Finish::Length => "max tokens",
        Finish::Context => "context full",
        Finish::Stop => "stop string",
        Finish::Cancelled => "cancelled",
    }
}

fn finish_name(f: Finish) -> &'static str {
    match f {
        Finish::Eog => "eog",
        Finish::Length => "length",
        Finish::Context => "context",
        Finish::Stop => "stop",
        Finish::Cancelled => "cancelled",
    }
}

fn read_prompt(a: &Args) -> Result<String> {
    Ok(
        match (a.positional.as_ref().or(a.prompt.as_ref()), &a.file) {
            (Some(p), _) if p == "-" => std::io::read_to_string(std::io::stdin())?,
            (Some(p), _) => p.clone(),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
            (None, None) => {
                anyhow::bail!(
                    "no prompt given: wren run \"your prompt\" (or -p PROMPT, or -f FILE)"
                )
            }
        },
    )
}

pub fn main(a: Args) -> Result<()> {
    let prompt = read_prompt(&a)?;
    let mut params = a.sampling.params()?;
    let spec = a.spec.config()?;
    if a.greedy {
        params.temperature = 0.0;
    }
    let grammar = a.constrain.grammar()?;
    let l = a.model.load(&wren_core::paths::DEFAULT_MODEL)?;
    let constraint = grammar
        .as_ref()
        .map(|g| constraint(&l.tok, g))
        .transpose()?;
    eprintln!("[wren] model: {}", l.source.describe());
    let mut session = a.model.session(&l)?;
    eprintln!("[wren] {}", describe_kv(&session));
    if let Some(line) = a.spec.prepare(&l, &mut session)? {
        eprintln!("[wren] {line}");
    }
    session.set_progress(Some(crate::progress::prefill_progress()));
    let tokens = match &a.system {
        Some(sys) => {
            let tmpl = l.chat_template(&a.template)?;
            let msgs = [
                ChatMessage::new("system", sys.clone()),
                ChatMessage::new("user", prompt.clone()),
            ];
            // As in `wren chat`: the template writes BOS itself where the model wants one.
            tokenize_segments(&l.tok, &tmpl.render_segments(&msgs, None, true)?)
        }
        None => l
            .tok
            .encode(&prompt, !a.no_bos && l.tok.add_bos_default(), a.special),
    };
    if tokens.is_empty() {
        if a.no_bos {
            anyhow::bail!("the prompt is empty (no tokens); give some text or leave BOS on");
        }
        anyhow::bail!("the prompt is empty (no tokens); give some text");
    }
    if tokens.len() > session.ctx() {
        anyhow::bail!(
            "the prompt is {} tokens but the context holds {} (raise --ctx, up to {})",
            tokens.len(),
            session.ctx(),
            l.model.info().n_ctx_train
        );
    }
    // A constrained output is printed alone (so that it parses as it is).
    let echo = !a.no_echo && !a.json && a.system.is_none() && constraint.is_none();
    let mut out = std::io::stdout().lock();
    if echo {
        write!(out, "{prompt}")?;
        out.flush()?;
    }
    let mut text = String::new();
    let mut io_err = None;
    let (finish, st) = if a.max_tokens == 0 {
        // llama.cpp's `-n 0`: read the prompt, generate nothing.
        let t0 = Instant::now();
        session.eval_last(&tokens)?;
        let st = GenStats {
            prompt_tokens: tokens.len(),
            prefill: t0.elapsed(),
            ..Default::default()
        };
        (Finish::Length, st)
    } else {
        let mut sampler = Sampler::new(params, l.model.info().vocab_size);
        sampler.set_constraint(constraint);
        let r = generate(
            &mut session,
            &l.tok,
            &mut sampler,
            spec,
            &tokens,
            a.max_tokens,
            |piece, _| {
                if a.json {
                    text.push_str(piece);
                    return Flow::Continue;
                }
                match out.write_all(piece.as_bytes()).and_then(|_| out.flush()) {
                    Ok(()) => Flow::Continue,
                    Err(e) => {
                        io_err = Some(e);
                        Flow::Stop
                    }
                }
            },
        )?;
        report_constraint(&mut sampler);
        r
    };
    if let Some(e) = io_err {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    if a.json {
        let v = serde_json::json!({
            "model": l.source.name.map_or_else(|| l.source.path.display().to_string(), str::to_string),
            "prompt": prompt,
            "text": text,
            "prompt_tokens": st.prompt_tokens,
            "generated_tokens": st.generated,
            "prefill_tps": st.prefill_tps(),
            "decode_tps": st.decode_tps(),
            "spec": spec.mode.name(),
            "drafted_tokens": st.spec.drafted,
            "accepted_tokens": st.spec.accepted,
            "finish": finish_name(finish),
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out)?;
    }
    eprintln!(
        "\n[wren] prompt {} tokens, prefill {:.1} tok/s | generated {} tokens, decode {:.1} tok/s{} | stopped: {} | {} threads, compute {:?}, KV {}",
        st.prompt_tokens,
        st.prefill_tps(),
        st.generated,
        st.decode_tps(),
        describe_spec(&spec, &st.spec),
        finish_text(finish),
        l.pool.current_num_threads(),
        a.model.compute,
        session.kv_type(),
    );
    Ok(())
}
