//! `wren fr-table FILE...`: counts the model's tokens over a text corpus and saves the most
//! frequent ids beside the model (`<model>.fr`), for FR-Spec drafting (`--spec fr|auto`).

use anyhow::{Context, Result};
use wren_core::generate::{default_draft_vocab, FrTable};
use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Text files of the corpus (UTF-8; `-` reads stdin). Each is tokenized as it is, in
    /// pieces of about 64 KiB cut at line ends.
    #[arg(required = true)]
    pub corpus: Vec<std::path::PathBuf>,
    /// GGUF model file or catalogue name (default: gemma3-270m).
    #[arg(short = 'm', long = "model")]
    pub model: Option<std::path::PathBuf>,
    /// Ids to keep (default: twice the default draft vocabulary).
    #[arg(long)]
    pub keep: Option<usize>,
    /// Where to write the table (default: `<model>.fr` beside the model file, where
    /// `--spec fr` looks for it).
    #[arg(short = 'o', long = "output")]
    pub output: Option<std::path::PathBuf>,
}

pub fn main(a: Args) -> Result<()> {
    let path = crate::resolve::resolve(a.model.as_deref(), &wren_core::paths::DEFAULT_MODEL)?.path;
    let file = GgufFile::open(&path)?;
    let tok = Tokenizer::from_gguf(&file)?;
    let vocab = tok.vocab_size();
    let mut ids = Vec::new();
    for p in &a.corpus {
        let text = if p.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin())?
        } else {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        };
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut cut = rest.len().min(64 << 10);
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            if let Some(nl) = rest[..cut].rfind('\n').filter(|_| cut < rest.len()) {
                cut = nl + 1;
            }
            tok.encode_into(&rest[..cut], false, false, &mut ids);
            rest = &rest[cut..];
        }
    }
    let keep = a.keep.unwrap_or(2 * default_draft_vocab(vocab));
    let t = FrTable::count(ids.iter().copied(), vocab, keep);
    let out = a.output.unwrap_or_else(|| FrTable::path_for(&path));
    t.write(&out)?;
    eprintln!(
        "[wren] {} tokens counted, {} distinct kept (of {vocab}); wrote {}",
        t.tokens,
        t.ids.len(),
        out.display()
    );
    Ok(())
}
