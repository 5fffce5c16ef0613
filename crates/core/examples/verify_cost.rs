//! What a speculative verify pass costs, in decode steps: `Session::verify` of `k` tokens
//! against `k` one-token `eval_last` steps, same session, medians of alternating rounds.
//! `WREN_THREADS` (default 0 = all) sets the pool.
//! `cargo run --release -p wren-core --example verify_cost [gemma3|smollm2]` (default: both)

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::session::{thread_pool, Session};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn probe(name: &str, model: &Arc<dyn Model>) {
    let threads = std::env::var("WREN_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut s = Session::new(
        model.clone(),
        1024,
        thread_pool(threads).unwrap(),
        Compute::Auto,
    )
    .unwrap();
    let vocab = model.info().vocab_size as u64;
    let tok = |i: u64| ((i * 7919 + 13) % (vocab - 300) + 200) as u32;
    let prompt: Vec<u32> = (0..64).map(tok).collect();
    s.eval_last(&prompt).unwrap();
    let base = s.history().len();
    let ks = [1usize, 2, 3, 5, 8, 9, 17];
    let rounds = 7;
    let mut step = Vec::new();
    let mut pass: Vec<Vec<f64>> = vec![Vec::new(); ks.len()];
    for r in 0..rounds {
        // One decode step (warm), rolled back.
        let t0 = Instant::now();
        for i in 0..4 {
            s.eval_last(&[tok(1000 + i)]).unwrap();
        }
        step.push(t0.elapsed().as_secs_f64() / 4.0);
        s.truncate_to(base).unwrap();
        for (j, &k) in ks.iter().enumerate() {
            let toks: Vec<u32> = (0..k as u64).map(|i| tok(2000 + i + r)).collect();
            let t0 = Instant::now();
            s.verify(&toks, |_, _, _| true).unwrap();
            pass[j].push(t0.elapsed().as_secs_f64());
            s.truncate_to(base).unwrap();
        }
    }
    let st = median(&mut step);
    print!(
        "{name} (threads {threads}): decode step {:.2} ms; verify of k tokens, in decode steps:",
        st * 1e3
    );
    for (j, &k) in ks.iter().enumerate() {
        let p = median(&mut pass[j]);
        print!(
            "  k={k}: {:.2} ({:.2}/extra row)",
            p / st,
            if k > 1 {
                (p / st - 1.0) / (k - 1) as f64
            } else {
                0.0
            }
        );
    }
    println!();
}

fn main() {
    let only = std::env::args().nth(1);
    for subject in [gemma3(), smollm2()] {
        if only.as_deref().is_some_and(|o| o != subject.name) {
            continue;
        }
        let (_f, model) = subject.load();
        probe(subject.name, &model);
    }
}
