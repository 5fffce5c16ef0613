//! Hugging Face hub downloads: `-m owner/repo/file.gguf` (or `hf://…`, `hf.co/…`).
//!
//! The file is fetched from `$HF_ENDPOINT` (default `https://huggingface.co`) at
//! `/{owner}/{repo}/resolve/main/{file}` into `<cache>/hub/{owner}/{repo}/{file}`, with
//! `$HF_TOKEN` as a bearer token when set. Downloads are resumable and atomic: bytes go to
//! `{file}.partial`, a later attempt continues it with an HTTP `Range` request (a server that
//! answers the whole file instead restarts it), and only a complete file is renamed into
//! place. When the server names the file's sha256 (the hub does, in the `ETag` /
//! `X-Linked-Etag` of LFS files), it is checked before the rename.

use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use wren_core::paths::cache_dir;

/// A hub file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubName {
    pub repo: String,
    pub file: String,
}

impl HubName {
    /// `owner/repo/path/to/file.gguf`, optionally behind `hf://`, `hf.co/` or
    /// `huggingface.co/`; `None` for anything else (local paths, catalogue names).
    pub fn parse(s: &str) -> Option<HubName> {
        let s = s
            .strip_prefix("hf://")
            .or_else(|| s.strip_prefix("hf.co/"))
            .or_else(|| s.strip_prefix("huggingface.co/"))
            .unwrap_or(s);
        let parts: Vec<&str> = s.split('/').collect();
        let ok = parts.len() >= 3
            && !s.starts_with(['.', '/', '~'])
            && parts
                .iter()
                .all(|p| !p.is_empty() && *p != ".." && *p != ".")
            && s.to_ascii_lowercase().ends_with(".gguf");
        ok.then(|| HubName {
            repo: parts[..2].join("/"),
            file: parts[2..].join("/"),
        })
    }

    /// Where the file is cached.
    pub fn path(&self) -> PathBuf {
        cache_dir().join("hub").join(&self.repo).join(&self.file)
    }

    fn url(&self) -> String {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "https://huggingface.co".into());
        format!(
            "{}/{}/resolve/main/{}",
            endpoint.trim_end_matches('/'),
            self.repo,
            self.file
        )
    }
}

/// The cached file of `name`, downloading (or resuming) it first if needed.
pub fn ensure(name: &HubName) -> Result<PathBuf> {
    let dest = name.path();
    if dest.is_file() {
        return Ok(dest);
    }
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
    }
    download(&name.url(), &dest)
        .with_context(|| format!("cannot download {}/{}", name.repo, name.file))?;
    Ok(dest)
}

fn download(url: &str, dest: &Path) -> Result<()> {
    let partial = PathBuf::from(format!("{}.partial", dest.display()));
    let have = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(60))
        .build();
    let mut req = agent.get(url);
    if let Ok(token) = std::env::var("HF_TOKEN") {
        if !token.is_empty() {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
    }
    if have > 0 {
        req = req.set("Range", &format!("bytes={have}-"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => bail!(
            "{url}: HTTP {code} {} (a gated or private repository needs HF_TOKEN)",
            r.status_text()
        ),
        Err(e) => bail!("{url}: {e} (is the hub reachable? HF_ENDPOINT sets another server)"),
    };
    let resumed = resp.status() == 206 && have > 0;
    let expected_sha = ["x-linked-etag", "etag"]
        .iter()
        .filter_map(|h| resp.header(h))
        .map(|v| {
            v.trim_start_matches("W/")
                .trim_matches('"')
                .to_ascii_lowercase()
        })
        .find(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()));
    let remaining: Option<u64> = resp.header("content-length").and_then(|v| v.parse().ok());
    let total = remaining.map(|r| if resumed { r + have } else { r });

    let mut hasher = Sha256::new();
    let mut out = if resumed {
        // Hash what is already there, then append.
        let mut f = File::open(&partial)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        eprintln!("[wren] resuming {url} at {} MB", have / 1_000_000);
        OpenOptions::new().append(true).open(&partial)?
    } else {
        eprintln!("[wren] downloading {url}");
        File::create(&partial)?
    };
    let mut done = if resumed { have } else { 0 };
    let mut body = resp.into_reader();
    let mut buf = vec![0u8; 1 << 20];
    let tty = std::io::stderr().is_terminal();
    let mut last = Instant::now();
    loop {
        let n = body.read(&mut buf).with_context(|| {
            format!("the download stopped at {done} bytes; run the command again to resume")
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        done += n as u64;
        if tty && last.elapsed() > Duration::from_millis(200) {
            last = Instant::now();
            match total {
                Some(t) => eprint!("\r[wren] {} / {} MB", done / 1_000_000, t / 1_000_000),
                None => eprint!("\r[wren] {} MB", done / 1_000_000),
            }
        }
    }
    out.sync_all()?;
    drop(out);
    if tty {
        eprintln!();
    }
    if let Some(t) = total {
        if done != t {
            bail!("the download stopped at {done} of {t} bytes; run the command again to resume");
        }
    }
    let got: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if let Some(want) = expected_sha {
        if got != want {
            let _ = fs::remove_file(&partial);
            bail!("the downloaded file's sha256 is {got}, but the server says {want}; nothing was installed");
        }
    }
    fs::rename(&partial, dest)
        .with_context(|| format!("cannot move the download into {}", dest.display()))?;
    eprintln!("[wren] model ready: {} (sha256 {got})", dest.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::HubName;

    #[test]
    fn hub_names_are_told_apart_from_paths() {
        let n = HubName::parse("bartowski/SmolLM2-GGUF/SmolLM2-Q4_K_M.gguf").unwrap();
        assert_eq!(n.repo, "bartowski/SmolLM2-GGUF");
        assert_eq!(n.file, "SmolLM2-Q4_K_M.gguf");
        let n = HubName::parse("hf://a/b/sub/c.gguf").unwrap();
        assert_eq!((n.repo.as_str(), n.file.as_str()), ("a/b", "sub/c.gguf"));
        for not in [
            "./a/b/c.gguf",
            "/a/b/c.gguf",
            "b/c.gguf",
            "a/b/c.bin",
            "a/../c.gguf/x.gguf",
            "~/a/b.gguf",
        ] {
            assert!(HubName::parse(not).is_none(), "{not}");
        }
    }
}
