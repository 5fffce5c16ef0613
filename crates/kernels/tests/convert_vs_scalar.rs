//! The SIMD activation quantizers (byte for byte) and dequantizers (bit for bit) at every
//! tier this CPU supports against the scalar references.

mod common;

use common::{block_counts, row_bytes, simd_tiers, Rng};
use wren_kernels::formats::f16::F16Le;
use wren_kernels::formats::{cast_blocks, cast_blocks_mut, iq4_nl, iq4_xs, q4_0, q4_1, q5_1};
use wren_kernels::formats::{q8_0, q8_1, q8_k};
use wren_kernels::isa::quantize_row_with;
use wren_kernels::{dequantize_row, quantize_row, GgmlType};

/// Rows that stress the quantizers: ties, NaN/inf, subnormals, ±max ties, zeros.
fn quantizer_rows(n: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    let mut rows = vec![
        rng.normals(n, 1.0),
        rng.normals(n, 1e-3),
        rng.normals(n, 1e30),
        vec![0.0; n],
        vec![-0.0; n],
        (0..n).map(|i| (i % 256) as f32 - 127.5).collect(),
        (0..n)
            .map(|i| (i as f32 * 0.5).rem_euclid(128.0) - 64.0)
            .collect(),
        (0..n)
            .map(|i| if i % 2 == 0 { 3.0 } else { -3.0 })
            .collect(),
        (0..n)
            .map(|i| if i % 7 == 0 { -2.0 } else { 1.0 })
            .collect(),
        (0..n).map(|i| f32::from_bits(1 + i as u32 % 50)).collect(),
        (0..n)
            .map(|i| f32::from_bits(0x0080_0000 + i as u32))
            .collect(),
    ];
    let mut specials = rng.normals(n, 1.0);
    specials[n / 3] = f32::NAN;
    specials[n / 2] = f32::INFINITY;
    rows.push(specials);
    let mut nan = rng.normals(n, 1.0);
    nan[1] = f32::NAN;
    rows.push(nan);
    let mut ninf = rng.normals(n, 1.0);
    ninf[5] = f32::NEG_INFINITY;
    rows.push(ninf);
    // Exact ties at half steps of the scale: amax 127 → d = 1, x = k + 0.5.
    rows.push(
        (0..n)
            .map(|i| {
                if i % 32 == 0 {
                    127.0
                } else {
                    (i % 64) as f32 - 31.5
                }
            })
            .collect(),
    );
    rows.push(
        (0..n)
            .map(|i| {
                if i % 256 == 3 {
                    -127.0
                } else {
                    (i % 64) as f32 - 31.5
                }
            })
            .collect(),
    );
    rows
}

#[test]
fn quantizers_byte_identical() {
    let mut rng = Rng::new(16);
    for ty in [GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8K] {
        for nb in [1usize, 2, 3, 5, 9] {
            let n = nb * ty.block_size();
            for x in quantizer_rows(n, &mut rng) {
                let mut want = vec![0u8; row_bytes(ty, n)];
                match ty {
                    GgmlType::Q8_0 => q8_0::quantize(&x, cast_blocks_mut(&mut want)),
                    GgmlType::Q8_1 => q8_1::quantize(&x, cast_blocks_mut(&mut want)),
                    _ => q8_k::quantize(&x, cast_blocks_mut(&mut want)),
                }
                for t in simd_tiers() {
                    let mut got = vec![0xAAu8; want.len()];
                    quantize_row_with(t, ty, &x, &mut got);
                    assert!(got == want, "{ty} n={n} tier {}: {:?}", t.name(), &x[..4]);
                }
                let mut got = vec![0u8; want.len()];
                quantize_row(ty, &x, &mut got);
                assert!(got == want, "{ty} quantize_row n={n}");
            }
        }
    }
}

/// Random bytes for a row of `ty`, with every f16 (the F16 elements, or the block scales
/// and Q4_1/Q5_1 offsets) a finite value: normal, subnormal, zero or of either sign (NaN payloads may legally
/// differ between conversions).
fn random_row(ty: GgmlType, n: usize, rng: &mut Rng) -> Vec<u8> {
    let mut b: Vec<u8> = (0..row_bytes(ty, n))
        .map(|_| rng.next_u64() as u8)
        .collect();
    let finite = |rng: &mut Rng| loop {
        let h = rng.next_u64() as u16;
        if h & 0x7C00 != 0x7C00 {
            return h.to_le_bytes();
        }
    };
    match ty {
        GgmlType::F16 => b
            .chunks_exact_mut(2)
            .for_each(|c| c.copy_from_slice(&finite(rng))),
        GgmlType::Q4_1 | GgmlType::Q5_1 => b.chunks_exact_mut(ty.type_size()).for_each(|c| {
            c[..2].copy_from_slice(&finite(rng));
            c[2..4].copy_from_slice(&finite(rng));
        }),
        _ => b
            .chunks_exact_mut(ty.type_size())
            .for_each(|c| c[..2].copy_from_slice(&finite(rng))),
    }
    b
}

#[test]
fn dequantizers_bit_identical() {
    let mut rng = Rng::new(21);
    let cases = [
        (
            GgmlType::F16,
            vec![0usize, 1, 3, 7, 8, 9, 15, 16, 17, 31, 255, 256, 257, 1001],
        ),
        (GgmlType::Q8_0, block_counts().map(|b| b * 32).collect()),
        (GgmlType::Q4_0, block_counts().map(|b| b * 32).collect()),
        (GgmlType::Q4_1, block_counts().map(|b| b * 32).collect()),
        (GgmlType::Q5_1, block_counts().map(|b| b * 32).collect()),
        (GgmlType::IQ4NL, block_counts().map(|b| b * 32).collect()),
        (GgmlType::IQ4XS, block_counts().map(|b| b * 256).collect()),
    ];
    for (ty, lens) in cases {
        for n in lens {
            for _ in 0..4 {
                let src = random_row(ty, n, &mut rng);
                let mut want = vec![0f32; n];
                match ty {
                    GgmlType::F16 => f16_dequantize_ref(&src, &mut want),
                    GgmlType::Q8_0 => q8_0::dequantize(cast_blocks(&src), &mut want),
                    GgmlType::Q4_0 => q4_0::dequantize(cast_blocks(&src), &mut want),
                    GgmlType::Q4_1 => q4_1::dequantize(cast_blocks(&src), &mut want),
                    GgmlType::IQ4NL => iq4_nl::dequantize(cast_blocks(&src), &mut want),
                    GgmlType::IQ4XS => iq4_xs::dequantize(cast_blocks(&src), &mut want),
                    _ => q5_1::dequantize(cast_blocks(&src), &mut want),
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                for t in simd_tiers() {
                    let mut got = vec![f32::NAN; n];
                    wren_kernels::isa::dequantize_row_with(t, ty, &src, &mut got);
                    assert_eq!(bits(&got), bits(&want), "{ty} n={n} tier {}", t.name());
                }
                let mut got = vec![f32::NAN; n];
                dequantize_row(ty, &src, &mut got);
                assert_eq!(bits(&got), bits(&want), "{ty} dequantize_row n={n}");
            }
        }
    }
}

/// The F16 scalar reference (`formats::f16::dequantize`).
fn f16_dequantize_ref(src: &[u8], out: &mut [f32]) {
    wren_kernels::formats::f16::dequantize(cast_blocks::<F16Le>(src), out);
}
