//! Every SIMD kernel at every tier this CPU supports against the scalar references:
//! dot products within 1e-5 of Σ|terms| (float order differs; integer parts are exact, so
//! unit-scale adversarial cases must match exactly). The quantizers and dequantizers are
//! `convert_vs_scalar.rs`.

mod common;

use common::{block_counts, row_bytes, simd_tiers, Rng};
use wren_kernels::formats::f16::F16Le;
use wren_kernels::formats::{
    cast_blocks, cast_blocks_mut, iq4_nl, iq4_xs, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0,
    q8_1, q8_k,
};
use wren_kernels::isa::{
    isa, packed_dequantize_row, packed_rows_tokens_with, packed_rows_with,
    vec_dot_rows_tokens_with, vec_dot_rows_with, vec_dot_with, Isa, Packing,
};
use wren_kernels::isa::{
    packed_rows_tokens, packed_rows_tokens_prepared, vec_dot_rows_tokens,
    vec_dot_rows_tokens_prepared, TokenTables,
};
use wren_kernels::{dequantize_row, vec_dot, vec_dot_type, GgmlType};

/// Formats with SIMD kernels.
const FORMATS: [GgmlType; 10] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q4_1,
    GgmlType::Q5_1,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
    GgmlType::IQ4NL,
    GgmlType::IQ4XS,
];

/// The scalar reference `vec_dot` of the format module.
fn scalar_dot(ty: GgmlType, w: &[u8], a: &[u8]) -> f32 {
    match ty {
        GgmlType::Q8_0 => q8_0::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q4_0 => q4_0::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q5_0 => q5_0::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q4_1 => q4_1::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q5_1 => q5_1::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q4K => q4_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q5K => q5_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q6K => q6_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::IQ4NL => iq4_nl::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::IQ4XS => iq4_xs::vec_dot(cast_blocks(w), cast_blocks(a)),
        _ => unreachable!(),
    }
}

/// Byte offsets of the f16 scale fields within one block (Q4_1/Q5_1: `d` and `m`).
fn scale_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => &[0],
        GgmlType::IQ4NL | GgmlType::IQ4XS => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 => &[0, 2],
        GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
        GgmlType::Q6K => &[208],
        _ => unreachable!(),
    }
}

/// `Σ|terms|` of the dot: Σ |w_i·a_i|, with Q4_K/Q5_K's `d·sc·q` and `dmin·m` parts (and
/// Q4_1/Q5_1's `d·q` and `m` parts) counted separately (they can cancel).
fn magnitude(ty: GgmlType, n: usize, w: &[u8], a: &[u8]) -> f64 {
    let deq = |t: GgmlType, b: &[u8]| {
        let mut y = vec![0f32; n];
        dequantize_row(t, b, &mut y);
        y
    };
    let ya = deq(vec_dot_type(ty), a);
    let two_parts = matches!(
        ty,
        GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q4_1 | GgmlType::Q5_1
    );
    let parts: Vec<Vec<u8>> = if two_parts {
        let bs = ty.type_size();
        let zero = |off: usize| {
            let mut c = w.to_vec();
            for b in c.chunks_exact_mut(bs) {
                b[off..off + 2].copy_from_slice(&[0, 0]);
            }
            c
        };
        vec![zero(2), zero(0)]
    } else {
        vec![w.to_vec()]
    };
    parts
        .iter()
        .map(|p| {
            deq(ty, p)
                .iter()
                .zip(&ya)
                .map(|(x, y)| (*x as f64 * *y as f64).abs())
                .sum::<f64>()
        })
        .sum()
}

/// Random weight row: random bytes, scale fields set to `scale()`.
fn weights(
    ty: GgmlType,
    n: usize,
    rng: &mut Rng,
    mut scale: impl FnMut(&mut Rng) -> f32,
) -> Vec<u8> {
    let mut w: Vec<u8> = (0..row_bytes(ty, n))
        .map(|_| rng.next_u64() as u8)
        .collect();
    for b in w.chunks_exact_mut(ty.type_size()) {
        for &off in scale_fields(ty) {
            b[off..off + 2].copy_from_slice(&F16Le::from_f32(scale(rng)).0);
        }
    }
    w
}

/// Activations quantized by the scalar reference quantizer.
fn activations(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    let at = vec_dot_type(ty);
    let mut a = vec![0u8; row_bytes(at, x.len())];
    match at {
        GgmlType::Q8_0 => q8_0::quantize(x, cast_blocks_mut(&mut a)),
        GgmlType::Q8_1 => q8_1::quantize(x, cast_blocks_mut(&mut a)),
        GgmlType::Q8K => q8_k::quantize(x, cast_blocks_mut(&mut a)),
        _ => unreachable!(),
    }
    a
}

/// Q8_1's `s = d·Σq` after its quants were changed (as `q8_1::quantize` computes it).
fn resum_q8_1(b: &mut q8_1::BlockQ8_1) {
    let sum: i32 = b.qs.iter().map(|&q| q as i8 as i32).sum();
    b.s = F16Le::from_f32(sum as f32 * b.d.to_f32());
}

/// Activations with every quant `q` (and consistent Q8_1/Q8_K sums), scale `d`.
fn const_activations(ty: GgmlType, n: usize, q: i8, d: f32) -> Vec<u8> {
    let at = vec_dot_type(ty);
    let mut a = vec![0u8; row_bytes(at, n)];
    match at {
        GgmlType::Q8_0 => {
            for b in cast_blocks_mut::<q8_0::BlockQ8_0>(&mut a) {
                b.d = F16Le::from_f32(d);
                b.qs = [q as u8; 32];
            }
        }
        GgmlType::Q8_1 => {
            for b in cast_blocks_mut::<q8_1::BlockQ8_1>(&mut a) {
                b.d = F16Le::from_f32(d);
                b.qs = [q as u8; 32];
                resum_q8_1(b);
            }
        }
        GgmlType::Q8K => {
            for b in cast_blocks_mut::<q8_k::BlockQ8K>(&mut a) {
                b.d = d.to_le_bytes();
                b.qs = [q as u8; 256];
                b.bsums = [(16 * q as i16).to_le_bytes(); 16];
            }
        }
        _ => unreachable!(),
    }
    a
}

fn check(ty: GgmlType, n: usize, w: &[u8], a: &[u8], exact: bool, what: &str) {
    let want = scalar_dot(ty, w, a);
    let tol = 1e-5 * magnitude(ty, n, w, a);
    for t in simd_tiers() {
        let got = vec_dot_with(t, ty, n, w, a);
        let ok = if exact {
            got == want
        } else {
            (got as f64 - want as f64).abs() <= tol
        };
        assert!(
            ok,
            "{ty} {what} n={n} tier {}: got {got}, scalar {want} (tol {tol:e})",
            t.name()
        );
    }
}

#[test]
fn random_blocks_match_scalar() {
    let mut rng = Rng::new(11);
    for ty in FORMATS {
        for nb in block_counts() {
            let n = nb * ty.block_size();
            for rep in 0..6 {
                let w = weights(ty, n, &mut rng, |r| r.normal() * 0.02);
                let x = rng.normals(n, [1.0, 1e-3, 30.0][rep % 3]);
                let a = activations(ty, &x);
                check(ty, n, &w, &a, false, "random");
            }
        }
    }
}

#[test]
fn adversarial_blocks_exact_with_unit_scales() {
    let mut rng = Rng::new(12);
    for ty in FORMATS {
        for nb in [1usize, 2, 3, 5] {
            let n = nb * ty.block_size();
            let rb = row_bytes(ty, n);
            let mut ws: Vec<(Vec<u8>, &str)> = [0x00u8, 0xFF, 0x80, 0x7F, 0x88, 0x0F, 0xF0]
                .iter()
                .map(|&v| (vec![v; rb], "const bytes"))
                .collect();
            ws.push((weights(ty, n, &mut rng, |_| 1.0), "random"));
            for (w, what) in ws.iter_mut() {
                // Unit scales: every result is an integer far below 2^24, so exact.
                for b in w.chunks_exact_mut(ty.type_size()) {
                    for &off in scale_fields(ty) {
                        b[off..off + 2].copy_from_slice(&F16Le::from_f32(1.0).0);
                    }
                    if matches!(ty, GgmlType::Q4K | GgmlType::Q5K) {
                        b[4..16].fill(0x01); // small sub-block scales and mins
                    }
                    if ty == GgmlType::Q6K {
                        b[192..208].fill(0xFF); // scale −1
                    }
                    if ty == GgmlType::IQ4XS {
                        // Block scales 31 − 32 = −1 (low nibbles 0xF, high bits 01).
                        b[2..4].fill(0x55);
                        b[4..8].fill(0xFF);
                    }
                }
                for q in [127i8, -128, -127, 1, 0] {
                    let a = const_activations(ty, n, q, 1.0);
                    check(ty, n, w, &a, true, &format!("{what} w, a = {q}"));
                }
                // Mixed: random activation quants including −128.
                let mut a = const_activations(ty, n, 0, 1.0);
                randomize_q8(ty, &mut a, &mut rng);
                check(ty, n, w, &a, true, &format!("{what} w, random a with -128"));
            }
        }
    }
}

/// Random activation quants (biased to ±127/−128), keeping the Q8_1/Q8_K sums consistent.
fn randomize_q8(ty: GgmlType, a: &mut [u8], rng: &mut Rng) {
    let q = |rng: &mut Rng| match rng.next_u64() % 4 {
        0 => -128i8,
        1 => 127,
        _ => rng.next_u64() as i8,
    };
    match vec_dot_type(ty) {
        GgmlType::Q8_0 => {
            for b in cast_blocks_mut::<q8_0::BlockQ8_0>(a) {
                b.qs.iter_mut().for_each(|v| *v = q(rng) as u8);
            }
        }
        GgmlType::Q8_1 => {
            for b in cast_blocks_mut::<q8_1::BlockQ8_1>(a) {
                b.qs.iter_mut().for_each(|v| *v = q(rng) as u8);
                resum_q8_1(b);
            }
        }
        _ => {
            for b in cast_blocks_mut::<q8_k::BlockQ8K>(a) {
                b.qs.iter_mut().for_each(|v| *v = q(rng) as u8);
                for g in 0..16 {
                    let s: i32 = b.qs[16 * g..16 * g + 16]
                        .iter()
                        .map(|&v| v as i8 as i32)
                        .sum();
                    b.bsums[g] = (s as i16).to_le_bytes();
                }
            }
        }
    }
}

#[test]
fn extreme_scales() {
    let mut rng = Rng::new(13);
    // f16 max, smallest subnormal, negative, zero.
    let scales = [65504.0f32, 5.96e-8, -65504.0, 0.0, 6.1e-5];
    for ty in FORMATS {
        for nb in [1usize, 2, 3, 4, 7] {
            let n = nb * ty.block_size();
            for &s in &scales {
                let w = weights(ty, n, &mut rng, |_| s);
                let x = rng.normals(n, 1e3);
                let mut a = activations(ty, &x);
                check(ty, n, &w, &a, false, &format!("scale {s}"));
                randomize_q8(ty, &mut a, &mut rng);
                check(ty, n, &w, &a, false, &format!("scale {s}, random a"));
            }
        }
    }
}

#[test]
fn rows_match_scalar() {
    let mut rng = Rng::new(14);
    for ty in FORMATS {
        for nb in [1usize, 2, 3, 5] {
            let n = nb * ty.block_size();
            let rb = row_bytes(ty, n);
            for rows in 0..=9 {
                let w = weights(ty, n * rows.max(1), &mut rng, |r| r.normal() * 0.05);
                let w = &w[..rows * rb];
                let x = rng.normals(n, 1.0);
                let mut a = activations(ty, &x);
                if rows % 3 == 2 {
                    randomize_q8(ty, &mut a, &mut rng); // exercises the exact Q8_0 path
                }
                for t in [Isa::Scalar].into_iter().chain(simd_tiers()) {
                    let mut out = vec![f32::NAN; rows];
                    vec_dot_rows_with(t, ty, n, w, &a, &mut out);
                    for (r, &got) in out.iter().enumerate() {
                        let wr = &w[r * rb..(r + 1) * rb];
                        let want = scalar_dot(ty, wr, &a);
                        let tol = 1e-5 * magnitude(ty, n, wr, &a);
                        assert!(
                            (got as f64 - want as f64).abs() <= tol,
                            "{ty} rows={rows} r={r} n={n} tier {}: {got} vs {want}",
                            t.name()
                        );
                    }
                }
            }
        }
    }
}

/// Several rows × several tokens (the multi-token kernels, groups of 8 plus ragged
/// remainders, and the per-row fallback) against the scalar dot of every pair; the output
/// has a stride wider than the rows and the padding must stay untouched.
#[test]
fn tokens_match_scalar() {
    let mut rng = Rng::new(16);
    for ty in FORMATS {
        for nb in [1usize, 3, 8, 20] {
            let n = nb * ty.block_size();
            let rb = row_bytes(ty, n);
            let ab = row_bytes(vec_dot_type(ty), n);
            for (rows, tokens) in [
                (1, 2),
                (5, 3),
                (17, 8),
                (16, 9),
                (33, 11),
                (3, 16),
                (7, 1),
                (64, 3),
            ] {
                let w = weights(ty, n * rows, &mut rng, |r| r.normal() * 0.05);
                let mut a = Vec::new();
                for t in 0..tokens {
                    let x = rng.normals(n, 1.0 + t as f32);
                    let mut at = activations(ty, &x);
                    if ty == GgmlType::Q8_0 && rows == 33 && t == 5 {
                        randomize_q8(ty, &mut at, &mut rng); // a -128: the exact fallback
                    }
                    if vec_dot_type(ty) == GgmlType::Q8_1 && t % 3 == 1 {
                        randomize_q8(ty, &mut at, &mut rng); // -128s: still the fast kernels
                    }
                    a.extend(at);
                }
                let ld = rows + 3;
                for t in [Isa::Scalar].into_iter().chain(simd_tiers()) {
                    let mut out = vec![f32::NAN; tokens * ld];
                    vec_dot_rows_tokens_with(t, ty, n, &w, &a, tokens, &mut out, ld);
                    for (i, ai) in a.chunks_exact(ab).enumerate() {
                        for r in 0..ld {
                            let got = out[i * ld + r];
                            if r >= rows {
                                assert!(got.is_nan(), "{ty}: padding written at t={i} r={r}");
                                continue;
                            }
                            let wr = &w[r * rb..(r + 1) * rb];
                            let want = scalar_dot(ty, wr, ai);
                            let tol = 1e-5 * magnitude(ty, n, wr, ai);
                            assert!(
                                (got as f64 - want as f64).abs() <= tol,
                                "{ty} rows={rows} tokens={tokens} t={i} r={r} n={n} tier {}: \
                                 {got} vs {want} (tol {tol:e})",
                                t.name()
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Q4_1/Q5_1 (Q8_1 activations) with every token count 1..=16 at SmolLM2-135M's shapes
/// (576 and 1536 columns), every tier: one and two token groups of every width, `-128`
/// activation quants in every other token, weights with non-zero offsets.
#[test]
fn q8_1_formats_every_token_count() {
    let mut rng = Rng::new(43);
    for ty in [GgmlType::Q4_1, GgmlType::Q5_1] {
        for (n, rows) in [(576usize, 13usize), (1536, 6)] {
            let rb = row_bytes(ty, n);
            let ab = row_bytes(vec_dot_type(ty), n);
            let w = weights(ty, n * rows, &mut rng, |r| r.normal() * 0.05);
            let mut a = Vec::new();
            for t in 0..16 {
                let mut at = activations(ty, &rng.normals(n, 1.0 + t as f32));
                if t % 2 == 1 {
                    randomize_q8(ty, &mut at, &mut rng);
                }
                a.extend(at);
            }
            for tokens in 1..=16 {
                let a = &a[..tokens * ab];
                for t in [Isa::Scalar].into_iter().chain(simd_tiers()) {
                    let mut out = vec![f32::NAN; tokens * rows];
                    vec_dot_rows_tokens_with(t, ty, n, &w, a, tokens, &mut out, rows);
                    for (i, ai) in a.chunks_exact(ab).enumerate() {
                        for r in 0..rows {
                            let wr = &w[r * rb..(r + 1) * rb];
                            let (got, want) = (out[i * rows + r], scalar_dot(ty, wr, ai));
                            let tol = 1e-5 * magnitude(ty, n, wr, ai);
                            assert!(
                                (got as f64 - want as f64).abs() <= tol,
                                "{ty} n={n} tokens={tokens} t={i} r={r} tier {}: {got} vs {want}",
                                t.name()
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Activation tables prepared once and shared by row chunks (as a matrix product's tasks
/// share them) give exactly what each chunk computes with its own tables, for the packed
/// and the stock multi-token formats, with one token group and with two.
#[test]
fn prepared_tables_match_per_call_tables() {
    let mut rng = Rng::new(29);
    let (n, rows) = (256usize, 45usize);
    let cases = [
        (GgmlType::Q8_0, Packing::for_matrix(GgmlType::Q8_0, n)),
        (GgmlType::Q5_0, Packing::for_matrix(GgmlType::Q5_0, n)),
        (GgmlType::Q8_0, None),
        (GgmlType::Q4_0, None),
        (GgmlType::Q5_0, None),
        (GgmlType::Q4_1, None),
        (GgmlType::Q5_1, None),
        (GgmlType::Q4K, None),
    ];
    for (ty, packing) in cases {
        let w = weights(ty, n * rows, &mut rng, |r| r.normal() * 0.05);
        let w = match packing {
            Some(p) => {
                let mut packed = vec![0u8; w.len()];
                p.repack(n, &w, &mut packed);
                packed
            }
            None => w,
        };
        let rb = row_bytes(ty, n);
        for tokens in [3usize, 8, 11] {
            let a: Vec<u8> = (0..tokens)
                .flat_map(|t| activations(ty, &rng.normals(n, 1.0 + t as f32)))
                .collect();
            let run = |w: &[u8], out: &mut [f32], ld: usize, tb: Option<&TokenTables>| match (
                packing, tb,
            ) {
                (Some(p), Some(tb)) => {
                    packed_rows_tokens_prepared(p, n, w, &a, tokens, out, ld, tb)
                }
                (Some(p), None) => packed_rows_tokens(p, n, w, &a, tokens, out, ld),
                (None, Some(tb)) => vec_dot_rows_tokens_prepared(ty, n, w, &a, tokens, out, ld, tb),
                (None, None) => vec_dot_rows_tokens(ty, n, w, &a, tokens, out, ld),
            };
            let mut want = vec![0f32; tokens * rows];
            run(&w, &mut want, rows, None);
            let mut tb = TokenTables::new();
            tb.prepare(ty, packing, n, &a, tokens);
            let mut got = vec![f32::NAN; tokens * rows];
            for (r0, r1) in [(0usize, 13usize), (13, 40), (40, rows)] {
                let mut part = vec![0f32; tokens * (r1 - r0)];
                run(&w[r0 * rb..r1 * rb], &mut part, r1 - r0, Some(&tb));
                for t in 0..tokens {
                    got[t * rows + r0..t * rows + r1]
                        .copy_from_slice(&part[t * (r1 - r0)..(t + 1) * (r1 - r0)]);
                }
            }
            assert_eq!(got, want, "{ty} {packing:?} tokens={tokens}");
        }
    }
}

/// Tables prepared for one product are refused by another (wrong numbers otherwise).
#[test]
#[should_panic(expected = "prepared for another product")]
fn tables_of_another_product_are_refused() {
    let mut rng = Rng::new(31);
    let n = 128;
    let w = weights(GgmlType::Q5_0, n * 4, &mut rng, |r| r.normal() * 0.05);
    let a: Vec<u8> = (0..3)
        .flat_map(|_| activations(GgmlType::Q5_0, &rng.normals(n, 1.0)))
        .collect();
    let mut tb = TokenTables::new();
    let ab = row_bytes(GgmlType::Q8_0, n);
    tb.prepare(GgmlType::Q5_0, None, n, &a[..2 * ab], 2);
    let mut out = vec![0f32; 3 * 4];
    vec_dot_rows_tokens_prepared(GgmlType::Q5_0, n, &w, &a, 3, &mut out, 4, &tb);
}

/// The load-time packings (Q5_0×4, Q8_0×4) at every tier, one token and several, against
/// the stock format's scalar reference: random and adversarial (±127/−128) activations,
/// ragged row, column (Q8_0×4 tails) and token counts, extreme scales.
#[test]
fn packed_matches_scalar() {
    let mut rng = Rng::new(17);
    for (ty, p) in [
        (GgmlType::Q5_0, Packing::Q5_0x4),
        (GgmlType::Q8_0, Packing::Q8_0x4),
    ] {
        // Q8_0×4 rows may end in a tail group of 1–3 blocks (SmolLM2's 576 columns: 4½).
        let cols: &[usize] = match p {
            Packing::Q5_0x4 => &[128, 256, 640, 1152],
            Packing::Q8_0x4 => &[32, 96, 128, 256, 576, 640, 1120, 1152],
        };
        for &n in cols {
            let (rb, ab) = (row_bytes(ty, n), row_bytes(GgmlType::Q8_0, n));
            for (rows, tokens) in [
                (1, 1),
                (7, 1),
                (33, 2),
                (5, 3),
                (17, 8),
                (16, 9),
                (37, 9),
                (3, 17),
            ] {
                let big = rows == 7;
                let w = weights(ty, n * rows, &mut rng, |r| {
                    if big {
                        65504.0 * (r.normal().signum())
                    } else {
                        r.normal() * 0.05
                    }
                });
                let mut packed = vec![0u8; w.len()];
                p.repack(n, &w, &mut packed);
                let mut a = Vec::new();
                for t in 0..tokens {
                    let mut at = activations(ty, &rng.normals(n, 1.0 + t as f32));
                    if t % 2 == 1 && (rows == 5 || rows == 3 || ty == GgmlType::Q5_0) {
                        randomize_q8(ty, &mut at, &mut rng);
                    }
                    a.extend(at);
                }
                // Dequantization is exact and identical to the stock format's.
                let (mut d0, mut d1) = (vec![0f32; n], vec![0f32; n]);
                dequantize_row(ty, &w[..rb], &mut d0);
                packed_dequantize_row(p, &packed[..rb], &mut d1);
                assert_eq!(d0, d1);
                let ld = rows + 2;
                for t in [Isa::Scalar].into_iter().chain(simd_tiers()) {
                    let mut out = vec![f32::NAN; tokens * ld];
                    if tokens == 1 {
                        packed_rows_with(t, p, n, &packed, &a, &mut out[..rows]);
                    } else {
                        packed_rows_tokens_with(t, p, n, &packed, &a, tokens, &mut out, ld);
                    }
                    for (i, ai) in a.chunks_exact(ab).enumerate() {
                        for r in 0..ld {
                            let got = out[i * ld + r];
                            if r >= rows {
                                assert!(got.is_nan(), "padding written at t={i} r={r}");
                                continue;
                            }
                            let wr = &w[r * rb..(r + 1) * rb];
                            let want = scalar_dot(ty, wr, ai);
                            let tol = 1e-5 * magnitude(ty, n, wr, ai);
                            assert!(
                                (got as f64 - want as f64).abs() <= tol,
                                "{} rows={rows} tokens={tokens} t={i} r={r} n={n} tier {}: \
                             {got} vs {want} (tol {tol:e})",
                                p.name(),
                                t.name()
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn public_vec_dot_uses_the_process_tier() {
    let mut rng = Rng::new(15);
    for ty in FORMATS {
        let n = 3 * ty.block_size();
        let w = weights(ty, n, &mut rng, |r| r.normal());
        let a = activations(ty, &rng.normals(n, 1.0));
        assert_eq!(
            vec_dot(ty, n, &w, &a),
            vec_dot_with(isa(), ty, n, &w, &a),
            "{ty}"
        );
    }
}

#[test]
#[should_panic(expected = "vec_dot_rows")]
fn rows_reject_short_weights() {
    let n = 64;
    let w = vec![0u8; row_bytes(GgmlType::Q8_0, n) * 2 - 1];
    let a = vec![0u8; row_bytes(GgmlType::Q8_0, n)];
    let mut out = [0f32; 2];
    wren_kernels::isa::vec_dot_rows(GgmlType::Q8_0, n, &w, &a, &mut out);
}
