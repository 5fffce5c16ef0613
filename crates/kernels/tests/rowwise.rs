//! The rowwise products (`isa::rowwise`: several tokens per weight load, for speculative
//! verification) against the one-token kernel of the same tier: every (row, token) bit
//! for bit, on random and ragged sizes (odd block counts, row counts not a multiple of
//! anything, 1..=20 tokens, `-128` activation quants). (The 32-element formats at the VNNI
//! tier run the batched kernel here; `lanes.rs` checks both against a scalar twin.)

mod common;

use common::{activations, row_bytes, weights, Rng};
use wren_kernels::isa::{
    packed_rows_with, row_cost, vec_dot_rows_rowwise_with, vec_dot_rows_with, Isa, Packing,
    RowwiseTables,
};
use wren_kernels::{vec_dot_type, GgmlType};

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
    Isa::all_supported()
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
                        vec_dot_rows_rowwise_with(t, ty, None, n, &w, &a, tokens, &mut got, ld);
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

#[test]
fn tables_report_acceleration() {
    let mut t = RowwiseTables::new();
    let n = 64;
    let a = activations(GgmlType::Q8_0, 2, n, &mut Rng::new(1));
    t.prepare(GgmlType::Q8_0, None, n, &a, 2);
    // Q8_0 has a rowwise kernel at every x86 SIMD tier (AVX2: `avx2_rowwise`).
    let want = cfg!(target_arch = "x86_64") && wren_kernels::isa::isa().at_least(Isa::Avx2);
    assert_eq!(t.accelerated(), want);
}

/// The cost model of speculative drafting (`isa::row_cost`) follows the dispatch: a format
/// costs less per verified token exactly where this tier has a rowwise kernel for it.
#[test]
fn row_cost_follows_the_kernels() {
    let n = 256;
    for ty in FORMATS {
        let a = activations(ty, 2, n, &mut Rng::new(5));
        let mut t = RowwiseTables::new();
        t.prepare(ty, None, n, &a, 2);
        let cost = row_cost(ty, None);
        assert_eq!(cost < 0.75, t.accelerated(), "{ty}: cost {cost}");
        assert!(cost > 0.0 && cost <= 0.75);
    }
    for (ty, p) in PACKED {
        let a = activations(ty, 2, n, &mut Rng::new(5));
        let mut t = RowwiseTables::new();
        t.prepare(ty, Some(p), n, &a, 2);
        let cost = row_cost(ty, Some(p));
        assert_eq!(cost < 0.75, t.accelerated(), "{}: cost {cost}", p.name());
        assert!(cost > 0.0 && cost <= 0.75);
    }
}

/// Replaces every `-128` quant of Q8_0 activation rows `a` by `-127`.
fn without_min(a: &mut [u8]) {
    for b in a.chunks_exact_mut(34) {
        for q in &mut b[2..] {
            if *q == 0x80 {
                *q = 0x81;
            }
        }
    }
}

const PACKED: [(GgmlType, Packing); 2] = [
    (GgmlType::Q8_0, Packing::Q8_0x4),
    (GgmlType::Q5_0, Packing::Q5_0x4),
];

/// The packings' rowwise products (at the AVX2 tiers the batched kernel, whose one-token
/// product is the same kernel) against
/// the packed one-token product, bit for bit, on ragged sizes (Q8_0×4 rows with a tail
/// group too), with `-128` activation
/// quants in some tokens (those take the one-token kernel's exact path).
#[test]
fn packed_rowwise_is_bit_identical_to_one_token() {
    let mut rng = Rng::new(23);
    for (ty, p) in PACKED {
        let cols: &[usize] = match p {
            Packing::Q5_0x4 => &[128, 256, 640],
            Packing::Q8_0x4 => &[64, 128, 576, 640],
        };
        for &n in cols {
            let ab = row_bytes(vec_dot_type(ty), n);
            for rows in [1usize, 3, 17, 70] {
                let w = weights(ty, rows, n, &mut rng);
                let mut packed = vec![0u8; w.len()];
                p.repack(n, &w, &mut packed);
                for tokens in [1usize, 2, 3, 4, 7, 8, 9, 16, 20] {
                    let mut a = activations(ty, tokens, n, &mut rng);
                    // `activations` writes -128 quants into every third token; keep them
                    // only in some products, so that the others take the batched kernel.
                    if tokens % 3 != 0 {
                        without_min(&mut a);
                    }
                    for t in tiers() {
                        let ld = rows + 3;
                        let mut got = vec![f32::NAN; tokens * ld];
                        vec_dot_rows_rowwise_with(
                            t,
                            ty,
                            Some(p),
                            n,
                            &packed,
                            &a,
                            tokens,
                            &mut got,
                            ld,
                        );
                        for tk in 0..tokens {
                            let mut want = vec![0f32; rows];
                            packed_rows_with(
                                t,
                                p,
                                n,
                                &packed,
                                &a[tk * ab..(tk + 1) * ab],
                                &mut want,
                            );
                            for r in 0..rows {
                                assert_eq!(
                                    got[tk * ld + r].to_bits(),
                                    want[r].to_bits(),
                                    "{} {} n={n} rows={rows} tokens={tokens}: row {r} token {tk}",
                                    p.name(),
                                    t.name(),
                                );
                            }
                            assert!(got[tk * ld + rows..tk * ld + ld].iter().all(|v| v.is_nan()));
                        }
                    }
                }
            }
        }
    }
}
