//! `wren fetch [NAME...]`: download models of the catalogue now (default: the default model).

use anyhow::{bail, Result};
use wren_core::catalog;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Catalogue names (`gemma3-270m`, `smollm2-135m-instruct`); none = the default model.
    pub names: Vec<String>,
}

pub fn main(a: Args) -> Result<()> {
    if a.names.is_empty() {
        let p = crate::fetch::ensure_default_model()?;
        println!("{}", p.display());
        return Ok(());
    }
    for n in &a.names {
        let Some(m) = catalog::find(n) else {
            let known: Vec<&str> = catalog::CATALOG.iter().map(|m| m.name).collect();
            bail!("unknown model name {n:?} (known: {})", known.join(", "));
        };
        let p = crate::fetch::ensure_model(m)?;
        println!("{}", p.display());
    }
    Ok(())
}
