//! The rowwise products (`isa::rowwise`: several tokens per weight load, for speculative
//! verification) against the one-token kernel of the same tier: every (row, token) bit
//! for bit, on random and ragged sizes (odd block counts, row counts not a multiple of
//! anything, 1..=20 tokens, `-128` activation quants), and the scalar twin of the Q8_0
//! VNNI order against both.

mod common;

use std::time::Instant;

use common::{row_bytes, Rng};
use wren_kernels::formats::f16::F16Le;
use wren_kernels::formats::{cast_blocks, q8_0::BlockQ8_0};
use wren_kernels::isa::{vec_dot_rows_rowwise_with, vec_dot_rows_with, Isa, RowwiseTables};
use wren_kernels::{quantize_row, vec_dot_type, GgmlType};

const FORMATS: [GgmlType; 8] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q4_1,
    GgmlType::Q5_1,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
];

fn tiers() -> Vec<Isa> {
    [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512,
        Isa::Avx512Vnni,
        Isa::Neon,
        Isa::Dotprod,
        Isa::I8mm,
    ]
    .into_iter()
    .filter(|t| t.supported())
    .collect()
}

fn scale_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
        GgmlType::Q6K => &[208],
        _ => unreachable!(),
    }
}

/// `rows` random weight rows of `n` with random sane scales (some zero, some negative).
fn weights(ty: GgmlType, rows: usize, n: usize, rng: &mut Rng) -> Vec<u8> {
    let mut w: Vec<u8> = (0..rows * row_bytes(ty, n))
        .map(|_| rng.next_u64() as u8)
        .collect();
    for b in w.chunks_exact_mut(ty.type_size()) {
        for &off in scale_fields(ty) {
            let s = match rng.next_u64() % 16 {
                0 => 0.0,
                1 => -0.02,
                _ => (rng.uniform() * 0.05) as f32,
            };
            b[off..off + 2].copy_from_slice(&F16Le::from_f32(s).0);
        }
    }
    w
}

/// `tokens` activation rows; every third token's Q8_0 quants get some `-128`s.
fn activations(ty: GgmlType, tokens: usize, n: usize, rng: &mut Rng) -> Vec<u8> {
    let at = vec_dot_type(ty);
    let ab = row_bytes(at, n);
    let mut a = vec![0u8; ab * tokens];
    for t in 0..tokens {
        let x = rng.normals(n, 1.0 + t as f32);
        let row = &mut a[t * ab..(t + 1) * ab];
        quantize_row(at, &x, row);
        if at == GgmlType::Q8_0 && t % 3 == 2 {
            for b in row.chunks_exact_mut(34) {
                b[2 + (rng.next_u64() % 32) as usize] = 0x80;
            }
        }
    }
    a
}

#[test]
fn rowwise_is_bit_identical_to_one_token() {
    let mut rng = Rng::new(17);
    for ty in FORMATS {
        let bs = ty.block_size();
        let counts: &[usize] = if bs == 256 {
            &[1, 2, 3]
        } else {
            &[1, 2, 3, 5, 8, 20, 21]
        };
        for &nb in counts {
            let n = nb * bs;
            for rows in [1usize, 3, 17, 70] {
                let w = weights(ty, rows, n, &mut rng);
                for tokens in [1usize, 2, 3, 7, 8, 9, 16, 20] {
                    let a = activations(ty, tokens, n, &mut rng);
                    let ab = row_bytes(vec_dot_type(ty), n);
                    for t in tiers() {
                        let ld = rows + 3;
                        let mut got = vec![f32::NAN; tokens * ld];
                        vec_dot_rows_rowwise_with(t, ty, n, &w, &a, tokens, &mut got, ld);
                        for tk in 0..tokens {
                            let mut want = vec![0f32; rows];
                            vec_dot_rows_with(t, ty, n, &w, &a[tk * ab..(tk + 1) * ab], &mut want);
                            for r in 0..rows {
                                assert_eq!(
                                    got[tk * ld + r].to_bits(),
                                    want[r].to_bits(),
                                    "{ty} {} n={n} rows={rows} tokens={tokens}: row {r} token {tk}: {} vs {}",
                                    t.name(),
                                    got[tk * ld + r],
                                    want[r]
                                );
                            }
                            // Columns between the rows and ld are untouched.
                            assert!(got[tk * ld + rows..tk * ld + ld].iter().all(|v| v.is_nan()));
                        }
                    }
                }
            }
        }
    }
}

/// The scalar twin of the Q8_0 VNNI order equals the one-token VNNI kernel bit for bit.
#[cfg(target_arch = "x86_64")]
#[test]
fn q8_0_scalar_twin_matches_vnni() {
    use wren_kernels::isa::x86_64::avx512_rowwise::q8_0_one_token_order;
    if !Isa::Avx512Vnni.supported() {
        eprintln!("no AVX-512 VNNI: skipped");
        return;
    }
    let mut rng = Rng::new(5);
    let ty = GgmlType::Q8_0;
    for nb in [1usize, 2, 3, 4, 5, 7, 20, 21, 64] {
        let n = nb * 32;
        let w = weights(ty, 9, n, &mut rng);
        let a = activations(ty, 3, n, &mut rng);
        let ab = row_bytes(ty, n);
        for tk in 0..3 {
            let at = &a[tk * ab..(tk + 1) * ab];
            let mut want = vec![0f32; 9];
            assert!(wren_kernels::isa::vec_dot_rows_vnni_per_row(
                ty, n, &w, at, &mut want
            ));
            for (r, want) in want.iter().enumerate() {
                let wr: &[BlockQ8_0] = cast_blocks(&w[r * ab..(r + 1) * ab]);
                let twin = q8_0_one_token_order(wr, cast_blocks(at));
                assert_eq!(
                    twin.to_bits(),
                    want.to_bits(),
                    "nb={nb} row {r}: {twin} vs {want}"
                );
            }
        }
    }
}

/// The rows kernels of Q8_0, Q4_0, Q5_0 at the VNNI tier (the rowwise kernel for one token)
/// equal the per-row VNNI kernels bit for bit.
#[test]
fn vnni_rows_equal_the_per_row_kernels() {
    let mut rng = Rng::new(9);
    for ty in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0] {
        for nb in [1usize, 2, 3, 5, 20, 21, 64] {
            let n = nb * 32;
            let rows = 37;
            let w = weights(ty, rows, n, &mut rng);
            let a = activations(ty, 3, n, &mut rng);
            let ab = row_bytes(vec_dot_type(ty), n);
            for tk in 0..3 {
                let at = &a[tk * ab..(tk + 1) * ab];
                let mut want = vec![0f32; rows];
                if !wren_kernels::isa::vec_dot_rows_vnni_per_row(ty, n, &w, at, &mut want) {
                    eprintln!("no AVX-512 VNNI: skipped");
                    return;
                }
                let mut got = vec![0f32; rows];
                vec_dot_rows_with(Isa::Avx512Vnni, ty, n, &w, at, &mut got);
                for r in 0..rows {
                    assert_eq!(got[r].to_bits(), want[r].to_bits(), "{ty} nb={nb} row {r}");
                }
            }
        }
    }
}

#[test]
fn tables_report_acceleration() {
    let mut t = RowwiseTables::new();
    let n = 64;
    let a = activations(GgmlType::Q8_0, 2, n, &mut Rng::new(1));
    t.prepare(GgmlType::Q8_0, n, &a, 2);
    let want = cfg!(target_arch = "x86_64") && wren_kernels::isa::isa() == Isa::Avx512Vnni;
    assert_eq!(t.accelerated(), want);
}

/// Single-thread cost of `tokens` tokens against 16,384 rows of 640 (Gemma 3's head):
/// the one-token kernel per token vs the rowwise kernel, 128 rows per call.
/// `cargo test --release -p wren-kernels --test rowwise -- --ignored --nocapture`
#[test]
#[ignore]
fn rowwise_throughput() {
    let t = wren_kernels::isa::isa();
    for (ty, n) in [
        (GgmlType::Q8_0, 640usize),
        (GgmlType::Q5_0, 640),
        (GgmlType::Q4_1, 576),
        (GgmlType::Q4K, 1024),
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
                let mut refr = f64::INFINITY;
                for _ in 0..5 {
                    let t0 = Instant::now();
                    for wc in w.chunks(chunk * rb) {
                        let r = wc.len() / rb;
                        if !wren_kernels::isa::vec_dot_rows_vnni_per_row(
                            ty,
                            n,
                            wc,
                            &a[..ab],
                            &mut out[..r],
                        ) {
                            break;
                        }
                    }
                    refr = refr.min(t0.elapsed().as_secs_f64());
                }
                println!(
                    "{ty:>5} per-row VNNI kernel (the previous decode kernel): {:.3} ms",
                    refr * 1e3
                );
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
