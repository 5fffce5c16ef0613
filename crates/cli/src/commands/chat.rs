//! `wren chat`: an interactive conversation using the model's chat template.
//!
//! The history is re-rendered each turn; tokens that match what the KV cache already holds
//! are not recomputed. When the history no longer fits the context, the oldest turns are
//! dropped (the system prompt is kept) and the user is told. Ctrl-C during a reply stops
//! it and keeps the conversation; slash commands (`/help`) manage the conversation.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use wren_core::generate::{generate, Finish, Flow};
use wren_core::sample::Sampler;

use crate::chat::conversation::Conversation;
use crate::chat::input::{Input, Reader};
use crate::chat::interrupt;
use crate::common::{
    constraint, describe_kv, describe_spec, report_constraint, tokenize_segments, ConstraintOpts,
    ModelOpts, SamplingOpts, SpecOpts, TemplateOpts,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A system prompt (change it later with /system TEXT).
    #[arg(short = 's', long = "system")]
    pub system: Option<String>,
    /// Tokens per reply at most (-1: until the end of the reply or a full context).
    #[arg(
        short = 'n',
        long = "max-tokens",
        default_value_t = 512,
        value_parser = crate::common::token_limit,
        allow_negative_numbers = true
    )]
    pub max_tokens: usize,
    /// Greedy decoding (same as --temp 0).
    #[arg(long)]
    pub greedy: bool,
    #[command(flatten)]
    pub model: ModelOpts,
    #[command(flatten)]
    pub template: TemplateOpts,
    #[command(flatten)]
    pub sampling: SamplingOpts,
    /// Every reply is constrained by this (one fresh constraint per reply).
    #[command(flatten)]
    pub constrain: ConstraintOpts,
    #[command(flatten)]
    pub spec: SpecOpts,
}

const HELP: &str = "\
commands:
  /help           this list
  /reset          forget the conversation (the system prompt stays)
  /system TEXT    set the system prompt (/system alone shows it)
  /save FILE      write the conversation as JSON
  /load FILE      replace the conversation with one saved by /save
  /exit, /quit    leave (or Ctrl-D)
input: a line ending in \\ continues on the next line; \"\"\" opens and closes a multi-line
message; Ctrl-C stops a reply and keeps the conversation.";

/// What a line typed at the prompt asks for.
#[derive(Debug, PartialEq)]
enum Command<'a> {
    Message(&'a str),
    Help,
    Reset,
    System(Option<&'a str>),
    Save(&'a str),
    Load(&'a str),
    Exit,
    Unknown(&'a str),
    Usage(&'static str),
}

fn parse(line: &str) -> Command<'_> {
    let t = line.trim();
    let Some(rest) = t.strip_prefix('/') else {
        return Command::Message(line);
    };
    let (cmd, arg) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(c, a)| (c, a.trim()));
    match cmd {
        "help" | "?" => Command::Help,
        "reset" | "clear" => Command::Reset,
        "system" if arg.is_empty() => Command::System(None),
        "system" => Command::System(Some(arg)),
        "save" if arg.is_empty() => Command::Usage("/save FILE"),
        "save" => Command::Save(arg),
        "load" if arg.is_empty() => Command::Usage("/load FILE"),
        "load" => Command::Load(arg),
        "exit" | "quit" | "bye" => Command::Exit,
        _ => Command::Unknown(cmd),
    }
}

pub fn main(a: Args) -> Result<()> {
    if a.max_tokens == 0 {
        anyhow::bail!("-n 0 leaves no room for a reply: chat needs -n of at least 1");
    }
    let mut params = a.sampling.params()?;
    a.spec.config()?;
    if a.greedy {
        params.temperature = 0.0;
    }
    let grammar = a.constrain.grammar()?;
    let l = a.model.load(&wren_core::catalog::SMOLLM2_135M_INSTRUCT)?;
    if let Some(g) = &grammar {
        constraint(&l.tok, g)?; // a bad grammar fails now, not at the first reply
    }
    eprintln!("[wren] model: {}", l.source.describe());
    let mut session = a.model.session(&l)?;
    session.set_progress(Some(crate::progress::prefill_progress()));
    eprintln!("[wren] {}", describe_kv(&session));
    if let Some(line) = a.spec.prepare(&l, &mut session)? {
        eprintln!("[wren] {line}");
    }
    let tmpl = l.chat_template(&a.template)?;
    eprintln!("[wren] chat template: {}", tmpl.describe());
    let mut reader = Reader::new();
    if reader.is_tty() {
        interrupt::install()?;
    }
    eprintln!(
        "[wren] context {} tokens; /help for commands, Ctrl-C stops a reply, /exit or Ctrl-D quits",
        session.ctx()
    );
    let mut sampler = Sampler::new(params, l.model.info().vocab_size);
    let mut conv = Conversation::new(a.system.clone());
    loop {
        let line = match reader.read("> ")? {
            Input::Eof => return Ok(()),
            Input::Interrupted => {
                eprintln!("[wren] (Ctrl-C) type /exit or press Ctrl-D to quit");
                continue;
            }
            Input::Line(l) => l,
        };
        let text = match parse(&line) {
            Command::Message(t) if t.trim().is_empty() => continue,
            Command::Message(t) => t.to_string(),
            Command::Help => {
                eprintln!("{HELP}");
                continue;
            }
            Command::Reset => {
                conv.messages.clear();
                session.reset();
                eprintln!("[wren] history cleared");
                continue;
            }
            Command::System(None) => {
                match &conv.system {
                    Some(s) => eprintln!("[wren] system prompt: {s}"),
                    None => eprintln!("[wren] no system prompt; set one with /system TEXT"),
                }
                continue;
            }
            Command::System(Some(s)) => {
                conv.system = Some(s.to_string());
                eprintln!("[wren] system prompt set (the conversation is kept)");
                continue;
            }
            Command::Save(f) => {
                match conv.save(Path::new(f)) {
                    Ok(()) => eprintln!("[wren] saved {} message(s) to {f}", conv.messages.len()),
                    Err(e) => eprintln!("[wren] error: {e:#}"),
                }
                continue;
            }
            Command::Load(f) => {
                match Conversation::load(Path::new(f)) {
                    Ok(c) => {
                        conv = c;
                        eprintln!(
                            "[wren] loaded {} message(s) from {f}{}",
                            conv.messages.len(),
                            if conv.system.is_some() {
                                " (with a system prompt)"
                            } else {
                                ""
                            }
                        );
                    }
                    Err(e) => eprintln!("[wren] error: {e:#}"),
                }
                continue;
            }
            Command::Exit => return Ok(()),
            Command::Unknown(c) => {
                eprintln!("[wren] unknown command /{c}; /help lists them");
                continue;
            }
            Command::Usage(u) => {
                eprintln!("[wren] usage: {u}");
                continue;
            }
        };
        if let Some(g) = &grammar {
            sampler.set_constraint(Some(constraint(&l.tok, g)?));
        }
        reply(&a, &l, &tmpl, &mut session, &mut sampler, &mut conv, text)?;
        report_constraint(&mut sampler);
    }
}

/// One turn: the user's message in, the model's reply streamed out and kept.
fn reply(
    a: &Args,
    l: &crate::common::Loaded,
    tmpl: &wren_core::chat::ChatTemplate,
    session: &mut wren_core::session::Session,
    sampler: &mut Sampler,
    conv: &mut Conversation,
    text: String,
) -> Result<()> {
    // Leave room for a reply; drop the oldest turns until the prompt fits. The trimming
    // is tried on a copy: a message that does not fit even alone leaves the
    // conversation as it was.
    let mut next = conv.clone();
    next.messages
        .push(wren_core::chat::ChatMessage::new("user", text));
    let budget = session
        .ctx()
        .saturating_sub(a.max_tokens.min(session.ctx() / 2));
    let mut dropped = 0;
    let tokens = loop {
        let segs = tmpl.render_segments(&next.rendered(), None, true)?;
        let t = tokenize_segments(&l.tok, &segs);
        if t.len() <= budget || next.messages.len() <= 1 {
            break t;
        }
        dropped += next.drop_oldest_exchange();
    };
    if tokens.len() >= session.ctx() {
        eprintln!(
            "[wren] this message alone is {} tokens, more than the {}-token context; not sent, \
             the conversation is unchanged (raise --ctx)",
            tokens.len(),
            session.ctx()
        );
        return Ok(());
    }
    if dropped > 0 {
        eprintln!(
            "[wren] history trimmed: dropped the {dropped} oldest message(s) to fit the {}-token context",
            session.ctx()
        );
    }
    *conv = next;
    // Reuse the longest cached prefix the new prompt shares (rewinding the cache to it
    // when that fits), at least one token short of the prompt; otherwise start over.
    let hist = session.history();
    let common = hist
        .iter()
        .zip(&tokens)
        .take_while(|(a, b)| a == b)
        .count()
        .min(tokens.len() - 1);
    let new: Vec<u32> = if common > 0 && session.truncate_to(common).is_ok() {
        tokens[common..].to_vec()
    } else {
        session.reset();
        tokens
    };
    let mut answer = String::new();
    let max_new = a
        .max_tokens
        .min(session.ctx() - session.history().len() - new.len());
    interrupt::clear();
    let spec = a.spec.config()?;
    let (finish, st) = generate(session, &l.tok, sampler, spec, &new, max_new, |piece, _| {
        if interrupt::requested() {
            return Flow::Stop;
        }
        answer.push_str(piece);
        print!("{piece}");
        std::io::stdout().flush().ok();
        Flow::Continue
    })?;
    println!();
    if finish == Finish::Cancelled {
        eprintln!(
            "[wren] reply interrupted after {} tokens (kept in the conversation)",
            st.generated
        );
    } else {
        let cut = match finish {
            Finish::Length if max_new == a.max_tokens => {
                format!(" | reply cut at -n {max_new} tokens")
            }
            Finish::Length | Finish::Context => " | reply cut: the context is full".to_string(),
            _ => String::new(),
        };
        eprintln!(
            "[wren] {} tokens, decode {:.1} tok/s{}{cut}",
            st.generated,
            st.decode_tps(),
            describe_spec(&spec, &st.spec)
        );
    }
    conv.messages.push(wren_core::chat::ChatMessage::new(
        "assistant",
        answer.trim().to_string(),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse, Command};

    #[test]
    fn slash_commands() {
        assert_eq!(parse("hello"), Command::Message("hello"));
        assert_eq!(parse("/help"), Command::Help);
        assert_eq!(
            parse("/system  Be terse. "),
            Command::System(Some("Be terse."))
        );
        assert_eq!(parse("/system"), Command::System(None));
        assert_eq!(parse("/save a.json"), Command::Save("a.json"));
        assert_eq!(parse("/load"), Command::Usage("/load FILE"));
        assert_eq!(parse("/quit"), Command::Exit);
        assert_eq!(parse("/frobnicate x"), Command::Unknown("frobnicate"));
    }
}
