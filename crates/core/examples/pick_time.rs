//! Wall time of the sampler's pick over one row of logits (a decode step picks one row, a
//! verify pass one per row): greedy, with a penalty, and sampled with top-k, min-p or
//! neither.
//! Env: `V` vocabulary (default 262,144, Gemma 3's), `N` picks (default 2,000).
//! `cargo run --release -p wren-core --example pick_time`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::env_usize;

use wren_core::sample::{Sampler, SamplingParams};

fn main() {
    let (v, n) = (env_usize("V", 262_144), env_usize("N", 2000).max(1));
    // Logits shaped like a model's: mostly small, a few large, the maximum in a random place.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let rows: Vec<Vec<f32>> = (0..8)
        .map(|_| {
            let mut l: Vec<f32> = (0..v)
                .map(|_| (next() % 2000) as f32 / 200.0 - 5.0)
                .collect();
            l[next() as usize % v] = 30.0;
            l
        })
        .collect();
    let history: Vec<u32> = (0..64).map(|i| i * 31 % v as u32).collect();
    let sampled = |top_k, min_p| SamplingParams {
        temperature: 0.8,
        top_k,
        min_p,
        ..SamplingParams::greedy()
    };
    let cases = [
        ("greedy", SamplingParams::greedy()),
        (
            "greedy, repeat penalty 1.1",
            SamplingParams {
                repeat_penalty: 1.1,
                ..SamplingParams::greedy()
            },
        ),
        ("t 0.8, top-k 40", sampled(40, 0.0)),
        ("t 0.8, min-p 0.05", sampled(0, 0.05)),
        ("t 0.8", sampled(0, 0.0)),
    ];
    for (name, params) in cases {
        let mut s = Sampler::new(params, v);
        let mut best = f64::MAX;
        let mut sum = 0u64;
        for _ in 0..3 {
            let t0 = Instant::now();
            for i in 0..n {
                sum += u64::from(s.sample(&rows[i % rows.len()], &history));
            }
            best = best.min(t0.elapsed().as_secs_f64() / n as f64);
        }
        println!(
            "{name}: {:.1} µs per pick of {v} logits (best of 3; {sum})",
            best * 1e6
        );
    }
}
