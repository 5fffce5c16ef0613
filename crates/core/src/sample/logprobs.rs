//! Log-probabilities and argmax over raw logits (for greedy decoding, the
//! OpenAI `logprobs` option and `wren logits`).
//!
//! NaN logits are treated as impossible tokens (probability 0) everywhere.

use std::cmp::Ordering;

/// Orders `(id, value)` pairs best first: higher value, then lower id.
/// Values must not be NaN.
pub(crate) fn best_first(a: &(u32, f32), b: &(u32, f32)) -> Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// Index of the largest logit; the first one on ties. NaNs are skipped; if
/// `logits` is empty or all NaN, returns 0.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NAN;
    for (i, &v) in logits.iter().enumerate() {
        if !v.is_nan() && (best_v.is_nan() || v > best_v) {
            best = i;
            best_v = v;
        }
    }
    best as u32
}

/// `log(sum(exp(logits)))`, computed stably in f64, NaNs skipped.
/// `-inf` when there is no finite-or-infinite non-NaN logit.
pub fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits
        .iter()
        .filter(|v| !v.is_nan())
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = logits
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| (v as f64 - max).exp())
        .sum();
    max + sum.ln()
}

/// Log-softmax probability of token `id`: `logits[id] - logsumexp(logits)`.
/// Returns `-inf` for an out-of-range id or a NaN logit.
pub fn log_softmax_of(logits: &[f32], id: u32) -> f32 {
    match logits.get(id as usize) {
        Some(&v) if !v.is_nan() => (v as f64 - log_sum_exp(logits)) as f32,
        _ => f32::NEG_INFINITY,
    }
}

/// The `k` most likely tokens with their log-softmax probabilities, best
/// first (ties: lower id first). Returns fewer than `k` entries when the
/// vocabulary (minus NaN logits) is smaller.
pub fn top_logprobs(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut cands: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, &v)| (i as u32, v))
        .collect();
    let k = k.min(cands.len());
    if k == 0 {
        return Vec::new();
    }
    if k < cands.len() {
        cands.select_nth_unstable_by(k - 1, best_first);
        cands.truncate(k);
    }
    cands.sort_unstable_by(best_first);
    let lse = log_sum_exp(logits);
    for c in &mut cands {
        c.1 = (c.1 as f64 - lse) as f32;
    }
    cands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_first_max_and_nan_safe() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, -1.0, f32::NAN, 0.5]), 3);
        assert_eq!(argmax(&[f32::NAN, f32::NAN]), 0);
        assert_eq!(argmax(&[]), 0);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    }

    #[test]
    fn logprobs_match_softmax() {
        let logits = [1.0f32, 2.0, 0.5, 2.0, -1.0];
        let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
        for (i, &l) in logits.iter().enumerate() {
            let want = ((l as f64).exp() / z).ln() as f32;
            assert!((log_softmax_of(&logits, i as u32) - want).abs() < 1e-6);
        }
        assert_eq!(log_softmax_of(&logits, 99), f32::NEG_INFINITY);
        let top = top_logprobs(&logits, 3);
        let ids: Vec<u32> = top.iter().map(|t| t.0).collect();
        assert_eq!(ids, [1, 3, 0]);
        assert!((top[0].1 - log_softmax_of(&logits, 1)).abs() < 1e-7);
        let all = top_logprobs(&logits, 100);
        assert_eq!(all.len(), 5);
        let total: f64 = all.iter().map(|t| (t.1 as f64).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert!(top_logprobs(&logits, 0).is_empty());
    }
}
