//! Token sampling: turning a logits vector into the next token id.
//!
//! [`Sampler`] applies, in llama.cpp's order: penalties (repetition,
//! presence, frequency) → argmax if greedy → top-k → temperature → softmax →
//! top-p → min-p → a draw from the seeded PRNG ([`rng::Rng`]).
//!
//! Before all of that, [`Sampler::mask_logits`] adds the logit bias and, when the
//! sampler owns a grammar [`Constraint`], sets the tokens the grammar forbids to
//! `-inf`; after the pick the constraint advances past the chosen token. So every
//! loop that samples through a [`Sampler`] is constrained without knowing it.
//!
//! Reproducibility: for the same [`SamplingParams`] (seed included), the
//! same history and bit-identical logits, the drawn tokens are identical on
//! every run and platform. The PRNG is integer-only and the softmax uses
//! [`exp_det`], an `exp` built from plain IEEE-754 `+`/`*` (Rust never fuses
//! them), so no platform `libm` is involved.

pub mod logprobs;
pub mod params;
pub mod penalties;
pub mod rng;

pub use logprobs::{argmax, log_softmax_of, log_sum_exp, top_logprobs};
pub use params::SamplingParams;
pub use penalties::{apply_penalties, penalty_overrides};
pub use rng::Rng;

use logprobs::best_first;

use crate::constrain::Constraint;

/// Candidates kept before the first compaction of the streaming top-k.
const TOPK_SLACK: usize = 512;

/// A stateful sampler: parameters, the PRNG stream and reusable scratch
/// buffers, so that [`Sampler::sample`] does not allocate after its first
/// call (for a given vocabulary size and window).
#[derive(Clone, Debug)]
pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
    /// `(token id, logit or weight)` candidates, reused between calls.
    cands: Vec<(u32, f32)>,
    /// Sorted copy of the penalty window, reused between calls.
    window: Vec<u32>,
    /// `(id, penalized logit)` overrides, sorted by id, reused.
    overrides: Vec<(u32, f32)>,
    /// The grammar the output must match, if any.
    constraint: Option<Box<Constraint>>,
    /// Logits with bias and mask applied (only used when there are some).
    masked: Vec<f32>,
}

impl Sampler {
    /// Creates a sampler; `vocab_size` only pre-sizes the scratch buffers
    /// (the logits passed to [`sample`](Self::sample) define the vocabulary).
    /// Call [`SamplingParams::validate`] first: invalid parameters do not
    /// panic but give unspecified (still deterministic) results.
    pub fn new(params: SamplingParams, vocab_size: usize) -> Sampler {
        let window = params.repeat_last_n.min(1 << 16);
        Sampler {
            rng: Rng::new(params.seed),
            cands: Vec::with_capacity(vocab_size),
            window: Vec::with_capacity(window),
            overrides: Vec::with_capacity(window),
            params,
            constraint: None,
            masked: Vec::new(),
        }
    }

    /// The same sampler, constrained by `c` from its next pick on.
    pub fn with_constraint(mut self, c: Constraint) -> Sampler {
        self.constraint = Some(Box::new(c));
        self
    }

    /// Replaces the constraint (a fresh one per reply in a conversation; `None` lifts it).
    pub fn set_constraint(&mut self, c: Option<Constraint>) {
        self.constraint = c.map(Box::new);
    }

    /// The grammar constraint, if any (its error, statistics, rollback).
    pub fn constraint(&self) -> Option<&Constraint> {
        self.constraint.as_deref()
    }

    pub fn constraint_mut(&mut self) -> Option<&mut Constraint> {
        self.constraint.as_deref_mut()
    }

    /// Whether [`mask_logits`](Self::mask_logits) changes anything.
    pub fn shapes_logits(&self) -> bool {
        self.constraint.is_some() || !self.params.logit_bias.is_empty()
    }

    /// Applies the logit bias and the grammar mask for the next position to
    /// `logits` in place (what [`sample`](Self::sample) does before picking; public
    /// for samplers that pick differently, e.g. speculative verification). Does not
    /// advance the constraint: call [`commit`](Self::commit) with the token picked.
    pub fn mask_logits(&mut self, logits: &mut [f32]) {
        for &(id, b) in &self.params.logit_bias {
            if let Some(v) = logits.get_mut(id as usize) {
                *v = if b <= -100.0 {
                    f32::NEG_INFINITY
                } else {
                    *v + b
                };
            }
        }
        if let Some(c) = &mut self.constraint {
            c.mask_logits(logits);
        }
    }

    /// Advances the constraint (if any) past `token`, the token picked after
    /// [`mask_logits`](Self::mask_logits).
    pub fn commit(&mut self, token: u32) {
        if let Some(c) = &mut self.constraint {
            c.commit(token);
        }
    }

    /// The parameters this sampler was created with.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Restarts the PRNG stream from `seed` (also stored in the params).
    pub fn reseed(&mut self, seed: u64) {
        self.params.seed = seed;
        self.rng = Rng::new(seed);
    }

    /// Picks the next token. `history` is the prompt plus the tokens
    /// generated so far; the penalties use its last `repeat_last_n` ids.
    /// NaN logits are treated as impossible tokens. Returns 0 for empty
    /// logits. The PRNG advances only on non-greedy draws.
    ///
    /// Cost: with top-k (or greedy) one streaming pass over `logits`
    /// (≈0.2 ms for 262k entries); without top-k a full copy plus an `exp`
    /// per token, and with top-p a partial sort of the best tokens.
    ///
    /// With a logit bias or a constraint, the logits are first copied and shaped by
    /// [`mask_logits`](Self::mask_logits), and the constraint then advances past the
    /// pick. A constraint that is complete (or failed) leaves only end-of-generation
    /// tokens, so generation loops stop on their own.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        if !self.shapes_logits() {
            return self.pick(logits, history);
        }
        let mut buf = std::mem::take(&mut self.masked);
        buf.clear();
        buf.extend_from_slice(logits);
        self.mask_logits(&mut buf);
        let t = self.pick(&buf, history);
        self.masked = buf;
        self.commit(t);
        t
    }

    /// [`sample`](Self::sample) without bias, mask or commit.
    fn pick(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        if logits.is_empty() {
            return 0;
        }
        let p = &self.params;
        let ov = &mut self.overrides;
        penalty_overrides(logits, history, p, &mut self.window, ov);
        if p.is_greedy() && ov.is_empty() {
            return argmax(logits);
        }
        let cands = &mut self.cands;
        let k = if p.is_greedy() { 1 } else { p.top_k };
        if k > 0 && k < logits.len() {
            top_k_into(logits, ov, k, cands);
            cands.sort_unstable_by(best_first);
        } else {
            cands.clear();
            cands.extend(logits.iter().enumerate().map(|(i, &v)| (i as u32, v)));
            for &(id, v) in ov.iter() {
                cands[id as usize].1 = v;
            }
            for c in cands.iter_mut().filter(|c| c.1.is_nan()) {
                c.1 = f32::NEG_INFINITY;
            }
        }
        // From here on `cands` is in a canonical order (best first, or by
        // id), independent of how std's selection algorithms reorder data.
        let max = cands.iter().fold(f32::NEG_INFINITY, |m, c| m.max(c.1));
        let inv_t = 1.0 / p.temperature as f64;
        if p.is_greedy() || !max.is_finite() || !inv_t.is_finite() {
            // Greedy, all impossible, a +inf logit, or a temperature so
            // small that 1/T overflows: take the first max.
            return first_max(cands);
        }

        // Temperature + softmax: weight = exp((l - max) / T), max weight 1.
        let mut total = 0.0f64;
        for c in cands.iter_mut() {
            c.1 = exp_det((c.1 as f64 - max as f64) * inv_t) as f32;
            total += c.1 as f64;
        }

        // min-p keeps the tokens with p >= min_p * p_max, i.e. w >= min_p.
        // It removes a suffix of the best-first order, so applying it before
        // top-p (whose mass is measured against the whole top-k set through
        // `total`) gives the same result as applying it after.
        if p.min_p > 0.0 {
            let min_p = p.min_p;
            cands.retain(|c| c.1 >= min_p);
        }
        if p.top_p < 1.0 {
            top_p_truncate(cands, p.top_p as f64 * total);
        }

        // Draw proportionally to the remaining weights.
        let kept: f64 = cands.iter().map(|c| c.1 as f64).sum();
        let u = self.rng.next_f64() * kept;
        let mut cum = 0.0f64;
        for c in cands.iter() {
            cum += c.1 as f64;
            if cum > u {
                return c.0;
            }
        }
        cands[0].0
    }
}

/// Logits [`top_k_into`] skips at once when none is above its threshold.
const BLOCK: usize = 16;

/// Whether a logit of `block` is above `thresh` (a NaN is not): one vectorized pass.
fn any_above(block: &[f32], thresh: f32) -> bool {
    match <&[f32; BLOCK]>::try_from(block) {
        Ok(whole) => whole.iter().fold(false, |hit, &v| hit | (v > thresh)),
        Err(_) => block.iter().any(|&v| v > thresh),
    }
}

/// Puts into `out` (unordered) the `k` best candidates of `logits` with the
/// penalty overrides `ov` (sorted by id) applied, NaNs as `-inf`.
///
/// One streaming pass keeps the raw top-`(k + ov.len())` behind a rising
/// threshold; at most `ov.len()` penalized tokens can rank above any
/// unpenalized member of the true top-k, so replacing their raw entries by
/// the penalized values and selecting `k` again is exact.
fn top_k_into(logits: &[f32], ov: &[(u32, f32)], k: usize, out: &mut Vec<(u32, f32)>) {
    let kk = (k + ov.len()).min(logits.len());
    let cap = 2 * kk + TOPK_SLACK;
    out.clear();
    let mut thresh = f32::NEG_INFINITY;
    let mut have_thresh = false;
    for (b, block) in logits.chunks(BLOCK).enumerate() {
        // Once the threshold is set almost every block lies below it, and is skipped
        // with one vectorized comparison (a NaN is never above it, as below).
        if have_thresh && !any_above(block, thresh) {
            continue;
        }
        for (j, &v) in block.iter().enumerate() {
            // A value equal to the threshold loses the tie (larger id).
            if have_thresh && (v <= thresh || v.is_nan()) {
                continue;
            }
            let i = b * BLOCK + j;
            out.push((i as u32, if v.is_nan() { f32::NEG_INFINITY } else { v }));
            if out.len() == cap {
                out.select_nth_unstable_by(kk - 1, best_first);
                out.truncate(kk);
                thresh = out[kk - 1].1;
                have_thresh = true;
            }
        }
    }
    if !ov.is_empty() {
        out.retain(|c| ov.binary_search_by_key(&c.0, |o| o.0).is_err());
        let nan_free = |&(id, v): &(u32, f32)| (id, if v.is_nan() { f32::NEG_INFINITY } else { v });
        out.extend(ov.iter().map(nan_free));
    }
    if out.len() > k {
        out.select_nth_unstable_by(k - 1, best_first);
        out.truncate(k);
    }
}

/// Keeps the smallest best-first prefix of `cands` whose weight reaches
/// `target`, leaving it sorted best first. Sorts only as much as needed:
/// the best 256 first, then 4× more until the mass is reached.
fn top_p_truncate(cands: &mut Vec<(u32, f32)>, target: f64) {
    let len = cands.len();
    let mut m = len.min(256);
    loop {
        if m < len {
            cands.select_nth_unstable_by(m - 1, best_first);
        }
        cands[..m].sort_unstable_by(best_first);
        let mut cum = 0.0f64;
        for i in 0..m {
            cum += cands[i].1 as f64;
            if cum >= target {
                cands.truncate(i + 1);
                return;
            }
        }
        if m == len {
            return;
        }
        m = (m * 4).min(len);
    }
}

/// Lowest id among the candidates with the highest value (no NaNs).
fn first_max(cands: &[(u32, f32)]) -> u32 {
    let mut best = cands[0];
    for &c in &cands[1..] {
        if c.1 > best.1 || (c.1 == best.1 && c.0 < best.0) {
            best = c;
        }
    }
    best.0
}

/// Deterministic `e^x`: range reduction `x = k·ln2 + r`, `|r| <= ln2/2`, a
/// degree-13 Taylor polynomial (relative error < 1e-15) and an exact scaling
/// by `2^k`. Uses only IEEE-754 `+`, `*` and integer casts, so its result is
/// bit-identical on every platform. NaN and `x < -708` give 0.
pub fn exp_det(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // 0x3FE62E42FEE00000
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10; // 0x3DEA39EF35793C76
    if x.is_nan() || x < -708.0 {
        return 0.0;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    // Round to nearest (half away from zero) with casts, not libm `round`.
    let kf = x * std::f64::consts::LOG2_E;
    let ki = if kf >= 0.0 {
        (kf + 0.5) as i64
    } else {
        (kf - 0.5) as i64
    };
    let k = ki as f64;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Horner form of 1 + r(1 + r/2(1 + r/3(...(1 + r/13)))).
    const INV: [f64; 13] = [
        1.0,
        1.0 / 2.0,
        1.0 / 3.0,
        1.0 / 4.0,
        1.0 / 5.0,
        1.0 / 6.0,
        1.0 / 7.0,
        1.0 / 8.0,
        1.0 / 9.0,
        1.0 / 10.0,
        1.0 / 11.0,
        1.0 / 12.0,
        1.0 / 13.0,
    ];
    let mut poly = 1.0;
    for inv in INV.iter().rev() {
        poly = 1.0 + poly * r * inv;
    }
    let scale = f64::from_bits(((ki + 1023) as u64) << 52);
    poly * scale
}

#[cfg(test)]
mod tests;
