//! Repetition, presence and frequency penalties.
//!
//! Penalties touch at most `repeat_last_n` distinct tokens, so they are
//! computed as a short sparse list of `(id, penalized logit)` overrides
//! instead of rewriting (or copying) the whole logits vector.

use super::SamplingParams;

/// The penalized logit of a token seen `count > 0` times in the window:
/// 1. llama.cpp repetition penalty: `logit > 0 ? logit / p : logit * p`;
/// 2. OpenAI penalties: `logit -= presence + frequency * count`.
pub fn penalize(logit: f32, count: u32, params: &SamplingParams) -> f32 {
    let mut l = logit;
    if l > 0.0 {
        l /= params.repeat_penalty;
    } else {
        l *= params.repeat_penalty;
    }
    l - (params.presence_penalty + params.frequency_penalty * count as f32)
}

/// Fills `out` with `(id, penalized logit)` for every distinct id among the
/// last `params.repeat_last_n` ids of `history`, sorted by id. Ids outside
/// `logits` are ignored; NaN logits stay NaN. Empty when penalties are off.
///
/// `window` is scratch (a sorted copy of the window): once both vectors
/// have reached capacity `repeat_last_n`, nothing is allocated.
pub fn penalty_overrides(
    logits: &[f32],
    history: &[u32],
    params: &SamplingParams,
    window: &mut Vec<u32>,
    out: &mut Vec<(u32, f32)>,
) {
    out.clear();
    if !params.has_penalties() || history.is_empty() {
        return;
    }
    let start = history.len().saturating_sub(params.repeat_last_n);
    window.clear();
    window.extend_from_slice(&history[start..]);
    window.sort_unstable();
    let mut i = 0;
    while i < window.len() {
        let id = window[i];
        let mut j = i + 1;
        while j < window.len() && window[j] == id {
            j += 1;
        }
        let count = (j - i) as u32;
        i = j;
        if let Some(&logit) = logits.get(id as usize) {
            out.push((id, penalize(logit, count, params)));
        }
    }
}

/// Applies the penalties in place (convenience over [`penalty_overrides`]).
pub fn apply_penalties(logits: &mut [f32], history: &[u32], params: &SamplingParams) {
    let mut out = Vec::new();
    penalty_overrides(logits, history, params, &mut Vec::new(), &mut out);
    for (id, l) in out {
        logits[id as usize] = l;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_values() {
        let params = SamplingParams {
            repeat_penalty: 2.0,
            presence_penalty: 0.5,
            frequency_penalty: 0.25,
            repeat_last_n: 4,
            ..SamplingParams::default()
        };
        let mut logits = [2.0f32, -1.0, 3.0, 0.0, 5.0, 4.0];
        // The window is the last 4 ids, [1, 3, 9, 5]: id 4 and the first 1
        // fall outside it, and 9 is outside the vocabulary.
        apply_penalties(&mut logits, &[4, 1, 1, 3, 9, 5], &params);
        let want = [
            2.0,                    // unseen
            -2.0 - 0.5 - 0.25,      // negative: -1 * 2, then presence + 1 * freq
            3.0,                    // unseen
            0.0 * 2.0 - 0.5 - 0.25, // zero counts as non-positive
            5.0,                    // only outside the window
            4.0 / 2.0 - 0.5 - 0.25, // positive: / 2
        ];
        assert_eq!(logits, want);
        // Frequency scales with the count inside the window.
        let mut l = [1.0f32, -3.0];
        apply_penalties(&mut l, &[1, 1, 1], &params);
        assert_eq!(l, [1.0, -3.0 * 2.0 - 0.5 - 3.0 * 0.25]);
    }

    #[test]
    fn disabled_is_identity() {
        let mut l = [1.0f32, -2.0];
        let off = SamplingParams::default();
        apply_penalties(&mut l, &[0, 1, 1], &off);
        assert_eq!(l, [1.0, -2.0]);
        let zero_window = SamplingParams {
            repeat_penalty: 3.0,
            repeat_last_n: 0,
            ..off
        };
        apply_penalties(&mut l, &[0, 1, 1], &zero_window);
        assert_eq!(l, [1.0, -2.0]);
    }
}
