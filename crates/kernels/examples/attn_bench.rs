//! Decode-attention kernel timing at Gemma 3 270M's shapes, one thread.
//!
//! `cargo run --release -p wren-kernels --example attn_bench -- [--type q8_0|f16|f32] [--reps 50]
//! [--prefetch 0|1|2|3]`
//!
//! `--prefetch`: 0 none; 1 (default) each run's values into L1 before its scores; 2 also the
//! next run's keys into L2; 3 also the next run's values into L2 (the decode loop's choice).
//!
//! One "token" = 3 global layers (sparse selection at depth 16K: 6208 keys in 64-key blocks
//! scattered over a 16K cache) + 15 sliding-window layers (512 keys), each layer with its
//! own cache (so the working set is the real one, ~31 MiB in Q8_0), 4 query rows, head
//! size 256: per 64-key run, `attn_scores`, the softmax step, `attn_values` — the loop of
//! `wren-core`'s fused decode path. Prints min/median ms per token and the split between
//! scores and values (from separate runs of each kernel alone). `WREN_ISA` picks the tier.

use std::time::Instant;

use wren_kernels::ops::{attn_prefetch, attn_scores, attn_values, exp_sub_sum};
use wren_kernels::{quantize_row, GgmlType};

const HD: usize = 256;
const ROWS: usize = 4;
const T: usize = 64;

struct Layer {
    k: Vec<u8>,
    v: Vec<u8>,
    /// Key runs (start, len) this layer reads.
    runs: Vec<(usize, usize)>,
}

fn rng(seed: &mut u64) -> f32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    All,
    Scores,
    Values,
}

fn token(
    ty: GgmlType,
    layers: &[Layer],
    q: &[f32],
    s: &mut [f32],
    o: &mut [f32],
    part: Part,
    pf: usize,
) {
    let rb = ty.row_bytes(HD as u64).unwrap() as usize;
    for l in layers {
        let mut chunks = Vec::new();
        for &(a, n) in &l.runs {
            let mut p = a;
            while p < a + n {
                let nt = (a + n - p).min(T);
                chunks.push((p, nt));
                p += nt;
            }
        }
        for (ci, &(p, nt)) in chunks.iter().enumerate() {
            {
                let k = &l.k[p * rb..(p + nt) * rb];
                let v = &l.v[p * rb..(p + nt) * rb];
                if pf >= 1 {
                    attn_prefetch(v, true);
                }
                if pf >= 2 {
                    if let Some(&(p2, n2)) = chunks.get(ci + 1) {
                        attn_prefetch(&l.k[p2 * rb..(p2 + n2) * rb], false);
                        if pf >= 3 {
                            attn_prefetch(&l.v[p2 * rb..(p2 + n2) * rb], false);
                        }
                    }
                }
                if part != Part::Values {
                    attn_scores(ty, k, nt, HD, q, ROWS, s, T);
                }
                if part == Part::All {
                    for r in 0..ROWS {
                        exp_sub_sum(&mut s[r * T..r * T + nt], 0.0);
                    }
                }
                if part != Part::Scores {
                    attn_values(ty, v, nt, HD, s, T, ROWS, o);
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    let ty = match arg("--type").as_deref().unwrap_or("q8_0") {
        "f32" => GgmlType::F32,
        "f16" => GgmlType::F16,
        _ => GgmlType::Q8_0,
    };
    let reps: usize = arg("--reps").map_or(50, |r| r.parse().unwrap());
    let pf: usize = arg("--prefetch").map_or(1, |r| r.parse().unwrap());
    let rb = ty.row_bytes(HD as u64).unwrap() as usize;
    let mut seed = 7u64;
    let mut make = |n_cache: usize, runs: Vec<(usize, usize)>| {
        let x: Vec<f32> = (0..HD).map(|_| rng(&mut seed) * 0.5).collect();
        let mut row = vec![0u8; rb];
        quantize_row(ty, &x, &mut row);
        let mut k = Vec::with_capacity(n_cache * rb);
        for i in 0..n_cache {
            row[(i * 7) % rb] = (i % 251) as u8 & 0x3f; // vary rows a little
            k.extend_from_slice(&row);
        }
        let v = k.clone();
        Layer { k, v, runs }
    };
    let depth = 16384;
    let mut layers = Vec::new();
    for li in 0..18 {
        if li % 6 == 5 {
            // Sink block, 64 scattered blocks, the 2048-key window (+ the partial block).
            let mut runs = vec![(0, 64)];
            for b in 0..64 {
                runs.push((64 * (1 + (b * 37 + li) % 220), 64));
            }
            runs.push((depth - 2048, 2048 + 1));
            layers.push(make(depth + 64, runs));
        } else {
            layers.push(make(512, vec![(0, 512)]));
        }
    }
    let keys: usize = layers.iter().flat_map(|l| l.runs.iter().map(|r| r.1)).sum();
    let q: Vec<f32> = (0..ROWS * HD).map(|_| rng(&mut seed) * 0.1).collect();
    let mut s = vec![0f32; ROWS * T];
    let mut o = vec![0f32; ROWS * HD];
    println!(
        "isa {:?}, {ty}, {keys} keys per token, {:.1} MiB of K+V read per token",
        wren_kernels::isa::isa(),
        (2 * keys * rb) as f64 / (1 << 20) as f64
    );
    for (name, part) in [
        ("scores+softmax+values", Part::All),
        ("scores", Part::Scores),
        ("values", Part::Values),
    ] {
        let mut times = Vec::new();
        for _ in 0..reps {
            let t0 = Instant::now();
            token(ty, &layers, &q, &mut s, &mut o, part, pf);
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:>22}: min {:.3} ms, median {:.3} ms per token (1 thread)",
            times[0],
            times[times.len() / 2]
        );
    }
    std::hint::black_box(&o);
}
