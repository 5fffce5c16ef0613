//! Where wren keeps files: the model cache directory and the default model.

use std::path::PathBuf;

/// File name of the default model (Gemma 3 270M, Q4_K_M).
pub const DEFAULT_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";
/// sha256 of the default model file.
pub const DEFAULT_MODEL_SHA256: &str =
    "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

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
