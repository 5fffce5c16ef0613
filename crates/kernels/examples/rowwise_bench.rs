//! Single-thread cost of the rowwise products (several tokens per weight load, for
//! speculative verification) against the one-token kernel per token: 16,384 rows (and,
//! for Gemma 3's packed head, all 262,144, streamed from memory), 128 rows per call, best
//! of 5.
//!
//!     cargo run --release -p wren-kernels --example rowwise_bench

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{activations, row_bytes, weights, Rng};
use wren_kernels::isa::{Packing, RowwiseTables};
use wren_kernels::{vec_dot_type, GgmlType};

fn main() {
    let t = wren_kernels::isa::isa();
    for (ty, packing, n, rows) in [
        (GgmlType::Q8_0, None, 640usize, 16384),
        (
            GgmlType::Q8_0,
            Packing::for_matrix(GgmlType::Q8_0, 640),
            640,
            16384,
        ),
        (
            GgmlType::Q8_0,
            Packing::for_matrix(GgmlType::Q8_0, 640),
            640,
            262144,
        ),
        (
            GgmlType::Q5_0,
            Packing::for_matrix(GgmlType::Q5_0, 640),
            640,
            16384,
        ),
        (GgmlType::Q4_1, None, 576, 16384),
        (GgmlType::Q4K, None, 1024, 16384),
        (GgmlType::Q5K, None, 1024, 16384),
        (GgmlType::Q6K, None, 2048, 16384),
    ] {
        let mut rng = Rng::new(3);
        let mut w = weights(ty, rows, n, &mut rng);
        if let Some(p) = packing {
            let mut packed = vec![0u8; w.len()];
            p.repack(n, &w, &mut packed);
            w = packed;
        }
        let rb = row_bytes(ty, n);
        let ab = row_bytes(vec_dot_type(ty), n);
        let chunk = 128;
        let mut base = 0.0;
        for tokens in [1usize, 2, 4, 8] {
            let mut a = activations(ty, tokens, n, &mut rng);
            if vec_dot_type(ty) == GgmlType::Q8_0 {
                // No -128 quant, as wren's quantizer writes (`activations` adds some).
                for b in a.chunks_exact_mut(34) {
                    b[2..]
                        .iter_mut()
                        .filter(|q| **q == 0x80)
                        .for_each(|q| *q = 0x81);
                }
            }
            let mut tables = RowwiseTables::new();
            tables.prepare(ty, packing, n, &a, tokens);
            let mut out = vec![0f32; tokens * chunk];
            let (mut one, mut rw) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..5 {
                let t0 = Instant::now();
                for wc in w.chunks(chunk * rb) {
                    for tk in 0..tokens {
                        let r = wc.len() / rb;
                        let (ai, o) = (&a[tk * ab..(tk + 1) * ab], &mut out[tk * chunk..][..r]);
                        match packing {
                            Some(p) => wren_kernels::isa::packed_rows(p, n, wc, ai, o),
                            None => wren_kernels::isa::vec_dot_rows(ty, n, wc, ai, o),
                        }
                    }
                }
                one = one.min(t0.elapsed().as_secs_f64());
                let t0 = Instant::now();
                for wc in w.chunks(chunk * rb) {
                    wren_kernels::isa::vec_dot_rows_rowwise(
                        ty, packing, n, wc, &a, tokens, &mut out, chunk, &tables,
                    );
                }
                rw = rw.min(t0.elapsed().as_secs_f64());
            }
            if tokens == 1 {
                base = one;
            }
            println!(
                "{:>6} {rows}x{n} {} tokens={tokens:2}: one-token x{tokens} {:.3} ms, rowwise {:.3} ms ({:.2} one-token calls; accelerated {})",
                packing.map_or(ty.to_string(), |p| p.name().to_string()),
                t.name(),
                one * 1e3,
                rw * 1e3,
                rw / base,
                tables.accelerated()
            );
        }
    }
}
