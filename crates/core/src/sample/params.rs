//! Sampling parameters and their validation.

/// How the next token is chosen from the model's logits.
///
/// The pipeline applied by [`Sampler`](super::Sampler) is, in order
/// (llama.cpp-like): penalties → (greedy ⇒ argmax) → top-k → temperature →
/// softmax → top-p → min-p → seeded random draw.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature. `0` means greedy decoding (argmax after
    /// penalties); higher values flatten the distribution. Must be `>= 0`.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens. `0` disables the filter.
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest set of most likely tokens whose
    /// cumulative probability reaches `top_p`. `1.0` disables it. Must be in
    /// `(0, 1]`.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` times the probability
    /// of the most likely token. `0` disables it. Must be in `[0, 1]`.
    pub min_p: f32,
    /// llama.cpp repetition penalty for tokens seen in the last
    /// `repeat_last_n` history ids: a positive logit is divided by it, a
    /// negative (or zero) logit multiplied by it. `1.0` disables it. Must be
    /// `> 0`.
    pub repeat_penalty: f32,
    /// How many of the most recent history ids the three penalties look at.
    /// `0` disables all penalties.
    pub repeat_last_n: usize,
    /// OpenAI presence penalty: subtracted once from the logit of every token
    /// that occurs in the window. `0` disables it.
    pub presence_penalty: f32,
    /// OpenAI frequency penalty: subtracted from a token's logit once per
    /// occurrence in the window. `0` disables it.
    pub frequency_penalty: f32,
    /// Seed of the sampler's PRNG: the same seed and the same logits always
    /// give the same tokens, on every platform.
    pub seed: u64,
    /// OpenAI/llama.cpp logit bias: `(token id, bias)` pairs added to the logits
    /// before everything else. A bias `<= -100` bans the token (`-inf`). Ids must be
    /// in the vocabulary (checked by the caller, which knows it); biases in
    /// `[-100, 100]`.
    pub logit_bias: Vec<(u32, f32)>,
}

impl Default for SamplingParams {
    /// Deterministic defaults: greedy decoding (`temperature = 0`), with
    /// llama.cpp's filter settings ready for when a temperature is set:
    /// `top_k = 40`, `top_p = 0.95`, `min_p = 0.05`; all penalties off
    /// (`repeat_penalty = 1.0`, presence/frequency `0`) with llama.cpp's
    /// window `repeat_last_n = 64`; `seed = 0`.
    fn default() -> Self {
        SamplingParams {
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: 0,
            logit_bias: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Greedy decoding: the defaults (see [`Default`]).
    pub fn greedy() -> Self {
        Self::default()
    }

    /// llama.cpp's default random sampling: the defaults with
    /// `temperature = 0.8` and the given seed.
    pub fn llama_cpp(seed: u64) -> Self {
        SamplingParams {
            temperature: 0.8,
            seed,
            ..Self::default()
        }
    }

    /// Checks every field, returning a message naming the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        fn finite(name: &str, v: f32) -> Result<(), String> {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number, got {v}"))
            }
        }
        finite("temperature", self.temperature)?;
        if self.temperature < 0.0 {
            let t = self.temperature;
            return Err(format!("temperature must be >= 0 (0 = greedy), got {t}"));
        }
        finite("top_p", self.top_p)?;
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            let p = self.top_p;
            return Err(format!("top_p must be in (0, 1] (1 = off), got {p}"));
        }
        finite("min_p", self.min_p)?;
        if !(0.0..=1.0).contains(&self.min_p) {
            let p = self.min_p;
            return Err(format!("min_p must be in [0, 1] (0 = off), got {p}"));
        }
        finite("repeat_penalty", self.repeat_penalty)?;
        if self.repeat_penalty <= 0.0 {
            let p = self.repeat_penalty;
            return Err(format!("repeat_penalty must be > 0 (1 = off), got {p}"));
        }
        finite("presence_penalty", self.presence_penalty)?;
        finite("frequency_penalty", self.frequency_penalty)?;
        for &(id, b) in &self.logit_bias {
            if !(-100.0..=100.0).contains(&b) {
                return Err(format!(
                    "logit_bias for token {id} must be in [-100, 100], got {b}"
                ));
            }
        }
        Ok(())
    }

    /// True when sampling reduces to argmax (after penalties): temperature
    /// `<= 0` or `top_k == 1`.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || self.top_k == 1
    }

    /// True when at least one penalty would change some logit.
    pub fn has_penalties(&self) -> bool {
        self.repeat_last_n > 0
            && (self.repeat_penalty != 1.0
                || self.presence_penalty != 0.0
                || self.frequency_penalty != 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_greedy() {
        let p = SamplingParams::default();
        assert!(p.validate().is_ok());
        assert!(p.is_greedy());
        assert!(!p.has_penalties());
        assert!(!SamplingParams::llama_cpp(1).is_greedy());
    }

    #[test]
    fn validate_rejects_bad_values() {
        let base = SamplingParams::llama_cpp(0);
        let bad: Vec<(SamplingParams, &str)> = vec![
            (
                SamplingParams {
                    temperature: -0.1,
                    ..base.clone()
                },
                "temperature",
            ),
            (
                SamplingParams {
                    temperature: f32::NAN,
                    ..base.clone()
                },
                "temperature",
            ),
            (
                SamplingParams {
                    temperature: f32::INFINITY,
                    ..base.clone()
                },
                "temperature",
            ),
            (
                SamplingParams {
                    top_p: 0.0,
                    ..base.clone()
                },
                "top_p",
            ),
            (
                SamplingParams {
                    top_p: 1.5,
                    ..base.clone()
                },
                "top_p",
            ),
            (
                SamplingParams {
                    top_p: f32::NAN,
                    ..base.clone()
                },
                "top_p",
            ),
            (
                SamplingParams {
                    min_p: -0.01,
                    ..base.clone()
                },
                "min_p",
            ),
            (
                SamplingParams {
                    min_p: 1.01,
                    ..base.clone()
                },
                "min_p",
            ),
            (
                SamplingParams {
                    min_p: f32::NAN,
                    ..base.clone()
                },
                "min_p",
            ),
            (
                SamplingParams {
                    repeat_penalty: 0.0,
                    ..base.clone()
                },
                "repeat_penalty",
            ),
            (
                SamplingParams {
                    repeat_penalty: f32::NAN,
                    ..base.clone()
                },
                "repeat_penalty",
            ),
            (
                SamplingParams {
                    presence_penalty: f32::NAN,
                    ..base.clone()
                },
                "presence_penalty",
            ),
            (
                SamplingParams {
                    frequency_penalty: f32::NEG_INFINITY,
                    ..base.clone()
                },
                "frequency_penalty",
            ),
            (
                SamplingParams {
                    logit_bias: vec![(3, 100.5)],
                    ..base.clone()
                },
                "logit_bias",
            ),
            (
                SamplingParams {
                    logit_bias: vec![(3, f32::NAN)],
                    ..base.clone()
                },
                "logit_bias",
            ),
        ];
        for (p, field) in bad {
            let err = p.validate().expect_err(&format!("{p:?} accepted"));
            assert!(err.starts_with(field), "{err:?} should name {field}");
        }
        let good = SamplingParams {
            top_p: 1.0,
            min_p: 0.0,
            presence_penalty: -2.0,
            ..base
        };
        assert!(good.validate().is_ok());
    }
}
