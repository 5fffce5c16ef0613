//! `wren rm NAME...`: delete downloaded catalogue models from the cache.

use anyhow::{bail, Context, Result};
use wren_core::catalog;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Catalogue names of the models to delete (see `wren list`).
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub fn main(a: Args) -> Result<()> {
    for n in &a.names {
        let Some(m) = catalog::find(n) else {
            bail!(
                "unknown model name {n:?} (known: {}); `wren rm` only deletes catalogue models from the cache",
                crate::resolve::known_names()
            );
        };
        let path = crate::resolve::catalog_path(m);
        if !path.is_file() {
            bail!(
                "model {} is not downloaded ({} does not exist); nothing to remove",
                m.name,
                path.display()
            );
        }
        std::fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
        println!("deleted {} ({})", m.name, path.display());
    }
    Ok(())
}
