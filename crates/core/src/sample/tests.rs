//! Behavioural tests of the sampling pipeline.

use super::*;
use logprobs::best_first;

/// Deterministic pseudo-random logits in roughly [-8, 8).
fn random_logits(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| (r.next_f64() * 16.0 - 8.0) as f32).collect()
}

fn random_params(seed: u64) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        seed,
        ..SamplingParams::default()
    }
}

fn draws(params: SamplingParams, logits: &[f32], n: usize) -> Vec<u32> {
    let mut s = Sampler::new(params, logits.len());
    (0..n).map(|_| s.sample(logits, &[])).collect()
}

#[test]
fn exp_det_matches_std() {
    for i in -7000..=7000 {
        let x = i as f64 * 0.1;
        let (a, b) = (exp_det(x), x.exp());
        assert!(((a - b) / b).abs() < 1e-14, "exp({x}): {a} vs {b}");
    }
    assert_eq!(exp_det(0.0), 1.0);
    assert_eq!(exp_det(f64::NAN), 0.0);
    assert_eq!(exp_det(-1000.0), 0.0);
}

#[test]
fn greedy_is_argmax() {
    for seed in 0..20 {
        let logits = random_logits(1000, seed);
        let mut s = Sampler::new(SamplingParams::default(), logits.len());
        assert_eq!(s.sample(&logits, &[]), argmax(&logits));
    }
    // Ties resolve to the first maximum, like `argmax`.
    let mut s = Sampler::new(SamplingParams::default(), 4);
    assert_eq!(s.sample(&[0.0, 2.0, 2.0, f32::NAN], &[]), 1);
}

#[test]
fn tiny_temperature_equals_greedy() {
    let logits = [0.5f32, 1.0, 2.0, 1.999, -3.0];
    let params = SamplingParams {
        temperature: 1e-4,
        ..random_params(3)
    };
    assert!(draws(params, &logits, 500).iter().all(|&t| t == 2));
}

#[test]
fn top_k_one_is_argmax() {
    let logits = random_logits(5000, 9);
    let params = SamplingParams {
        temperature: 1.5,
        top_k: 1,
        ..random_params(11)
    };
    let best = argmax(&logits);
    assert!(draws(params, &logits, 200).iter().all(|&t| t == best));
}

#[test]
fn top_k_restricts_support() {
    let logits = [3.0f32, 2.9, 2.8, 2.7, 2.6, 2.5];
    let params = SamplingParams {
        top_k: 3,
        ..random_params(5)
    };
    let d = draws(params, &logits, 3000);
    assert!(d.iter().all(|&t| t < 3));
    assert!((0..3).all(|t| d.contains(&t)));
}

#[test]
fn small_top_p_is_argmax() {
    let logits = random_logits(5000, 13);
    let params = SamplingParams {
        top_p: 1e-6,
        ..random_params(1)
    };
    let best = argmax(&logits);
    assert!(draws(params, &logits, 200).iter().all(|&t| t == best));
}

#[test]
fn top_p_keeps_smallest_prefix_reaching_mass() {
    // Probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps {0, 1}.
    let logits: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
    let params = SamplingParams {
        top_p: 0.75,
        ..random_params(2)
    };
    let d = draws(params, &logits, 4000);
    assert!(d.iter().all(|&t| t < 2));
    let f0 = d.iter().filter(|&&t| t == 0).count() as f64 / d.len() as f64;
    assert!((f0 - 0.625).abs() < 0.03, "{f0}");
}

#[test]
fn min_p_filters_relative_to_max() {
    // Relative probabilities 1, 0.6, 0.4, 0.1: min_p 0.5 keeps {0, 1}.
    let logits: Vec<f32> = [1.0f32, 0.6, 0.4, 0.1].iter().map(|p| p.ln()).collect();
    let params = SamplingParams {
        min_p: 0.5,
        ..random_params(4)
    };
    let d = draws(params, &logits, 4000);
    assert!(d.iter().all(|&t| t < 2), "min_p let a low token through");
    let f0 = d.iter().filter(|&&t| t == 0).count() as f64 / d.len() as f64;
    assert!((f0 - 1.0 / 1.6).abs() < 0.03, "{f0}");
}

#[test]
fn penalties_steer_sampling() {
    let logits = [2.0f32, 1.9, -5.0];
    let params = SamplingParams {
        repeat_penalty: 1.5,
        ..SamplingParams::default()
    };
    let mut s = Sampler::new(params, 3);
    assert_eq!(s.sample(&logits, &[]), 0);
    assert_eq!(s.sample(&logits, &[0]), 1); // 2.0 / 1.5 < 1.9
    let presence = SamplingParams {
        presence_penalty: 0.05,
        frequency_penalty: 0.1,
        ..SamplingParams::default()
    };
    let mut s = Sampler::new(presence, 3);
    assert_eq!(s.sample(&logits, &[0]), 1); // 2.0 - 0.15 < 1.9
    assert_eq!(s.sample(&logits, &[0, 1, 1]), 0); // 1.9 - 0.25 < 1.85
}

#[test]
fn same_seed_same_sequence_different_seed_differs() {
    let logits = random_logits(1000, 21);
    let params = SamplingParams {
        temperature: 2.0,
        ..random_params(1234)
    };
    let a = draws(params.clone(), &logits, 300);
    let b = draws(params.clone(), &logits, 300);
    assert_eq!(a, b);
    let c = draws(
        SamplingParams {
            seed: 1235,
            ..params.clone()
        },
        &logits,
        300,
    );
    assert_ne!(a, c);
    let same_positions = a.iter().zip(&c).filter(|(x, y)| x == y).count();
    assert!(
        same_positions < 150,
        "seeds barely matter: {same_positions}"
    );
    // reseed restarts the stream.
    let mut s = Sampler::new(params, logits.len());
    let first: Vec<u32> = (0..50).map(|_| s.sample(&logits, &[])).collect();
    s.reseed(1234);
    let again: Vec<u32> = (0..50).map(|_| s.sample(&logits, &[])).collect();
    assert_eq!(first, again);
}

/// Pins the token stream for a fixed seed: changing the PRNG, the exp or the
/// pipeline order silently changes every seeded generation, so make it loud.
#[test]
fn seeded_stream_is_pinned() {
    // Exactly representable logits (no libm involved).
    let logits: Vec<f32> = (0..16)
        .map(|i| ((i * 7) % 16) as f32 * 0.25 - 2.0)
        .collect();
    let params = SamplingParams {
        temperature: 1.0,
        top_k: 8,
        top_p: 0.9,
        min_p: 0.02,
        seed: 42,
        ..SamplingParams::default()
    };
    let got = draws(params, &logits, 12);
    assert_eq!(got, PINNED, "seeded stream changed");
}
const PINNED: [u32; 12] = [9, 2, 4, 6, 15, 13, 4, 13, 4, 11, 4, 2];

#[test]
fn empirical_distribution_matches_softmax() {
    let logits = [1.0f32, 0.0, -1.0, 2.0, 0.5];
    for (temperature, seed) in [(1.0f32, 77u64), (2.0, 78)] {
        let params = SamplingParams {
            temperature,
            ..random_params(seed)
        };
        let n = 20_000;
        let mut counts = [0usize; 5];
        for t in draws(params, &logits, n) {
            counts[t as usize] += 1;
        }
        let z: f64 = logits
            .iter()
            .map(|&l| (l as f64 / temperature as f64).exp())
            .sum();
        for (i, &l) in logits.iter().enumerate() {
            let p = (l as f64 / temperature as f64).exp() / z;
            let f = counts[i] as f64 / n as f64;
            // 5 standard deviations of a binomial proportion.
            let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            assert!((f - p).abs() < tol, "T={temperature} token {i}: {f} vs {p}");
        }
    }
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let mut s = Sampler::new(random_params(0), 0);
    assert_eq!(s.sample(&[], &[]), 0);
    assert_eq!(s.sample(&[f32::NAN, f32::NAN], &[5, 7]), 0);
    assert_eq!(s.sample(&[0.0, f32::INFINITY, 1.0], &[]), 1);
    assert_eq!(
        s.sample(&[f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0], &[]),
        2
    );
    let mut k_big = Sampler::new(
        SamplingParams {
            top_k: 100,
            ..random_params(0)
        },
        3,
    );
    assert!(k_big.sample(&[0.0, 1.0, 2.0], &[]) < 3);
    // 1/T overflows to infinity: behaves as greedy, even without top-k.
    let tiny = SamplingParams {
        temperature: 1e-45,
        ..random_params(0)
    };
    assert_eq!(draws(tiny, &[0.0, 1.0, 3.0, 2.0], 20), [2; 20]);
}

#[test]
fn streaming_top_k_matches_naive_selection() {
    let params = SamplingParams {
        repeat_penalty: 1.3,
        presence_penalty: 0.4,
        frequency_penalty: 0.2,
        repeat_last_n: 50,
        ..SamplingParams::default()
    };
    for seed in 0..30u64 {
        // Quantized logits: many ties, plus NaNs.
        let mut logits: Vec<f32> = random_logits(3000, seed)
            .iter()
            .map(|v| v.round())
            .collect();
        logits[seed as usize * 7] = f32::NAN;
        let history: Vec<u32> = random_logits(80, seed + 100)
            .iter()
            .map(|v| ((v + 8.0) * 200.0) as u32 % 3100)
            .collect();
        let mut penalized = logits.clone();
        apply_penalties(&mut penalized, &history, &params);
        let mut naive: Vec<(u32, f32)> = penalized
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u32, if v.is_nan() { f32::NEG_INFINITY } else { v }))
            .collect();
        naive.sort_by(best_first);
        let (mut window, mut ov, mut got) = (Vec::new(), Vec::new(), Vec::new());
        penalty_overrides(&logits, &history, &params, &mut window, &mut ov);
        for k in [1, 5, 40, 600, 2999] {
            top_k_into(&logits, &ov, k, &mut got);
            got.sort_by(best_first);
            assert_eq!(got, naive[..k], "seed {seed} k {k}");
        }
    }
}

#[test]
fn scratch_buffers_are_reused() {
    let logits = random_logits(50_000, 3);
    let history: Vec<u32> = (0..200).collect();
    for top_k in [0, 40] {
        let params = SamplingParams {
            top_k,
            repeat_penalty: 1.1,
            ..SamplingParams::llama_cpp(5)
        };
        let mut s = Sampler::new(params, logits.len());
        s.sample(&logits, &history);
        let ptrs = (s.cands.as_ptr(), s.window.as_ptr(), s.overrides.as_ptr());
        for _ in 0..20 {
            s.sample(&logits, &history);
        }
        assert_eq!(
            ptrs,
            (s.cands.as_ptr(), s.window.as_ptr(), s.overrides.as_ptr())
        );
    }
}
