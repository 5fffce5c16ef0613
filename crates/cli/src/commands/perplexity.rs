//! `wren perplexity -f FILE --ctx 512`, with llama-perplexity's method: tokenize the whole
//! text with BOS, cut it into non-overlapping `ctx`-token chunks, put BOS first in each
//! chunk, score the second half of each chunk (positions ctx/2 .. ctx−2 predicting the next
//! token), and report exp(mean NLL) over all full chunks with its standard error.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;

use crate::common::{describe_kv, ModelOpts};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Text file to score.
    #[arg(short = 'f', long = "file")]
    pub file: std::path::PathBuf,
    /// Score only the first N chunks (default: all).
    #[arg(long)]
    pub chunks: Option<usize>,
    #[command(flatten)]
    pub model: ModelOpts,
}

pub fn main(mut a: Args) -> Result<()> {
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.file.display()))?;
    let ctx = *a.model.ctx.get_or_insert(512);
    if ctx < 4 {
        anyhow::bail!("--ctx must be at least 4 for perplexity");
    }
    if a.chunks == Some(0) {
        anyhow::bail!("--chunks 0 scores nothing; give at least 1 (or leave it out for all)");
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let l = a.model.load(&wren_core::paths::DEFAULT_MODEL)?;
    let mut session = a.model.session(&l)?;
    // llama-perplexity's method: with BOS (and each chunk's first token replaced by it)
    // when the model asks for BOS, the plain text otherwise (SmolLM2 adds none).
    let add_bos = l.tok.add_bos_default() && l.tok.bos_id().is_some();
    let tokens = l.tok.encode(&text, add_bos, false);
    let bos = if add_bos { l.tok.bos_id() } else { None };
    let n_chunks_all = tokens.len() / ctx;
    if n_chunks_all == 0 {
        anyhow::bail!(
            "the text is {} tokens, shorter than one {ctx}-token chunk",
            tokens.len()
        );
    }
    let n_chunks = a.chunks.map_or(n_chunks_all, |c| c.min(n_chunks_all));
    eprintln!("[wren] {}", describe_kv(&session));
    eprintln!("[wren] {} tokens, {n_chunks} chunks of {ctx}", tokens.len());
    let first = ctx / 2;
    let (mut sum, mut sum2, mut count) = (0f64, 0f64, 0usize);
    let t0 = Instant::now();
    let mut chunk = vec![0u32; ctx];
    for c in 0..n_chunks {
        chunk.copy_from_slice(&tokens[c * ctx..(c + 1) * ctx]);
        if let Some(b) = bos {
            chunk[0] = b;
        }
        session.reset();
        let targets = &tokens[c * ctx..(c + 1) * ctx];
        session.eval_with(&chunk, first..ctx - 1, |i, logits| {
            let nll = -wren_core::sample::log_softmax_of(logits, targets[i + 1]) as f64;
            sum += nll;
            sum2 += nll * nll;
            count += 1;
        })?;
        let mean = sum / count as f64;
        // Redrawn in place on a terminal; one line per chunk on a pipe or in a log.
        let line = format!(
            "[wren] chunk {}/{n_chunks}: ppl {:.4} ({:.1} s)",
            c + 1,
            mean.exp(),
            t0.elapsed().as_secs_f64()
        );
        if tty {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
        std::io::stderr().flush().ok();
    }
    if tty {
        eprintln!();
    }
    let n = count as f64;
    let mean = sum / n;
    let var = (sum2 / n - mean * mean).max(0.0);
    let ppl = mean.exp();
    // Standard error of exp(mean) by the delta method, as llama-perplexity reports it.
    let err = ppl * (var / (n - 1.0).max(1.0)).sqrt();
    println!(
        "chunks = {n_chunks}, scored tokens = {count}, seconds = {:.1}",
        t0.elapsed().as_secs_f64()
    );
    println!("PPL = {ppl:.4} +/- {err:.4}");
    Ok(())
}
