//! Shared helpers for the real-model tests (they are `#[ignore]`d: run them with
//! `cargo test -- --include-ignored` after the model is fetched; `scripts/test.sh` does both).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use wren_core::kv::KvType;
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::session::{thread_pool, Session, SessionOptions};
use wren_gguf::GgufFile;

pub fn reference_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference"
    ))
}

pub fn read_json(name: &str) -> serde_json::Value {
    let p = reference_dir().join(name);
    let s =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&s).expect("reference JSON")
}

pub fn model_path() -> PathBuf {
    let p = wren_core::paths::default_model_path();
    assert!(
        p.is_file(),
        "real-model test: {} not found; run `cargo run --release --bin wren -- fetch` or set WREN_MODEL",
        p.display()
    );
    p
}

pub fn load() -> (Arc<GgufFile>, Arc<dyn Model>) {
    load_path(&model_path())
}

pub fn load_path(p: &std::path::Path) -> (Arc<GgufFile>, Arc<dyn Model>) {
    let file = Arc::new(GgufFile::open(p).expect("open model"));
    let model: Arc<dyn Model> =
        Arc::from(wren_core::models::load(file.clone()).expect("load model"));
    (file, model)
}

/// A real model with its reference folder under ../shared/reference.
pub struct Subject {
    pub name: &'static str,
    pub path: PathBuf,
    pub refs: PathBuf,
}

impl Subject {
    pub fn load(&self) -> (Arc<GgufFile>, Arc<dyn Model>) {
        load_path(&self.path)
    }

    pub fn json(&self, name: &str) -> serde_json::Value {
        let p = self.refs.join(name);
        let s = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        serde_json::from_str(&s).expect("reference JSON")
    }
}

/// Gemma 3 270M (the default model; references in ../shared/reference).
pub fn gemma3() -> Subject {
    Subject {
        name: "gemma3",
        path: model_path(),
        refs: reference_dir(),
    }
}

/// SmolLM2-135M-Instruct (`$WREN_SMOLLM2`, else the cache; references in
/// ../shared/reference/smollm2).
pub fn smollm2() -> Subject {
    let path = std::env::var_os("WREN_SMOLLM2")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| wren_core::catalog::SMOLLM2_135M_INSTRUCT.path());
    assert!(
        path.is_file(),
        "real-model test: {} not found; run `cargo run --release --bin wren -- fetch smollm2-135m-instruct` or set WREN_SMOLLM2",
        path.display()
    );
    Subject {
        name: "smollm2",
        path,
        refs: reference_dir().join("smollm2"),
    }
}

/// A 2048-token session with the default KV cache (f16).
pub fn session(model: &Arc<dyn Model>, compute: Compute) -> Session {
    Session::new(model.clone(), 2048, thread_pool(0).unwrap(), compute).unwrap()
}

/// A 2048-token session with KV cache type `kv`.
pub fn session_kv(model: &Arc<dyn Model>, compute: Compute, kv: KvType) -> Session {
    let opts = SessionOptions {
        kv_type: kv,
        ..SessionOptions::new(2048, compute)
    };
    Session::with_options(model.clone(), thread_pool(0).unwrap(), &opts).unwrap()
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// `top` entries as (id, logit) lists.
pub fn tops(v: &serde_json::Value) -> Vec<Vec<(u32, f32)>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_u64().unwrap() as u32, p[1].as_f64().unwrap() as f32))
                .collect()
        })
        .collect()
}

/// Teacher-force `tokens`, returning the full logits row at every position.
pub fn all_logits(model: &Arc<dyn Model>, compute: Compute, tokens: &[u32]) -> Vec<Vec<f32>> {
    let mut s = session(model, compute);
    let mut out = Vec::new();
    s.eval_with(tokens, 0..tokens.len(), |_, l| out.push(l.to_vec()))
        .unwrap();
    out
}

pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Environment variable `name` as a number (the examples' settings), else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
