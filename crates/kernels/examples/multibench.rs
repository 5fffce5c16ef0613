//! Single-thread speed of the batched-decode matrix kernels: `rows` weight rows of `cols`
//! elements (random, quantized to `--type`, repacked as the engine does at this tier)
//! against 1..8 Q8_0/Q8_1/Q8_K activation rows, the shape of one matrix of a batched step.
//!
//! `cargo run --release -p wren-kernels --example multibench -- [--type q8_0] [--rows 16384]
//! [--cols 640] [--tokens 1,8] [--reps 20]`
//!
//! Prints, per token count, the best and median time per call and the multiply-adds per
//! second (rows × cols × tokens / time). The weights are sized to sit in L2/L3 rather than
//! memory, so the figure is the kernel's compute rate.

use std::time::Instant;

use wren_kernels::isa::multi::vec_dot_rows_tokens;
use wren_kernels::isa::packed::{packed_rows_tokens, Packing};
use wren_kernels::{quantize_row, vec_dot_type, GgmlType};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// A small deterministic generator (xorshift), values in [-1, 1).
fn noise(seed: &mut u64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ty: GgmlType = match arg(&args, "--type", "q8_0").as_str() {
        "q8_0" => GgmlType::Q8_0,
        "q4_0" => GgmlType::Q4_0,
        "q5_0" => GgmlType::Q5_0,
        "q4_1" => GgmlType::Q4_1,
        "q5_1" => GgmlType::Q5_1,
        "q4_k" => GgmlType::Q4K,
        "q5_k" => GgmlType::Q5K,
        "q6_k" => GgmlType::Q6K,
        other => panic!("--type {other}: one of q8_0, q4_0, q5_0, q4_1, q5_1, q4_k, q5_k, q6_k"),
    };
    let rows: usize = arg(&args, "--rows", "16384").parse().expect("--rows");
    let cols: usize = arg(&args, "--cols", "640").parse().expect("--cols");
    let reps: usize = arg(&args, "--reps", "20").parse().expect("--reps");
    let tokens: Vec<usize> = arg(&args, "--tokens", "1,8")
        .split(',')
        .map(|t| t.parse().expect("--tokens"))
        .collect();

    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let rb = ty.row_bytes(cols as u64).expect("row size") as usize;
    let mut w = vec![0u8; rows * rb];
    for r in 0..rows {
        quantize_row(ty, &noise(&mut seed, cols), &mut w[r * rb..(r + 1) * rb]);
    }
    let packing = Packing::for_matrix(ty, cols);
    if let Some(p) = packing {
        let mut packed = vec![0u8; w.len()];
        p.repack(cols, &w, &mut packed);
        w = packed;
    }
    let aty = vec_dot_type(ty);
    let ab = aty.row_bytes(cols as u64).expect("row size") as usize;
    let tmax = *tokens.iter().max().unwrap_or(&1);
    let mut a = vec![0u8; tmax * ab];
    for t in 0..tmax {
        quantize_row(aty, &noise(&mut seed, cols), &mut a[t * ab..(t + 1) * ab]);
    }
    let mut out = vec![0f32; tmax * rows];
    println!(
        "{ty} {rows}x{cols} ({}), isa {:?}",
        packing.map_or("stock", |p| p.name()),
        wren_kernels::isa::isa()
    );
    for &t in &tokens {
        let run = |out: &mut [f32]| match packing {
            Some(p) => packed_rows_tokens(p, cols, &w, &a[..t * ab], t, out, rows),
            None => vec_dot_rows_tokens(ty, cols, &w, &a[..t * ab], t, out, rows),
        };
        run(&mut out);
        let mut times: Vec<f64> = (0..reps)
            .map(|_| {
                let start = Instant::now();
                run(&mut out);
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let (best, median) = (times[0], times[reps / 2]);
        let macs = (rows * cols * t) as f64;
        println!(
            "tokens {t}: best {:.3} ms, median {:.3} ms, {:.2} GMAC/s (best)",
            best * 1e3,
            median * 1e3,
            macs / best / 1e9
        );
    }
}
