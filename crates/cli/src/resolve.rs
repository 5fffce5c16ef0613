//! What `-m` (or a command's MODEL argument) names: a GGUF file, a catalogue name, or
//! nothing (the command's default model). Two flavours: [`resolve`] downloads a catalogue
//! model on first use; [`locate`] never downloads and says how to fetch instead.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wren_core::catalog::{self, CatalogModel};

/// A model file and, when it came from the catalogue, its name.
#[derive(Clone, Debug)]
pub struct ModelRef {
    pub path: PathBuf,
    pub name: Option<&'static str>,
}

impl ModelRef {
    /// `gemma3-270m (/root/.cache/wren/gemma-3-270m-q4_k_m.gguf)`, or the path alone.
    pub fn describe(&self) -> String {
        match self.name {
            Some(n) => format!("{n} ({})", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// Where catalogue model `m` lives (in the cache directory).
pub fn catalog_path(m: &CatalogModel) -> PathBuf {
    m.path()
}

/// Resolves `arg` (or `default` when absent), downloading a catalogue model on first use.
pub fn resolve(arg: Option<&Path>, default: &'static CatalogModel) -> Result<ModelRef> {
    match classify(arg, default)? {
        Named::File(path) => Ok(ModelRef { path, name: None }),
        Named::Hub(h) => Ok(ModelRef {
            path: crate::hub::ensure(&h)?,
            name: None,
        }),
        Named::Catalog(m) => {
            let path = catalog_path(m);
            if !path.is_file() {
                crate::fetch::ensure_model(m)?;
            }
            Ok(ModelRef {
                path,
                name: Some(m.name),
            })
        }
    }
}

/// Like [`resolve`], but a catalogue model that is not downloaded is an error that says
/// how to fetch it: inspecting a model never starts a download.
pub fn locate(arg: Option<&Path>, default: &'static CatalogModel) -> Result<ModelRef> {
    match classify(arg, default)? {
        Named::File(path) => Ok(ModelRef { path, name: None }),
        Named::Hub(h) => {
            let path = h.path();
            if !path.is_file() {
                bail!(
                    "{}/{} is not downloaded; fetch it with `wren pull {}/{}`",
                    h.repo,
                    h.file,
                    h.repo,
                    h.file
                );
            }
            Ok(ModelRef { path, name: None })
        }
        Named::Catalog(m) => {
            let path = catalog_path(m);
            if !path.is_file() {
                let which = if arg.is_none() {
                    "the default model "
                } else {
                    "model "
                };
                bail!(
                    "{which}{} is not downloaded ({} MB); fetch it with `wren pull {}`, or pass a GGUF file",
                    m.name,
                    m.bytes / 1_000_000,
                    m.name
                );
            }
            Ok(ModelRef {
                path,
                name: Some(m.name),
            })
        }
    }
}

enum Named {
    File(PathBuf),
    Catalog(&'static CatalogModel),
    /// A Hugging Face file (`owner/repo/file.gguf`), see [`crate::hub`].
    Hub(crate::hub::HubName),
}

/// What `arg` names; without one, `$WREN_MODEL` (read as `-m` would be), else `default`.
fn classify(arg: Option<&Path>, default: &'static CatalogModel) -> Result<Named> {
    let Some(p) = arg else {
        return match std::env::var_os("WREN_MODEL").filter(|v| !v.is_empty()) {
            Some(m) => classify(Some(Path::new(&m)), default).context("in $WREN_MODEL"),
            None => Ok(Named::Catalog(default)),
        };
    };
    if p.is_file() {
        return Ok(Named::File(p.to_path_buf()));
    }
    if p.is_dir() {
        bail!(
            "{} is a directory; -m takes a GGUF file or a model name",
            p.display()
        );
    }
    let text = p.to_string_lossy();
    if let Some(m) = catalog::find(&text) {
        return Ok(Named::Catalog(m));
    }
    if let Some(h) = crate::hub::HubName::parse(&text) {
        return Ok(Named::Hub(h));
    }
    bail!(
        "{text} is neither a file nor a known model name (known: {}; see `wren list`)",
        known_names()
    )
}

/// `owner/repo/file.gguf` (optionally behind `hf://` or `hf.co/`), not a local path.
pub fn is_hub_name(s: &str) -> bool {
    crate::hub::HubName::parse(s).is_some()
}

/// The catalogue's names, comma-separated.
pub fn known_names() -> String {
    let known: Vec<&str> = catalog::CATALOG.iter().map(|m| m.name).collect();
    known.join(", ")
}
