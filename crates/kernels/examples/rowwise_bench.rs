//! Single-thread cost of the rowwise products (several tokens per weight load, for
//! speculative verification) against the one-token kernel per token: 16,384 rows, 128 rows
//! per call, best of 5.
//!
//!     cargo run --release -p wren-kernels --example rowwise_bench

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{activations, row_bytes, weights, Rng};
use wren_kernels::isa::RowwiseTables;
use wren_kernels::{vec_dot_type, GgmlType};

// Single-thread cost of `tokens` tokens against 16,384 rows of 640 (Gemma 3's head):
// the one-token kernel per token vs the rowwise kernel, 128 rows per call.
fn main() {
    let t = wren_kernels::isa::isa();
    for (ty, n) in [
        (GgmlType::Q8_0, 640usize),
        (GgmlType::Q5_0, 640),
        (GgmlType::Q4_1, 576),
        (GgmlType::Q4K, 1024),
        (GgmlType::Q5K, 1024),
        (GgmlType::Q6K, 2048),
    ] {
        let rows = 16384;
        let mut rng = Rng::new(3);
        let w = weights(ty, rows, n, &mut rng);
        let rb = row_bytes(ty, n);
        let ab = row_bytes(vec_dot_type(ty), n);
        let chunk = 128;
        let mut base = 0.0;
        for tokens in [1usize, 2, 4, 8] {
            let a = activations(ty, tokens, n, &mut rng);
            let mut tables = RowwiseTables::new();
            tables.prepare(ty, n, &a, tokens);
            let mut out = vec![0f32; tokens * chunk];
            let (mut one, mut rw) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..5 {
                let t0 = Instant::now();
                for wc in w.chunks(chunk * rb) {
                    for tk in 0..tokens {
                        let r = wc.len() / rb;
                        wren_kernels::isa::vec_dot_rows(
                            ty,
                            n,
                            wc,
                            &a[tk * ab..(tk + 1) * ab],
                            &mut out[tk * chunk..tk * chunk + r],
                        );
                    }
                }
                one = one.min(t0.elapsed().as_secs_f64());
                let t0 = Instant::now();
                for wc in w.chunks(chunk * rb) {
                    wren_kernels::isa::vec_dot_rows_rowwise(
                        ty, n, wc, &a, tokens, &mut out, chunk, &tables,
                    );
                }
                rw = rw.min(t0.elapsed().as_secs_f64());
            }
            if tokens == 1 {
                base = one;
            }
            println!(
                "{ty:>5} {rows}x{n} {} tokens={tokens:2}: one-token x{tokens} {:.3} ms, rowwise {:.3} ms ({:.2} one-token calls; accelerated {})",
                t.name(),
                one * 1e3,
                rw * 1e3,
                rw / base,
                tables.accelerated()
            );
        }
    }
}
