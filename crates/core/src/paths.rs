//! Where wren keeps files: the model cache directory and the default model.

use std::path::PathBuf;

use crate::catalog::{CatalogModel, GEMMA3_270M};

/// The default model (Gemma 3 270M, Q4_K_M).
pub const DEFAULT_MODEL: CatalogModel = GEMMA3_270M;
/// File name of the default model.
pub const DEFAULT_MODEL_FILE: &str = DEFAULT_MODEL.file;
/// sha256 of the default model file.
pub const DEFAULT_MODEL_SHA256: &str = DEFAULT_MODEL.sha256;

/// `$WREN_CACHE_DIR`, else `$XDG_CACHE_HOME/wren`, else `~/.cache/wren`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WREN_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("wren");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("wren")
}

/// Path of the default model: `$WREN_MODEL` if set, else the cache directory's copy.
pub fn default_model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("WREN_MODEL").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    cache_dir().join(DEFAULT_MODEL_FILE)
}
