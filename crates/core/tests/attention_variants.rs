//! Attention over every KV element type and with block-sparse selection, against a plain
//! f64 reference: causal softmax(q·Kᵀ)·V per head, with grouped KV heads and a window.
//! Hermetic (random data, no model).

use wren_core::attention::sparse::SparseParams;
use wren_core::attention::{store_and_attend, AttnScratch, AttnShape};
use wren_core::kv::{KvType, LayerCache};

/// splitmix64 with uniform and Gaussian samples.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
    fn normals(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal() * scale).collect()
    }
}

/// One sequence's projections: q `[len, n_head·hd]` (pre-scaled), k and v `[len, kv_dim]`.
struct Seq {
    sh: AttnShape,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    len: usize,
}

impl Seq {
    fn random(
        rng: &mut Rng,
        len: usize,
        n_head: usize,
        n_head_kv: usize,
        hd: usize,
        w: Option<usize>,
    ) -> Seq {
        // Scores of a few units: attention that is neither uniform nor one-hot.
        let qscale = 1.5 / (hd as f32).sqrt();
        Seq {
            sh: AttnShape {
                n_head,
                n_head_kv,
                head_dim: hd,
                window: w,
            },
            q: rng.normals(len * n_head * hd, qscale),
            k: rng.normals(len * n_head_kv * hd, 1.0),
            v: rng.normals(len * n_head_kv * hd, 1.0),
            len,
        }
    }

    fn qdim(&self) -> usize {
        self.sh.n_head * self.sh.head_dim
    }
    fn kvdim(&self) -> usize {
        self.sh.n_head_kv * self.sh.head_dim
    }

    /// The reference output of every position, f64 arithmetic on the f32 inputs.
    fn reference(&self) -> Vec<f32> {
        let (hd, nh, nkv) = (self.sh.head_dim, self.sh.n_head, self.sh.n_head_kv);
        let (qd, kd) = (self.qdim(), self.kvdim());
        let mut out = vec![0f32; self.len * qd];
        for t in 0..self.len {
            let lo = self.sh.window.map_or(0, |w| (t + 1).saturating_sub(w));
            for h in 0..nh {
                let kvh = h / (nh / nkv);
                let q = &self.q[t * qd + h * hd..][..hd];
                let s: Vec<f64> = (lo..=t)
                    .map(|p| {
                        let k = &self.k[p * kd + kvh * hd..][..hd];
                        q.iter().zip(k).map(|(a, b)| *a as f64 * *b as f64).sum()
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for (i, p) in (lo..=t).enumerate() {
                    let v = &self.v[p * kd + kvh * hd..][..hd];
                    for d in 0..hd {
                        out[t * qd + h * hd + d] += (e[i] / z * v[d] as f64) as f32;
                    }
                }
            }
        }
        out
    }

    /// Wren's output, feeding the sequence in batches of `batch` tokens (1 = decode).
    fn run(&self, ty: KvType, batch: usize, sparse: Option<&SparseParams>, ctx: usize) -> Vec<f32> {
        let (hd, nkv) = (self.sh.head_dim, self.sh.n_head_kv);
        let (qd, kd) = (self.qdim(), self.kvdim());
        let mut cache =
            LayerCache::new(ty, ctx, self.sh.window, nkv, hd, sparse.map(|p| p.block)).unwrap();
        let mut scratch = AttnScratch::default();
        let mut out = vec![0f32; self.len * qd];
        let mut t = 0;
        while t < self.len {
            let e = (t + batch).min(self.len);
            store_and_attend(
                &self.sh,
                t,
                &self.q[t * qd..e * qd],
                &self.k[t * kd..e * kd],
                &self.v[t * kd..e * kd],
                &mut cache,
                sparse,
                &mut out[t * qd..e * qd],
                &mut scratch,
                false,
            );
            t = e;
        }
        out
    }
}

/// `rms(a − b) / rms(b)`.
fn rel_rms(a: &[f32], b: &[f32]) -> f64 {
    let (mut e, mut s) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        e += (*x as f64 - *y as f64).powi(2);
        s += (*y as f64).powi(2);
    }
    (e / s).sqrt()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// f32 KV equals the f64 reference, for prefill batches, decode steps (whose keys are
/// split across tasks), sliding windows (a ring smaller than the sequence) and grouped
/// heads.
#[test]
fn f32_cache_matches_reference() {
    let mut rng = Rng(1);
    let p = pool(4);
    for (len, nh, nkv, hd, w) in [
        (70, 4, 1, 64, None),
        (300, 4, 2, 32, Some(37)),
        (600, 2, 1, 32, Some(200)),
        (1200, 4, 1, 32, None),
    ] {
        let s = Seq::random(&mut rng, len, nh, nkv, hd, w);
        let want = s.reference();
        for batch in [1, 5, 64, 512] {
            let got = p.install(|| s.run(KvType::F32, batch, None, len));
            let d = max_abs(&got, &want);
            assert!(
                d < 2e-5,
                "len {len} window {w:?} batch {batch}: max |Δ| {d}"
            );
        }
    }
}

/// Quantized caches against the f32 cache. Budgets are ~2–3× the error measured on this
/// data (relative RMS f16 3.5e-4, q8_0 8.6e-3, q4_0 0.14, the rounding errors of the
/// formats): a wrong row, head, scale or nibble order gives errors of order 1.
#[test]
fn quantized_caches_stay_close_to_f32() {
    let mut rng = Rng(2);
    let p = pool(2);
    for (len, nh, nkv, hd, w) in [(200, 4, 1, 64, None), (700, 4, 2, 64, Some(300))] {
        let s = Seq::random(&mut rng, len, nh, nkv, hd, w);
        let exact = p.install(|| s.run(KvType::F32, 64, None, len));
        for (ty, budget) in [
            (KvType::F16, 1e-3),
            (KvType::Q8_0, 2e-2),
            (KvType::Q4_0, 0.3),
        ] {
            for batch in [1, 64] {
                let got = p.install(|| s.run(ty, batch, None, len));
                let e = rel_rms(&got, &exact);
                eprintln!("{ty} len {len} batch {batch}: relative RMS {e:.2e}");
                assert!(e < budget, "{ty} len {len} batch {batch}: {e} >= {budget}");
            }
        }
    }
}

/// With a top-k that covers every block, sparse attention is dense attention: same keys,
/// same order, same tiles.
#[test]
fn sparse_with_full_topk_equals_dense() {
    let mut rng = Rng(3);
    let p = pool(3);
    for len in [64, 100, 257, 530] {
        let s = Seq::random(&mut rng, len, 4, 1, 32, None);
        for ty in KvType::ALL {
            let dense = p.install(|| s.run(ty, 16, None, len + 3));
            for block in [16, 24] {
                let sp = SparseParams {
                    block,
                    topk: len / block + 1,
                    sink: 1,
                    window: block,
                    dense_len: 0,
                };
                for batch in [1, 16] {
                    let got = p.install(|| s.run(ty, batch, Some(&sp), len + 3));
                    let d = max_abs(&got, &dense);
                    assert!(d < 1e-5, "{ty} len {len} block {block} batch {batch}: {d}");
                }
            }
        }
    }
}

/// A key planted far back (block 3 of 64-token blocks, 1000 positions before the query) is
/// found by the block selection when top-k may pick a block, and skipped when it may not.
#[test]
fn selection_attends_or_skips_a_far_block() {
    let (len, hd) = (1100usize, 64usize);
    let mut rng = Rng(4);
    let mut s = Seq::random(&mut rng, len, 4, 1, hd, None);
    // Background keys small and random; the needle's key points along the last query's
    // direction, and its value is a marker.
    for x in s.k.iter_mut() {
        *x *= 0.1;
    }
    let needle = 3 * 64 + 10;
    let t = len - 1;
    let qd = s.qdim();
    let dir: Vec<f32> = (0..hd)
        .map(|d| if d % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    for h in 0..4 {
        s.q[t * qd + h * hd..][..hd].copy_from_slice(&dir);
    }
    s.k[needle * hd..][..hd]
        .iter_mut()
        .zip(&dir)
        .for_each(|(k, d)| *k = 4.0 * d);
    s.v[needle * hd..][..hd].fill(10.0);
    let p = pool(2);
    let run = |topk| {
        let sp = SparseParams {
            block: 64,
            topk,
            sink: 1,
            window: 128,
            dense_len: 256,
        };
        let out = p.install(|| s.run(KvType::F16, 64, Some(&sp), len));
        out[t * qd..t * qd + hd].iter().sum::<f32>() / hd as f32
    };
    let dense = s.reference()[t * qd..t * qd + hd].iter().sum::<f32>() / hd as f32;
    let found = run(1);
    let skipped = run(0);
    eprintln!("mean output: dense {dense:.3}, top-1 {found:.3}, top-0 {skipped:.3}");
    assert!(dense > 9.0, "the needle dominates dense attention: {dense}");
    assert!(
        found > 9.0,
        "top-1 selection missed the needle's block: {found}"
    );
    assert!(
        skipped.abs() < 1.0,
        "top-0 selection attended the needle: {skipped}"
    );
}
