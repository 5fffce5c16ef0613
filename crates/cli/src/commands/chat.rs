//! `wren chat`: an interactive conversation using the model's chat template.
//!
//! The history is re-rendered each turn; tokens that match what the KV cache already holds
//! are not recomputed. When the history no longer fits the context, the oldest turns are
//! dropped (the system prompt is kept) and the user is told.

use std::io::{BufRead, Write};

use anyhow::Result;
use wren_core::chat::{ChatMessage, Segment};
use wren_core::generate::{generate, Flow};
use wren_core::sample::Sampler;
use wren_core::tokenizer::Tokenizer;

use crate::common::{describe_kv, ModelOpts, SamplingOpts};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A system prompt.
    #[arg(short = 's', long = "system")]
    pub system: Option<String>,
    /// Tokens per reply at most.
    #[arg(short = 'n', long = "max-tokens", default_value_t = 512)]
    pub max_tokens: usize,
    #[command(flatten)]
    pub model: ModelOpts,
    #[command(flatten)]
    pub sampling: SamplingOpts,
}

/// Template text is tokenized with special tokens parsed; message content never is.
fn tokenize_segments(tok: &Tokenizer, segs: &[Segment]) -> Vec<u32> {
    let mut out = Vec::new();
    for s in segs {
        match s {
            Segment::Template(t) => out.extend(tok.encode(t, false, true)),
            Segment::Content(c) => out.extend(tok.encode(c, false, false)),
        }
    }
    out
}

pub fn main(a: Args) -> Result<()> {
    let params = a.sampling.params()?;
    let l = a.model.load()?;
    let mut session = a.model.session(&l)?;
    session.set_progress(Some(crate::progress::prefill_progress()));
    eprintln!("[wren] {}", describe_kv(&session));
    let tmpl = l.chat_template()?;
    eprintln!("[wren] chat template: {}", tmpl.describe());
    eprintln!(
        "[wren] context {} tokens; type /reset to start over, /exit or Ctrl-D to quit",
        session.ctx()
    );
    let mut sampler = Sampler::new(params, l.model.info().vocab_size);
    let mut messages: Vec<ChatMessage> = Vec::new();
    if let Some(s) = &a.system {
        messages.push(ChatMessage {
            role: "system".into(),
            content: s.clone(),
        });
    }
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    loop {
        write!(stdout, "> ")?;
        stdout.flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            writeln!(stdout)?;
            return Ok(());
        }
        let line = line.trim_end_matches(['\n', '\r']);
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => return Ok(()),
            "/reset" => {
                messages.retain(|m| m.role == "system");
                session.reset();
                eprintln!("[wren] history cleared");
                continue;
            }
            _ => {}
        }
        messages.push(ChatMessage {
            role: "user".into(),
            content: line.to_string(),
        });
        // Leave room for a reply; drop the oldest turns until the prompt fits.
        let budget = session
            .ctx()
            .saturating_sub(a.max_tokens.min(session.ctx() / 2));
        let mut dropped = 0;
        let tokens = loop {
            let segs = tmpl.render_segments(&messages, true)?;
            let t = tokenize_segments(&l.tok, &segs);
            let first_turn = messages.iter().position(|m| m.role != "system");
            let turns = messages.iter().filter(|m| m.role != "system").count();
            if t.len() <= budget || turns <= 1 {
                break t;
            }
            // Drop a whole exchange (user, then its reply) so roles keep alternating, as
            // templates such as Gemma's require.
            if let Some(i) = first_turn {
                messages.remove(i);
                dropped += 1;
                if messages.get(i).is_some_and(|m| m.role == "assistant") {
                    messages.remove(i);
                    dropped += 1;
                }
            }
        };
        if dropped > 0 {
            eprintln!("[wren] history trimmed: dropped the {dropped} oldest message(s) to fit the {}-token context", session.ctx());
        }
        if tokens.len() >= session.ctx() {
            eprintln!(
                "[wren] this message alone is {} tokens, more than the {}-token context; not sent (raise --ctx)",
                tokens.len(),
                session.ctx()
            );
            messages.pop();
            continue;
        }
        // Reuse the cached prefix when the new prompt extends it; otherwise start over.
        let hist = session.history();
        let new: Vec<u32> = if hist.len() < tokens.len() && tokens.starts_with(hist) {
            tokens[hist.len()..].to_vec()
        } else {
            session.reset();
            tokens
        };
        let mut reply = String::new();
        let max_new = a
            .max_tokens
            .min(session.ctx() - session.history().len() - new.len())
            .max(1);
        let (_, st) = generate(
            &mut session,
            &l.tok,
            &mut sampler,
            &new,
            max_new,
            |text, _| {
                reply.push_str(text);
                print!("{text}");
                std::io::stdout().flush().ok();
                Flow::Continue
            },
        )?;
        println!();
        eprintln!(
            "[wren] {} tokens, {:.1} tok/s",
            st.generated,
            st.decode_tps()
        );
        messages.push(ChatMessage {
            role: "assistant".into(),
            content: reply.trim().to_string(),
        });
    }
}
