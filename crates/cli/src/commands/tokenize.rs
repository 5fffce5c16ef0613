//! `wren tokenize "text"`: token ids as a JSON array.

use anyhow::Result;
use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The text (`-` reads it from stdin).
    pub text: String,
    /// Do not prepend BOS.
    #[arg(long = "no-bos")]
    pub no_bos: bool,
    /// Parse special-token text into control tokens (templates do this; user text does not).
    #[arg(long)]
    pub special: bool,
    /// Also print each token's text.
    #[arg(long)]
    pub pieces: bool,
    /// GGUF model file or catalogue name (default: gemma3-270m).
    #[arg(short = 'm', long = "model")]
    pub model: Option<std::path::PathBuf>,
}

pub fn main(a: Args) -> Result<()> {
    let path = crate::resolve::resolve(a.model.as_deref(), &wren_core::paths::DEFAULT_MODEL)?.path;
    let file = GgufFile::open(&path)?;
    let tok = Tokenizer::from_gguf(&file)?;
    let text = if a.text == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        a.text
    };
    let ids = tok.encode(&text, !a.no_bos && tok.add_bos_default(), a.special);
    if a.pieces {
        let pieces: Vec<serde_json::Value> = ids
            .iter()
            .map(|&i| serde_json::json!([i, tok.token_text(i).unwrap_or("")]))
            .collect();
        println!("{}", serde_json::Value::Array(pieces));
    } else {
        println!("{}", serde_json::to_string(&ids)?);
    }
    Ok(())
}
