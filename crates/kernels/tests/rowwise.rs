//! The rowwise products (`isa::rowwise`: several tokens per weight load, for speculative
//! verification) against the one-token kernel of the same tier: every (row, token) bit
//! for bit, on random and ragged sizes (odd block counts, row counts not a multiple of
//! anything, 1..=20 tokens, `-128` activation quants). (The 32-element formats at the VNNI
//! tier run the batched kernel here; `lanes.rs` checks both against a scalar twin.)

mod common;

use common::{activations, row_bytes, weights, Rng};
use wren_kernels::isa::{
    row_cost, vec_dot_rows_rowwise_with, vec_dot_rows_with, Isa, RowwiseTables,
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

#[test]
fn tables_report_acceleration() {
    let mut t = RowwiseTables::new();
    let n = 64;
    let a = activations(GgmlType::Q8_0, 2, n, &mut Rng::new(1));
    t.prepare(GgmlType::Q8_0, n, &a, 2);
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
        t.prepare(ty, n, &a, 2);
        let cost = row_cost(ty, false);
        assert_eq!(cost < 0.75, t.accelerated(), "{ty}: cost {cost}");
        assert!(cost > 0.0 && cost <= 0.75);
        // Packed matrices have no rowwise kernel.
        assert_eq!(row_cost(ty, true), 0.75);
    }
}
