//! `auto`'s timing gate: wall time per emitted token of each drafter's passes against
//! plain passes, and how long a drafter that measured slower is paused. Used by
//! [`super::step`].

/// Passes `auto` skips drafting of a kind after its drafts were measured to lose.
pub(super) const GATE_PAUSE: usize = 16;

/// How much slower per token than plain passes a drafter's passes must be measured before
/// `auto` pauses it: single passes' times are noisy, and a pause costs a grounded prompt
/// its speedup for [`GATE_PAUSE`] passes.
pub(super) const GATE_MARGIN: f64 = 1.1;

/// [`GATE_MARGIN`] for FR drafting: none. Its passes gain little even when they pay (at the
/// AVX2 tier a fully accepted 7-token draft saves ~24% on Gemma 3: trunk steps are ~40%
/// of a decode step's time, more than their share of the bytes), so one measured slower
/// than plain decoding is paused.
pub(super) const FR_GATE_MARGIN: f64 = 1.0;

/// Wall time per emitted token of passes with drafts against passes without (exponential
/// means): `auto` stops drafting of a kind where it is measured to be slower than plain
/// decoding on this machine and model (SmolLM2's free text: prompt lookup drafts with ~30%
/// acceptance and loses ~8%), and tries again after [`GATE_PAUSE`] passes. Timing decides
/// only whether to draft, never which tokens come out.
///
/// The draft passes' rate is the ratio of the means of their times and of their tokens,
/// not the mean of each pass's time per token: a rejected draft's pass (one token, a long
/// pass) would otherwise weigh as much as a fully accepted one's eight tokens, and a few
/// early rejections on input-grounded text stopped a drafter that was paying well.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Gate {
    time: Option<f64>,
    tokens: Option<f64>,
    pub(super) samples: usize,
}

impl Gate {
    /// `m` ← an exponential mean of `m` and `x` (0.3 of the weight on `x`).
    pub(super) fn mean(m: &mut Option<f64>, x: f64) {
        *m = Some(m.map_or(x, |m| 0.7 * m + 0.3 * x));
    }

    /// A drafter's pass of `seconds` that emitted `tokens`.
    pub(super) fn record(&mut self, seconds: f64, tokens: usize) {
        Gate::mean(&mut self.time, seconds);
        Gate::mean(&mut self.tokens, tokens as f64);
        self.samples += 1;
    }

    /// Whether drafting is measured slower than `plain` per token.
    pub(super) fn losing(&self, plain: Option<f64>, margin: f64) -> bool {
        match (self.time, self.tokens, plain) {
            (Some(t), Some(n), Some(p)) => self.samples >= 3 && t > margin * p * n,
            _ => false,
        }
    }
}
