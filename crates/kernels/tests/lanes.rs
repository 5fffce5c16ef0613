//! The one-token kernels of the 32-element formats at the VNNI tier (and of Q4_1 at AVX2)
//! (`isa::x86_64::avx512_lanes`) against the token-lane batched kernels
//! (`isa::x86_64::avx512_multi`, `avx512_multi4`) and a scalar twin of their shared arithmetic, bit for bit:
//! what lets speculative verification and batched decoding use the batched kernel and still
//! reproduce plain decoding. Random and ragged sizes (row counts not a multiple of 16, odd
//! block counts), `-128` activation quants included.

mod common;

use common::{activations, row_bytes, weights, Rng};
use wren_kernels::formats::f16::F16Le;
use wren_kernels::formats::{cast_blocks, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1};
use wren_kernels::isa::{vec_dot_rows_tokens_with, vec_dot_rows_with, Isa};
use wren_kernels::{vec_dot_type, GgmlType};

const FORMATS: [GgmlType; 5] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q4_1,
    GgmlType::Q5_1,
];

/// Weight block `b` of a row as (signed quants `q` with `w = d·q (+ m)`, `d`, `m`).
fn weight_block(ty: GgmlType, row: &[u8], b: usize) -> ([i32; 32], f32, f32) {
    let mut q = [0i32; 32];
    let one = F16Le::from_f32(1.0);
    // Dequantized with d = 1 and m = 0, each value is its integer quant exactly.
    let mut v = [0f32; 32];
    let (d, m) = match ty {
        GgmlType::Q8_0 => {
            let mut x = cast_blocks::<q8_0::BlockQ8_0>(row)[b];
            let d = x.d.to_f32();
            x.d = one;
            q8_0::dequantize(&[x], &mut v);
            (d, 0.0)
        }
        GgmlType::Q4_0 => {
            let mut x = cast_blocks::<q4_0::BlockQ4_0>(row)[b];
            let d = x.d.to_f32();
            x.d = one;
            q4_0::dequantize(&[x], &mut v);
            (d, 0.0)
        }
        GgmlType::Q5_0 => {
            let mut x = cast_blocks::<q5_0::BlockQ5_0>(row)[b];
            let d = x.d.to_f32();
            x.d = one;
            q5_0::dequantize(&[x], &mut v);
            (d, 0.0)
        }
        GgmlType::Q4_1 => {
            let mut x = cast_blocks::<q4_1::BlockQ4_1>(row)[b];
            let (d, m) = (x.d.to_f32(), x.m.to_f32());
            (x.d, x.m) = (one, F16Le::ZERO);
            q4_1::dequantize(&[x], &mut v);
            (d, m)
        }
        _ => {
            let mut x = cast_blocks::<q5_1::BlockQ5_1>(row)[b];
            let (d, m) = (x.d.to_f32(), x.m.to_f32());
            (x.d, x.m) = (one, F16Le::ZERO);
            q5_1::dequantize(&[x], &mut v);
            (d, m)
        }
    };
    for (q, v) in q.iter_mut().zip(v) {
        assert_eq!(v, v.round());
        *q = v as i32;
    }
    (q, d, m)
}

/// The shared arithmetic in scalar code: per block in order, the exact integer sum, then
/// `f = (Σ q·y)·(d_y·d_x) + f` fused, or with an offset `f = f + ((Σ q·y)·(d_y·d_x) + s_y·m_x)`
/// (fused inside).
fn twin(ty: GgmlType, n: usize, row: &[u8], act: &[u8]) -> f32 {
    let mut f = 0f32;
    for b in 0..n / 32 {
        let (q, dx, mx) = weight_block(ty, row, b);
        let (qs, dy, sy) = if vec_dot_type(ty) == GgmlType::Q8_1 {
            let y = &cast_blocks::<q8_1::BlockQ8_1>(act)[b];
            (y.qs, y.d.to_f32(), y.s.to_f32())
        } else {
            let y = &cast_blocks::<q8_0::BlockQ8_0>(act)[b];
            (y.qs, y.d.to_f32(), 0.0)
        };
        let sum: i32 = q.iter().zip(qs).map(|(&q, y)| q * y as i8 as i32).sum();
        let dd = dy * dx;
        f = if matches!(ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
            f + (sum as f32).mul_add(dd, sy * mx)
        } else {
            (sum as f32).mul_add(dd, f)
        };
    }
    f
}

#[test]
fn one_token_equals_token_lanes_and_twin() {
    if !Isa::Avx512Vnni.supported() {
        eprintln!("no AVX-512 VNNI: skipped");
        return;
    }
    let t = Isa::Avx512Vnni;
    let mut rng = Rng::new(23);
    for ty in FORMATS {
        for nb in [1usize, 2, 3, 5, 18, 21] {
            let n = nb * 32;
            for rows in [1usize, 7, 16, 17, 40, 1024] {
                let w = weights(ty, rows, n, &mut rng);
                let rb = row_bytes(ty, n);
                // 3 tokens: the four-token kernel; 9: a group of 8 and a group of 1.
                let tokens = if rows % 2 == 0 { 3 } else { 9 };
                let a = activations(ty, tokens, n, &mut rng);
                let ab = row_bytes(vec_dot_type(ty), n);
                let ld = rows + 2;
                let mut batched = vec![f32::NAN; tokens * ld];
                vec_dot_rows_tokens_with(t, ty, n, &w, &a, tokens, &mut batched, ld);
                for tk in 0..tokens {
                    let at = &a[tk * ab..(tk + 1) * ab];
                    let mut one = vec![f32::NAN; rows];
                    vec_dot_rows_with(t, ty, n, &w, at, &mut one);
                    for r in 0..rows {
                        let tw = twin(ty, n, &w[r * rb..(r + 1) * rb], at);
                        let (o, b) = (one[r], batched[tk * ld + r]);
                        let ctx = format!("{ty} nb={nb} rows={rows} row {r} token {tk}");
                        assert_eq!(
                            o.to_bits(),
                            tw.to_bits(),
                            "{ctx}: one-token {o} vs twin {tw}"
                        );
                        assert_eq!(b.to_bits(), tw.to_bits(), "{ctx}: batched {b} vs twin {tw}");
                    }
                }
            }
        }
    }
}

/// The AVX2 kernel of Q4_1 (`isa::x86_64::avx2_lanes`, eight rows in the lanes) has the
/// same arithmetic: its one-token products equal the twin bit for bit (and so the VNNI
/// tier's), and its rowwise products (`rowwise.rs`) the one-token ones.
#[test]
fn avx2_q4_1_one_token_equals_twin() {
    if !Isa::Avx2.supported() {
        eprintln!("no AVX2: skipped");
        return;
    }
    let ty = GgmlType::Q4_1;
    let mut rng = Rng::new(29);
    for nb in [1usize, 2, 3, 5, 18, 21] {
        let n = nb * 32;
        for rows in [1usize, 7, 8, 9, 17, 40, 300] {
            let w = weights(ty, rows, n, &mut rng);
            let rb = row_bytes(ty, n);
            let a = activations(ty, 1, n, &mut rng);
            let mut one = vec![f32::NAN; rows];
            vec_dot_rows_with(Isa::Avx2, ty, n, &w, &a, &mut one);
            for (r, o) in one.iter().enumerate() {
                let tw = twin(ty, n, &w[r * rb..(r + 1) * rb], &a);
                assert_eq!(
                    o.to_bits(),
                    tw.to_bits(),
                    "nb={nb} rows={rows} row {r}: one-token {o} vs twin {tw}"
                );
            }
        }
    }
}
