//! `wren list`: the catalogue's models and any other GGUF files in the cache directory.

use std::path::Path;

use anyhow::Result;
use wren_core::catalog::CATALOG;
use wren_core::paths::cache_dir;

#[derive(clap::Args, Debug)]
pub struct Args {}

struct Row {
    name: String,
    arch: String,
    quant: String,
    size: String,
    status: &'static str,
    path: String,
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

pub fn main(_a: Args) -> Result<()> {
    let mut rows = Vec::new();
    for m in CATALOG {
        let path = crate::resolve::catalog_path(m);
        let cached = path.is_file();
        rows.push(Row {
            name: m.name.into(),
            arch: m.arch.into(),
            quant: m.quant.into(),
            size: mb(m.bytes),
            status: if cached { "cached" } else { "not downloaded" },
            path: path.display().to_string(),
        });
    }
    // Other GGUF files someone put in the cache.
    let known: Vec<&str> = CATALOG.iter().map(|m| m.file).collect();
    let mut extra: Vec<_> = std::fs::read_dir(cache_dir())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gguf") && p.is_file())
        .filter(|p| {
            p.file_name()
                .is_some_and(|f| !known.contains(&f.to_string_lossy().as_ref()))
        })
        .collect();
    extra.sort();
    for p in extra {
        rows.push(other_file(&p));
    }
    let w =
        |f: fn(&Row) -> &str, h: &str| rows.iter().map(|r| f(r).len()).fold(h.len(), usize::max);
    let (wn, wa, wq, ws, wt) = (
        w(|r| &r.name, "NAME"),
        w(|r| &r.arch, "ARCH"),
        w(|r| &r.quant, "QUANT"),
        w(|r| &r.size, "SIZE"),
        w(|r| r.status, "STATUS"),
    );
    println!(
        "{:<wn$}  {:<wa$}  {:<wq$}  {:>ws$}  {:<wt$}  PATH",
        "NAME", "ARCH", "QUANT", "SIZE", "STATUS"
    );
    for r in &rows {
        println!(
            "{:<wn$}  {:<wa$}  {:<wq$}  {:>ws$}  {:<wt$}  {}",
            r.name, r.arch, r.quant, r.size, r.status, r.path
        );
    }
    Ok(())
}

fn other_file(p: &Path) -> Row {
    let size = std::fs::metadata(p).map_or(0, |m| m.len());
    let (arch, quant) = match wren_gguf::GgufFile::open(p) {
        Ok(f) => (
            f.get("general.architecture")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_string(),
            crate::ftype::describe(&f),
        ),
        Err(_) => ("unreadable".into(), "?".into()),
    };
    Row {
        name: p.display().to_string(),
        arch,
        quant,
        size: mb(size),
        status: "file",
        path: p.display().to_string(),
    }
}
