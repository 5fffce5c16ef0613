//! `wren detokenize 1,2,3` (or `[1,2,3]`): the text of token ids.

use anyhow::{bail, Result};
use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Token ids: comma- or space-separated (`1,2,3`) or a JSON array (`[1,2,3]`); `-`
    /// reads them from stdin.
    pub ids: String,
    /// GGUF model file or catalogue name (default: gemma3-270m).
    #[arg(short = 'm', long = "model")]
    pub model: Option<std::path::PathBuf>,
}

/// Parses `1,2,3`, `1 2 3` or `[1, 2, 3]`.
pub fn parse_ids(s: &str) -> Result<Vec<u32>> {
    let t = s.trim();
    let inner = match (t.strip_prefix('['), t.ends_with(']')) {
        (Some(rest), true) => &rest[..rest.len() - 1],
        (None, false) => t,
        _ => bail!("unbalanced brackets in {t:?}: give 1,2,3 or [1,2,3]"),
    };
    inner
        .split([',', ' ', '\n', '\t'])
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim().parse::<u32>().map_err(|_| {
                anyhow::anyhow!("{:?} is not a token id (a non-negative integer)", p.trim())
            })
        })
        .collect()
}

pub fn main(a: Args) -> Result<()> {
    let text = if a.ids == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        a.ids.clone()
    };
    let ids = parse_ids(&text)?;
    let path = crate::resolve::resolve(a.model.as_deref(), &wren_core::paths::DEFAULT_MODEL)?.path;
    let tok = Tokenizer::from_gguf(&GgufFile::open(&path)?)?;
    let vocab = tok.vocab_size();
    if let Some(bad) = ids.iter().find(|&&i| i as usize >= vocab) {
        bail!("token id {bad} is outside the vocabulary ({vocab} tokens)");
    }
    println!("{}", tok.decode(&ids));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_ids;

    #[test]
    fn id_lists() {
        assert_eq!(parse_ids("1,2,3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_ids("[1, 2, 3]").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_ids(" 4 5 ").unwrap(), vec![4, 5]);
        assert!(parse_ids("[1,2").is_err());
        assert!(parse_ids("1,-2").is_err());
        assert!(parse_ids("a").is_err());
    }
}
