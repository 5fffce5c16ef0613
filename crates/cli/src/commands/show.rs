//! `wren show NAME|PATH`: a model's summary (architecture, parameters, quantization,
//! context, chat template); `--verbose` adds every metadata key and the tensor table.

use std::path::PathBuf;

use anyhow::{Context, Result};
use wren_gguf::GgufFile;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Catalogue name or GGUF file (default: gemma3-270m); never downloads.
    pub model: Option<PathBuf>,
    /// Also print every metadata key and the tensor table.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `1.35 B`, `162.8 M`, `12.3 K`.
pub fn human_count(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2} B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} K", x / 1e3)
    } else {
        n.to_string()
    }
}

pub fn main(a: Args) -> Result<()> {
    let r = crate::resolve::locate(a.model.as_deref(), &wren_core::paths::DEFAULT_MODEL)?;
    let f = GgufFile::open(&r.path).with_context(|| format!("cannot read {}", r.path.display()))?;
    let arch = f
        .get("general.architecture")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown");
    let key = |k: &str| f.get(&format!("{arch}.{k}")).and_then(|v| v.as_u64());
    let params: u64 = f.tensors().iter().map(|t| t.n_elements()).sum();
    let row = |k: &str, v: String| println!("  {k:<16} {v}");
    println!("model: {}", r.describe());
    if let Some(n) = f.get("general.name").and_then(|v| v.as_str()) {
        row("name", n.to_string());
    }
    row("architecture", arch.to_string());
    row("parameters", format!("{} ({params})", human_count(params)));
    row("quantization", crate::ftype::describe(&f));
    let opt = |v: Option<u64>| v.map_or_else(|| "unknown".into(), |x| x.to_string());
    row("context length", opt(key("context_length")));
    row("layers", opt(key("block_count")));
    row("embedding", opt(key("embedding_length")));
    let vocab = f
        .get("tokenizer.ggml.tokens")
        .and_then(|v| v.as_array())
        .map(|a| a.len() as u64);
    row("vocabulary", opt(vocab));
    let template = match f.get("tokenizer.chat_template").and_then(|v| v.as_str()) {
        Some(src) => {
            // Tool support as `wren serve` will use it (the probe render needs only the
            // template; architecture and BOS/EOS texts do not change the answer).
            let tools = wren_core::chat::ChatTemplate::new(Some(src), "", "", "")
                .ok()
                .and_then(|t| t.tool_syntax())
                .map_or("tools in the system turn".to_string(), |s| {
                    format!("renders tools, calls in {} syntax", s.name())
                });
            format!("yes (tokenizer.chat_template; {tools})")
        }
        None => "no".to_string(),
    };
    row("chat template", template);
    row("file size", format!("{:.1} MB", f.file_size() as f64 / 1e6));
    if a.verbose {
        println!();
        super::info::print_details(&f, false);
    } else {
        println!("\n(--verbose for every metadata key and the tensor table)");
    }
    Ok(())
}
