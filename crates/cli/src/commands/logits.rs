//! `wren logits --tokens 2,818,5279 [--top 10]`: top logits at every position, as JSON
//! `{"tokens": [...], "top": [[[id, logit], ...], ...]}` (entry p predicts token p+1).

use anyhow::{Context, Result};

use crate::common::ModelOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Token ids: `2,818,5279`, `2 818 5279` or `[2, 818, 5279]` (as `wren detokenize`).
    #[arg(long, conflicts_with = "text")]
    pub tokens: Option<String>,
    /// Text to tokenize (with BOS unless --no-bos).
    #[arg(long)]
    pub text: Option<String>,
    /// With --text: do not prepend the BOS token (--tokens are evaluated as given).
    #[arg(long = "no-bos", conflicts_with = "tokens")]
    pub no_bos: bool,
    /// Logits per position.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[command(flatten)]
    pub model: ModelOpts,
}

pub fn main(a: Args) -> Result<()> {
    let ids = a
        .tokens
        .as_deref()
        .map(super::detokenize::parse_ids)
        .transpose()?;
    let l = a.model.load(&wren_core::paths::DEFAULT_MODEL)?;
    let tokens = match (&ids, &a.text) {
        (Some(t), _) => t.clone(),
        (None, Some(s)) => l.tok.encode(s, !a.no_bos && l.tok.add_bos_default(), false),
        (None, None) => anyhow::bail!("give --tokens 2,818,... or --text \"...\""),
    };
    if tokens.is_empty() {
        anyhow::bail!("no tokens to evaluate");
    }
    let vocab = l.model.info().vocab_size;
    if let Some(bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
        anyhow::bail!("token id {bad} is outside the vocabulary ({vocab} tokens)");
    }
    let mut session = a.model.session(&l)?;
    let k = a.top.min(vocab);
    let mut top: Vec<Vec<(u32, f32)>> = Vec::with_capacity(tokens.len());
    session
        .eval_with(&tokens, 0..tokens.len(), |_, logits| {
            top.push(top_k(logits, k))
        })
        .context("evaluation failed")?;
    let top_json: Vec<Vec<serde_json::Value>> = top
        .iter()
        .map(|row| {
            row.iter()
                .map(|&(i, v)| serde_json::json!([i, v]))
                .collect()
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({ "tokens": tokens, "top": top_json })
    );
    Ok(())
}

/// The `k` largest logits, best first (ties: lower id first).
fn top_k(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    let cmp = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    if k < idx.len() {
        idx.select_nth_unstable_by(k, cmp);
        idx.truncate(k);
    }
    idx.sort_by(cmp);
    idx.into_iter().map(|i| (i, logits[i as usize])).collect()
}
