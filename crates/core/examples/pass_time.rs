//! Wall time of one kind of forward pass, repeated on one session and rolled back each
//! time: `K=0` a one-token decode step (`Session::eval_last`), `K=k` a verify pass of `k`
//! rows (`Session::verify`). For A/B runs of two builds (`scripts/bench_passes.sh`).
//! Env: `K` (default 0), `N` passes (default 100), `GEMMA` (set: Gemma 3, else SmolLM2),
//! `WREN_THREADS` (default 0 = all).
//! `cargo run --release -p wren-core --example pass_time`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::*;
use wren_core::linear::Compute;
use wren_core::session::{thread_pool, Session};

fn main() {
    let (k, n) = (env_usize("K", 0), env_usize("N", 100).max(1));
    let subject = if std::env::var("GEMMA").is_ok() {
        gemma3()
    } else {
        smollm2()
    };
    let (_f, model) = subject.load();
    let pool = thread_pool(env_usize("WREN_THREADS", 0)).unwrap();
    let mut s = Session::new(model.clone(), 1024, pool, Compute::Auto).unwrap();
    let vocab = model.info().vocab_size as u64;
    let tok = |i: u64| ((i * 7919 + 13) % (vocab - 300) + 200) as u32;
    let prompt: Vec<u32> = (0..64).map(tok).collect();
    s.eval_last(&prompt).unwrap();
    let base = s.history().len();
    let t0 = Instant::now();
    for r in 0..n as u64 {
        if k == 0 {
            s.eval_last(&[tok(1000 + r)]).unwrap();
        } else {
            let toks: Vec<u32> = (0..k as u64).map(|i| tok(2000 + i + r)).collect();
            s.verify(&toks, |_, _, _| true).unwrap();
        }
        s.truncate_to(base).unwrap();
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3 / n as f64;
    println!("{} k={k}: {ms:.3} ms per pass", subject.name);
}
