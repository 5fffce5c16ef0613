//! Serial costs of one batched product outside its kernel: quantizing `tokens` activation
//! rows and laying them out as token tables (`TokenTables::prepare`), per call.
//!
//! `cargo run --release -p wren-kernels --example prep_bench -- [--type q4_1] [--cols 576]
//! [--tokens 8] [--reps 20000]`
use std::time::Instant;

use wren_kernels::isa::TokenTables;
use wren_kernels::{quantize_row, vec_dot_type, GgmlType};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ty: GgmlType = match arg(&args, "--type", "q4_1").as_str() {
        "q8_0" => GgmlType::Q8_0,
        "q4_0" => GgmlType::Q4_0,
        "q4_1" => GgmlType::Q4_1,
        "q4_k" => GgmlType::Q4K,
        other => panic!("--type {other}: q8_0, q4_0, q4_1 or q4_k"),
    };
    let cols: usize = arg(&args, "--cols", "576").parse().expect("--cols");
    let tokens: usize = arg(&args, "--tokens", "8").parse().expect("--tokens");
    let reps: usize = arg(&args, "--reps", "20000").parse().expect("--reps");
    let aty = vec_dot_type(ty);
    let arb = aty.row_bytes(cols as u64).expect("whole blocks") as usize;
    let mut seed = 1u32;
    let x: Vec<f32> = (0..cols * tokens)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        })
        .collect();
    let mut xq = vec![0u8; arb * tokens];
    let mut tb = TokenTables::new();
    let t0 = Instant::now();
    for _ in 0..reps {
        for t in 0..tokens {
            quantize_row(
                aty,
                &x[t * cols..(t + 1) * cols],
                &mut xq[t * arb..(t + 1) * arb],
            );
        }
        std::hint::black_box(&xq);
    }
    let q = t0.elapsed().as_secs_f64() / reps as f64;
    let t0 = Instant::now();
    for _ in 0..reps {
        tb.prepare(ty, None, cols, &xq, tokens);
        std::hint::black_box(&tb);
    }
    let p = t0.elapsed().as_secs_f64() / reps as f64;
    println!(
        "{ty} {tokens}x{cols}: quantize {:.2} us, prepare {:.2} us per call",
        q * 1e6,
        p * 1e6
    );
}
