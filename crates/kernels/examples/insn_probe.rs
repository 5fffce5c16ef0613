//! A fixed amount of kernel work for counting instructions under an emulator (see
//! `scripts/arm_insn_count.sh`): `--reps` calls of one kernel at tier `--isa` on `--rows`
//! weight rows of `--cols` elements of `--type` against `--tokens` activation rows (or, with
//! `--op quantize`, `--rows` activation rows quantized). Two runs differing only in
//! `--reps` differ by exactly the kernel's instructions, setup cancels out.
//!
//! `cargo run --release -p wren-kernels --example insn_probe -- --type q4_0 --isa dotprod
//! [--rows 4] [--cols 4096] [--tokens 1] [--reps 1] [--op dot|quantize]`

use wren_kernels::isa::{quantize_row_with, vec_dot_rows_tokens_with, vec_dot_rows_with, Isa};
use wren_kernels::{quantize_row, vec_dot_type, GgmlType};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

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
    let ty = match arg(&args, "--type", "q8_0").as_str() {
        "q8_0" => GgmlType::Q8_0,
        "q4_0" => GgmlType::Q4_0,
        "q5_0" => GgmlType::Q5_0,
        "q4_1" => GgmlType::Q4_1,
        "q5_1" => GgmlType::Q5_1,
        "q4_k" => GgmlType::Q4K,
        "q5_k" => GgmlType::Q5K,
        "q6_k" => GgmlType::Q6K,
        "q8_1" => GgmlType::Q8_1,
        "q8_k" => GgmlType::Q8K,
        other => panic!("--type {other}"),
    };
    let isa = Isa::from_name(&arg(&args, "--isa", "scalar")).expect("--isa");
    let rows: usize = arg(&args, "--rows", "4").parse().expect("--rows");
    let cols: usize = arg(&args, "--cols", "4096").parse().expect("--cols");
    let tokens: usize = arg(&args, "--tokens", "1").parse().expect("--tokens");
    let reps: usize = arg(&args, "--reps", "1").parse().expect("--reps");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    if arg(&args, "--op", "dot") == "quantize" {
        let x = noise(&mut seed, cols);
        let mut q = vec![0u8; ty.row_bytes(cols as u64).expect("row") as usize];
        for _ in 0..reps {
            for _ in 0..rows {
                quantize_row_with(isa, ty, &x, &mut q);
            }
        }
        println!("{}", q.iter().map(|&b| b as u64).sum::<u64>());
        return;
    }
    let rb = ty.row_bytes(cols as u64).expect("row") as usize;
    let mut w = vec![0u8; rows * rb];
    for r in 0..rows {
        quantize_row(ty, &noise(&mut seed, cols), &mut w[r * rb..(r + 1) * rb]);
    }
    let aty = vec_dot_type(ty);
    let ab = aty.row_bytes(cols as u64).expect("row") as usize;
    let mut a = vec![0u8; tokens * ab];
    for t in 0..tokens {
        quantize_row(aty, &noise(&mut seed, cols), &mut a[t * ab..(t + 1) * ab]);
    }
    let mut out = vec![0f32; tokens * rows];
    for _ in 0..reps {
        if tokens == 1 {
            vec_dot_rows_with(isa, ty, cols, &w, &a, &mut out);
        } else {
            vec_dot_rows_tokens_with(isa, ty, cols, &w, &a, tokens, &mut out, rows);
        }
    }
    println!("{}", out.iter().sum::<f32>());
}
