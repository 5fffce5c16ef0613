//! `wren fetch`: download the default model now.

use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn main(_: Args) -> Result<()> {
    let p = crate::fetch::ensure_default_model()?;
    println!("{}", p.display());
    Ok(())
}
