//! `wren sparsify --from-config config.json IN.gguf OUT.gguf`: declare a model's
//! block-sparse (InfLLM-v2) attention in its GGUF file.
//!
//! MiniCPM4 is trained with InfLLM-v2 attention, configured by the `sparse_config` block
//! of its `config.json`; llama.cpp's converter drops that block. This copies `IN.gguf` to
//! `OUT.gguf` with the block added as `<arch>.attention.sparse.*` (block_size, topk,
//! init_blocks, window_size, dense_len), so wren runs the model with its own attention by
//! default (`--sparse off` turns it off).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use wren_core::attention::sparse::sparse_metadata;
use wren_gguf::{GgufFile, GgufWriter};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The checkpoint's `config.json` (its `sparse_config` block is used).
    #[arg(long = "from-config")]
    pub config: PathBuf,
    /// The converted model.
    pub input: PathBuf,
    /// Where to write the model with the sparse-attention metadata.
    pub output: PathBuf,
}

pub fn main(a: Args) -> Result<()> {
    let cfg: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&a.config).with_context(|| format!("reading {}", a.config.display()))?,
    )
    .with_context(|| format!("parsing {}", a.config.display()))?;
    let Some(sc) = cfg.get("sparse_config").filter(|v| !v.is_null()) else {
        bail!("{} has no sparse_config", a.config.display());
    };
    if a.input == a.output {
        bail!("the output must be a new file");
    }
    let file =
        GgufFile::open(&a.input).with_context(|| format!("opening {}", a.input.display()))?;
    let arch = file.get_str("general.architecture")?.to_string();
    let keys = sparse_metadata(&arch, sc)?;
    let mut w = GgufWriter::from_file(&file);
    for (k, v) in &keys {
        eprintln!("{k} = {v:?}");
        w.set_metadata(k.clone(), v.clone());
    }
    w.write(&a.output)
        .with_context(|| format!("writing {}", a.output.display()))?;
    // The result must load as a model that declares its sparse attention.
    let out = std::sync::Arc::new(GgufFile::open(&a.output)?);
    let model = wren_core::models::load(out)?;
    if model.declared_sparse().is_none() {
        bail!("{arch} does not read block-sparse attention metadata");
    }
    eprintln!("wrote {}", a.output.display());
    Ok(())
}
