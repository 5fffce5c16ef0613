//! Single-thread throughput of `vec_dot_rows` per ISA tier (weights streamed once per pass).
//! Run with `cargo run --release -p wren-kernels --example simd_bench [throughput|tokens]`
//! (both by default).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{row_bytes, Rng};
use wren_kernels::formats::f16::F16Le;
use wren_kernels::isa::{vec_dot_rows_with, Isa};
use wren_kernels::{quantize_row, vec_dot_type, GgmlType};

/// A `rows × n` matrix of random bytes with sane f16 scales at `scale_offs` of each block.
fn matrix(ty: GgmlType, rows: usize, n: usize, scale_offs: &[usize]) -> Vec<u8> {
    let mut rng = Rng::new(1);
    let mut w = vec![0u8; rows * row_bytes(ty, n)];
    for c in w.chunks_exact_mut(8) {
        c.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let d = F16Le::from_f32(0.01).0;
    for b in w.chunks_exact_mut(ty.type_size()) {
        for &o in scale_offs {
            b[o..o + 2].copy_from_slice(&d);
        }
    }
    w
}

fn bench(ty: GgmlType, rows: usize, n: usize, scale_offs: &[usize]) {
    let w = matrix(ty, rows, n, scale_offs);
    let x = Rng::new(2).normals(n, 1.0);
    let mut a = vec![0u8; row_bytes(vec_dot_type(ty), n)];
    quantize_row(vec_dot_type(ty), &x, &mut a);
    let chunk = 64; // rows per call, as a matmul would hand out
    let rb = row_bytes(ty, n);
    let mut out = vec![0f32; rows];
    for t in [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni] {
        if !t.supported() {
            continue;
        }
        let mut best = f64::INFINITY;
        let mut check = 0.0f64;
        for _ in 0..4 {
            let t0 = Instant::now();
            for (o, wc) in out.chunks_mut(chunk).zip(w.chunks(chunk * rb)) {
                vec_dot_rows_with(t, ty, n, wc, &a, o);
            }
            best = best.min(t0.elapsed().as_secs_f64());
            check = out.iter().map(|&v| v as f64).sum();
        }
        println!(
            "{ty:>5} {rows}x{n} ({:.0} MB) {:>14}: {:6.2} GB/s  ({:.1} ms, checksum {check:.4e})",
            w.len() as f64 / 1e6,
            t.name(),
            w.len() as f64 / best / 1e9,
            best * 1e3
        );
    }
}

/// Plain streaming read of the same bytes (u64 sums): the memory ceiling to compare with.
fn read_ceiling(w: &[u8]) -> f64 {
    let mut best = f64::INFINITY;
    let mut s = 0u64;
    for _ in 0..4 {
        let t0 = Instant::now();
        s = s.wrapping_add(
            w.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .fold(0u64, |a, b| a.wrapping_add(b)),
        );
        best = best.min(t0.elapsed().as_secs_f64());
    }
    std::hint::black_box(s);
    w.len() as f64 / best / 1e9
}

fn vec_dot_rows_throughput() {
    let w = matrix(GgmlType::Q8_0, 262_144, 640, &[0]);
    println!(
        "memory read ceiling (u64 sum, 178 MB): {:6.2} GB/s",
        read_ceiling(&w)
    );
    drop(w);
    // The output head: 262144 × 640 Q8_0, 178 MB.
    bench(GgmlType::Q8_0, 262_144, 640, &[0]);
    bench(GgmlType::Q4_0, 131_072, 2048, &[0]);
    bench(GgmlType::Q5_0, 131_072, 2048, &[0]);
    bench(GgmlType::Q4_1, 131_072, 2048, &[0, 2]);
    bench(GgmlType::Q5_1, 131_072, 2048, &[0, 2]);
    bench(GgmlType::Q4K, 131_072, 2048, &[0, 2]);
    bench(GgmlType::Q5K, 131_072, 2048, &[0, 2]);
    bench(GgmlType::Q6K, 131_072, 2048, &[208]);
}

/// Compute cost of `vec_dot_rows_tokens` with everything in L1 (16 rows × 640, 8 tokens,
/// repeated): nanoseconds per (row-block, token), min over runs. Per-token loop over
/// `vec_dot_rows` for comparison. On a busy machine time one case under
/// `perf stat -e cycles:u` instead: `WREN_BENCH_ONLY=Q8_0:8:multi` runs only that one; `WREN_BENCH_ROWS` sets the rows
/// per call (16).
fn tokens_in_cache() {
    use wren_kernels::isa::vec_dot_rows_tokens_with;
    let n = 640;
    let isa = wren_kernels::isa::isa();
    for (ty, offs) in [
        (GgmlType::Q8_0, &[0usize][..]),
        (GgmlType::Q5_0, &[0][..]),
        (GgmlType::Q4_1, &[0, 2][..]),
        (GgmlType::Q4K, &[0, 2][..]),
        (GgmlType::Q6K, &[208][..]),
    ] {
        let n = if ty.block_size() == 256 { 1024 } else { n };
        let rows: usize = std::env::var("WREN_BENCH_ROWS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16);
        let w = matrix(ty, rows, n, offs);
        let at = vec_dot_type(ty);
        let ab = row_bytes(at, n);
        let mut rng = Rng::new(2);
        for tokens in [1usize, 4, 8] {
            let mut a = vec![0u8; ab * tokens];
            for c in a.chunks_exact_mut(ab) {
                quantize_row(at, &rng.normals(n, 1.0), c);
            }
            let mut out = vec![0f32; rows * tokens];
            let blocks = (rows * (n / ty.block_size()) * tokens) as f64;
            let reps = 32000 / rows;
            let time = |f: &mut dyn FnMut()| {
                (0..7)
                    .map(|_| {
                        let t = Instant::now();
                        for _ in 0..reps {
                            f();
                        }
                        t.elapsed().as_secs_f64() * 1e9 / (reps as f64 * blocks)
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let only = std::env::var("WREN_BENCH_ONLY").ok();
            let want = |kind: &str| {
                only.as_deref()
                    .is_none_or(|o| o == format!("{ty}:{tokens}:{kind}"))
            };
            let multi = time(&mut || {
                if !want("multi") {
                    return;
                }
                vec_dot_rows_tokens_with(isa, ty, n, &w, &a, tokens, &mut out, rows);
            });
            let single = time(&mut || {
                if !want("rows") {
                    return;
                }
                for (t, ai) in a.chunks_exact(ab).enumerate() {
                    vec_dot_rows_with(isa, ty, n, &w, ai, &mut out[t * rows..(t + 1) * rows]);
                }
            });
            eprintln!("{ty} tokens={tokens}: multi {multi:.3} ns/block·token, per-row {single:.3}");
        }
    }
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if which.is_empty() || which == "throughput" {
        vec_dot_rows_throughput();
    }
    if which.is_empty() || which == "tokens" {
        tokens_in_cache();
    }
}
