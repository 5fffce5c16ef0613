//! `wren pull [NAME...]` (also `wren fetch`): download catalogue models now (default: the
//! default model). Downloads are atomic and sha256-checked (see `crate::fetch`).

use std::path::Path;

use anyhow::Result;
use wren_core::paths::DEFAULT_MODEL;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Catalogue names (`gemma3-270m`, `smollm2-135m-instruct`; see `wren list`); none =
    /// the default model.
    pub names: Vec<String>,
}

pub fn main(a: Args) -> Result<()> {
    if a.names.is_empty() {
        let r = crate::resolve::resolve(None, &DEFAULT_MODEL)?;
        println!("{}", r.path.display());
        return Ok(());
    }
    for n in &a.names {
        // A catalogue name, or a hub name (which the resolver refuses with its reason).
        if wren_core::catalog::find(n).is_none() && !crate::resolve::is_hub_name(n) {
            anyhow::bail!(
                "unknown model name {n:?} (known: {}; see `wren list`)",
                crate::resolve::known_names()
            );
        }
        let r = crate::resolve::resolve(Some(Path::new(n)), &DEFAULT_MODEL)?;
        println!("{}", r.path.display());
    }
    Ok(())
}
