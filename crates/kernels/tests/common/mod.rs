//! Helpers shared by the format tests.
#![allow(dead_code)]

use wren_kernels::formats::f16::F16Le;
use wren_kernels::isa::Isa;
use wren_kernels::{quantize_row, vec_dot_type, GgmlType};

/// Round-trip budget: `rms(dequantize(quantize(x)) − x) / rms(x)` must stay below this for
/// every non-zero test row. About 1.3–1.7× the worst row seen on the test data (the
/// outlier row is the worst for the 8-bit formats, whose scale it inflates); a nibble-order
/// or bit-placement bug gives errors near 1.4 (checked by `budgets_catch_swapped_halves`).
pub fn rmse_budget(ty: GgmlType) -> f64 {
    match ty {
        GgmlType::F32 => 0.0,
        GgmlType::F16 => 4e-4,
        GgmlType::BF16 => 3e-3,
        GgmlType::Q8_0 | GgmlType::Q8_1 => 0.017,
        GgmlType::Q8K => 0.035,
        GgmlType::Q6K => 0.04,
        GgmlType::Q5_1 => 0.06,
        GgmlType::Q5K => 0.055,
        GgmlType::Q5_0 => 0.085,
        GgmlType::Q4K => 0.10,
        GgmlType::Q4_0 => 0.12,
        GgmlType::IQ4NL | GgmlType::IQ4XS => 0.12,
        GgmlType::Q4_1 => 0.16,
        GgmlType::Q3K => 0.21,
        GgmlType::Q2K => 0.42,
    }
}

/// Bytes of a row of `n` elements of `ty`.
pub fn row_bytes(ty: GgmlType, n: usize) -> usize {
    ty.row_bytes(n as u64).expect("whole blocks") as usize
}

/// `rms(y − x) / rms(x)` in f64 (0 when both are all zero).
pub fn rel_rmse(x: &[f32], y: &[f32]) -> f64 {
    let (mut e, mut s) = (0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(y) {
        e += (a as f64 - b as f64).powi(2);
        s += (a as f64).powi(2);
    }
    if s == 0.0 {
        if e == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (e / s).sqrt()
    }
}

/// Small deterministic generator (splitmix64) with Gaussian samples.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }

    pub fn normals(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal() * scale).collect()
    }
}

// Random quantized weights and activations (rowwise tests and examples/rowwise_bench.rs).

pub fn scale_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
        GgmlType::Q6K => &[208],
        _ => unreachable!(),
    }
}

/// `rows` random weight rows of `n` with random sane scales (some zero, some negative).
pub fn weights(ty: GgmlType, rows: usize, n: usize, rng: &mut Rng) -> Vec<u8> {
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
pub fn activations(ty: GgmlType, tokens: usize, n: usize, rng: &mut Rng) -> Vec<u8> {
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

/// The SIMD tiers this CPU supports (said once on stderr: `scripts/test_aarch64.sh` checks
/// the line).
pub fn simd_tiers() -> Vec<Isa> {
    static T: std::sync::OnceLock<Vec<Isa>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let t: Vec<Isa> = Isa::all_supported()
            .into_iter()
            .filter(|&t| t != Isa::Scalar)
            .collect();
        eprintln!("SIMD tiers tested: {:?} (detected {:?})", t, Isa::detect());
        t
    })
    .clone()
}

/// Block counts 1..=9 plus longer ragged rows.
pub fn block_counts() -> impl Iterator<Item = usize> {
    (1..=9).chain([17, 31, 40])
}
